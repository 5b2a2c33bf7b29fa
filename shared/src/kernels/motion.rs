//! Global camera motion for stabilisation: a small grey analysis image per frame, a robust similarity
//! estimate between consecutive frames (corners on a grid, pyramidal Lucas–Kanade, RANSAC), trajectory
//! smoothing into per-frame corrections, and the zoom that hides the borders those corrections expose.
//!
//! All transforms are similarities about the frame centre `((w-1)/2, (h-1)/2)` in full-frame luma
//! pixels (y points down, so a positive angle turns the picture clockwise on screen):
//! `q = c + exp(scale)·R(angle)·(p − c) + (dx, dy)`. Scale is a natural log so that the `Default` of
//! every type is the identity and scales add along a trajectory.

use super::{for_rows, portable, Sample};
use crate::frame::{Frame, Samples};
use serde::{Deserialize, Serialize};

/// A grey analysis image, samples in 0..1 whatever the source depth.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Gray {
    pub width: usize,
    pub height: usize,
    pub data: Vec<f32>,
}

/// Box-downscales the luma plane by the integer factor that brings the longer side to at most
/// `max_side`, and returns it with that factor (analysis pixels → frame pixels). The crop left by a
/// non-dividing factor is split evenly so both images keep the same centre.
pub fn analysis_luma(frame: &Frame, max_side: usize) -> (Gray, f32) {
    let (w, h) = (frame.width, frame.height);
    let k = w.max(h).div_ceil(max_side.max(1)).max(1);
    let (aw, ah) = (w / k, h / k);
    let origin = ((w - aw * k) / 2, (h - ah * k) / 2);
    let norm = 1.0 / (frame.max_value() as f64 * (k * k) as f64);
    let mut data = vec![0f32; aw * ah];
    match &frame.planes[0].samples {
        Samples::U8(d) => box_down(d, w, k, origin, aw, norm, &mut data),
        Samples::U16(d) => box_down(d, w, k, origin, aw, norm, &mut data),
    }
    (
        Gray {
            width: aw,
            height: ah,
            data,
        },
        k as f32,
    )
}

fn box_down<T: Sample>(
    src: &[T],
    stride: usize,
    k: usize,
    (ox, oy): (usize, usize),
    aw: usize,
    norm: f64,
    out: &mut [f32],
) {
    for_rows(out, aw, |y, row| {
        let mut cols = vec![0u64; aw * k];
        for sy in 0..k {
            let line = &src[(oy + y * k + sy) * stride + ox..][..aw * k];
            for (c, &s) in cols.iter_mut().zip(line) {
                *c += s.to_u32() as u64;
            }
        }
        for (o, chunk) in row.iter_mut().zip(cols.chunks_exact(k)) {
            *o = (chunk.iter().sum::<u64>() as f64 * norm) as f32;
        }
    });
}

/// Frame-to-frame motion: the similarity mapping points of frame t−1 onto frame t (see the module
/// doc for the convention; `scale` is the natural log of the zoom factor).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Default)]
pub struct Motion {
    pub dx: f32,
    pub dy: f32,
    /// Radians, clockwise on screen.
    pub angle: f32,
    /// Natural log of the scale factor (0 = none).
    pub scale: f32,
    /// Fraction of the features found in t−1 that agree with the estimate (0 = no estimate).
    pub confidence: f32,
}

/// Radius of the Lucas–Kanade window (analysis pixels at every pyramid level).
const WIN: usize = 7;
const SIDE: usize = 2 * WIN + 1;
const AREA: usize = SIDE * SIDE;
/// Smallest mean structure-tensor eigenvalue worth tracking (flat or nearly flat areas).
const MIN_EIG: f32 = 1e-6;
/// Fewer agreeing features than this and the estimate is not trusted.
const MIN_INLIERS: usize = 8;
/// RANSAC inlier distance in analysis pixels; loose enough for rolling-shutter wobble.
const INLIER_PX: f64 = 1.0;

struct Img {
    w: usize,
    h: usize,
    d: Vec<f32>,
}

impl Img {
    /// 2×2 box halving; pixel `i` covers `2i, 2i+1` of the level below.
    fn half(&self) -> Img {
        let (w, h) = (self.w / 2, self.h / 2);
        let mut d = vec![0f32; w * h];
        for_rows(&mut d, w, |y, row| {
            let a = &self.d[2 * y * self.w..];
            let b = &self.d[(2 * y + 1) * self.w..];
            for (x, o) in row.iter_mut().enumerate() {
                *o = 0.25 * (a[2 * x] + a[2 * x + 1] + b[2 * x] + b[2 * x + 1]);
            }
        });
        Img { w, h, d }
    }

    /// Scharr gradients (per pixel), edges replicated.
    fn gradients(&self) -> (Vec<f32>, Vec<f32>) {
        let (w, h) = (self.w, self.h);
        let mut g = vec![(0f32, 0f32); w * h];
        for_rows(&mut g, w, |y, row| {
            let up = &self.d[y.saturating_sub(1) * w..][..w];
            let mid = &self.d[y * w..][..w];
            let dn = &self.d[(y + 1).min(h - 1) * w..][..w];
            for (x, o) in row.iter_mut().enumerate() {
                let (l, r) = (x.saturating_sub(1), (x + 1).min(w - 1));
                let gx = 3.0 * (up[r] - up[l] + dn[r] - dn[l]) + 10.0 * (mid[r] - mid[l]);
                let gy = 3.0 * (dn[l] - up[l] + dn[r] - up[r]) + 10.0 * (dn[x] - up[x]);
                *o = (gx / 32.0, gy / 32.0);
            }
        });
        g.into_iter().unzip()
    }
}

/// One level of the previous frame's pyramid: image and its gradients.
struct Level {
    img: Img,
    gx: Vec<f32>,
    gy: Vec<f32>,
}

/// A `SIDE`×`SIDE` bilinear patch centred on `(x, y)`. Every tap shares the same fraction, so the
/// weights are computed once; coordinates are clamped at the borders.
fn patch(d: &[f32], w: usize, h: usize, x: f32, y: f32, out: &mut [f32; AREA]) {
    let (x0f, y0f) = ((x - WIN as f32).floor(), (y - WIN as f32).floor());
    let (fx, fy) = (x - WIN as f32 - x0f, y - WIN as f32 - y0f);
    let (x0, y0) = (x0f as isize, y0f as isize);
    let w00 = (1.0 - fx) * (1.0 - fy);
    let w01 = fx * (1.0 - fy);
    let w10 = (1.0 - fx) * fy;
    let w11 = fx * fy;
    if x0 >= 0 && y0 >= 0 && x0 as usize + SIDE < w && y0 as usize + SIDE < h {
        let (x0, y0) = (x0 as usize, y0 as usize);
        for (j, orow) in out.chunks_exact_mut(SIDE).enumerate() {
            let r0 = &d[(y0 + j) * w + x0..][..SIDE + 1];
            let r1 = &d[(y0 + j + 1) * w + x0..][..SIDE + 1];
            for (i, o) in orow.iter_mut().enumerate() {
                *o = w00 * r0[i] + w01 * r0[i + 1] + w10 * r1[i] + w11 * r1[i + 1];
            }
        }
    } else {
        let cx = |i: isize| i.clamp(0, w as isize - 1) as usize;
        let cy = |j: isize| j.clamp(0, h as isize - 1) as usize;
        for (j, orow) in out.chunks_exact_mut(SIDE).enumerate() {
            let r0 = cy(y0 + j as isize) * w;
            let r1 = cy(y0 + j as isize + 1) * w;
            for (i, o) in orow.iter_mut().enumerate() {
                let (a, b) = (cx(x0 + i as isize), cx(x0 + i as isize + 1));
                *o = w00 * d[r0 + a] + w01 * d[r0 + b] + w10 * d[r1 + a] + w11 * d[r1 + b];
            }
        }
    }
}

/// Smaller eigenvalue of the 2×2 symmetric matrix `[a b; b c]`.
fn min_eig(a: f32, b: f32, c: f32) -> f32 {
    0.5 * (a + c) - (0.25 * (a - c) * (a - c) + b * b).sqrt()
}

/// Pyramidal Lucas–Kanade from level `top` down, starting from the level-0 flow `init`. Patches are
/// compared mean-removed so exposure changes between frames do not bias the flow.
fn track(
    prev: &[Level],
    cur: &[Img],
    p: (f32, f32),
    init: (f32, f32),
    top: usize,
) -> Option<(f32, f32)> {
    let mut t = [0f32; AREA];
    let mut gx = [0f32; AREA];
    let mut gy = [0f32; AREA];
    let mut j = [0f32; AREA];
    let mut d = (0f32, 0f32);
    for l in (0..=top).rev() {
        let sc = 0.5f32.powi(l as i32);
        let (px, py) = ((p.0 + 0.5) * sc - 0.5, (p.1 + 0.5) * sc - 0.5);
        d = if l == top {
            (init.0 * sc, init.1 * sc)
        } else {
            (d.0 * 2.0, d.1 * 2.0)
        };
        let lv = &prev[l];
        let (w, h) = (lv.img.w, lv.img.h);
        patch(&lv.img.d, w, h, px, py, &mut t);
        patch(&lv.gx, w, h, px, py, &mut gx);
        patch(&lv.gy, w, h, px, py, &mut gy);
        let (mut sxx, mut sxy, mut syy, mut sx, mut sy) = (0f32, 0f32, 0f32, 0f32, 0f32);
        for i in 0..AREA {
            sxx += gx[i] * gx[i];
            sxy += gx[i] * gy[i];
            syy += gy[i] * gy[i];
            sx += gx[i];
            sy += gy[i];
        }
        let mean_t = t.iter().sum::<f32>() / AREA as f32;
        if min_eig(sxx, sxy, syy) / (AREA as f32) < MIN_EIG {
            if l == 0 {
                return None;
            }
            continue;
        }
        let det = sxx * syy - sxy * sxy;
        let (max_iter, eps) = if l == 0 { (30, 1e-3) } else { (15, 1e-2) };
        for _ in 0..max_iter {
            let (qx, qy) = (px + d.0, py + d.1);
            if !(qx > -(WIN as f32)
                && qy > -(WIN as f32)
                && qx < (w + WIN) as f32
                && qy < (h + WIN) as f32)
            {
                return None;
            }
            patch(&cur[l].d, w, h, qx, qy, &mut j);
            let mean_j = j.iter().sum::<f32>() / AREA as f32;
            // Σ g·(t − j − (mean_t − mean_j)), with the mean term folded in through Σg.
            let (mut bx, mut by) = (0f32, 0f32);
            for i in 0..AREA {
                let e = t[i] - j[i];
                bx += gx[i] * e;
                by += gy[i] * e;
            }
            let off = mean_t - mean_j;
            bx -= sx * off;
            by -= sy * off;
            let ddx = (syy * bx - sxy * by) / det;
            let ddy = (sxx * by - sxy * bx) / det;
            d = (d.0 + ddx, d.1 + ddy);
            if ddx * ddx + ddy * ddy < eps * eps {
                break;
            }
        }
    }
    Some(d)
}

/// Best Shi–Tomasi corner per cell of a 16×9 grid (9×16 for portrait), so the fit sees the whole
/// frame rather than one textured corner of it.
fn features(lv: &Level) -> Vec<(f32, f32)> {
    let (w, h) = (lv.img.w, lv.img.h);
    let margin = WIN + 1;
    if w <= 2 * margin || h <= 2 * margin {
        return Vec::new();
    }
    // 5×5 box sums of the structure tensor (separable, edges clamped).
    let prod: Vec<[f32; 3]> = lv
        .gx
        .iter()
        .zip(&lv.gy)
        .map(|(&x, &y)| [x * x, x * y, y * y])
        .collect();
    let mut horiz = vec![[0f32; 3]; w * h];
    for_rows(&mut horiz, w, |y, row| {
        let line = &prod[y * w..][..w];
        for (x, o) in row.iter_mut().enumerate() {
            for s in &line[x.saturating_sub(2)..(x + 3).min(w)] {
                for c in 0..3 {
                    o[c] += s[c];
                }
            }
        }
    });
    let mut resp = vec![0f32; w * h];
    for_rows(&mut resp, w, |y, row| {
        let mut acc = vec![[0f32; 3]; w];
        for k in y.saturating_sub(2)..(y + 3).min(h) {
            for (a, s) in acc.iter_mut().zip(&horiz[k * w..][..w]) {
                for c in 0..3 {
                    a[c] += s[c];
                }
            }
        }
        for (o, a) in row.iter_mut().zip(acc) {
            *o = min_eig(a[0], a[1], a[2]) / 25.0;
        }
    });
    let (cols, rows) = if w >= h { (16, 9) } else { (9, 16) };
    let mut best = Vec::with_capacity(cols * rows);
    for cy in 0..rows {
        let y0 = (cy * h / rows).max(margin);
        let y1 = ((cy + 1) * h / rows).min(h - margin);
        for cx in 0..cols {
            let x0 = (cx * w / cols).max(margin);
            let x1 = ((cx + 1) * w / cols).min(w - margin);
            let mut top = (0f32, 0, 0);
            for y in y0..y1 {
                for x in x0..x1 {
                    let r = resp[y * w + x];
                    if r > top.0 {
                        top = (r, x, y);
                    }
                }
            }
            if top.0 > 0.0 {
                best.push(top);
            }
        }
    }
    let strongest = best.iter().fold(0f32, |m, b| m.max(b.0));
    let floor = (strongest * 0.01).max(MIN_EIG);
    best.into_iter()
        .filter(|b| b.0 >= floor)
        .map(|b| (b.1 as f32, b.2 as f32))
        .collect()
}

/// Integer translation minimising the mean absolute difference at the coarsest level, as the
/// starting flow for every track: shakes larger than the LK window still converge.
fn translation_prior(prev: &Img, cur: &Img, radius: usize) -> (f32, f32) {
    let (w, h) = (prev.w, prev.h);
    let r = radius.min(w / 4).min(h / 4) as isize;
    let mut best = (f32::INFINITY, 0isize, 0isize);
    for dy in -r..=r {
        for dx in -r..=r {
            let mut sum = 0f32;
            for y in r..h as isize - r {
                let a = &prev.d[y as usize * w..][..w];
                let b = &cur.d[(y + dy) as usize * w..][..w];
                for x in r..w as isize - r {
                    sum += (a[x as usize] - b[(x + dx) as usize]).abs();
                }
            }
            // Prefer the smaller shift on ties (flat or periodic pictures).
            let sum = sum * (1.0 + 1e-4 * (dx * dx + dy * dy) as f32);
            if sum < best.0 {
                best = (sum, dx, dy);
            }
        }
    }
    (best.1 as f32, best.2 as f32)
}

/// `dst = [a −b; b a]·src + t` in centred analysis coordinates.
#[derive(Clone, Copy, Debug)]
struct Fit {
    a: f64,
    b: f64,
    tx: f64,
    ty: f64,
}

impl Fit {
    fn err2(&self, s: (f32, f32), d: (f32, f32)) -> f64 {
        let (x, y) = (s.0 as f64, s.1 as f64);
        let ex = self.a * x - self.b * y + self.tx - d.0 as f64;
        let ey = self.b * x + self.a * y + self.ty - d.1 as f64;
        ex * ex + ey * ey
    }
}

/// Least-squares similarity over the pairs `idx` (closed form after removing the centroids).
fn ls_fit(src: &[(f32, f32)], dst: &[(f32, f32)], idx: &[usize]) -> Option<Fit> {
    if idx.len() < 2 {
        return None;
    }
    let n = idx.len() as f64;
    let (mut msx, mut msy, mut mdx, mut mdy) = (0f64, 0f64, 0f64, 0f64);
    for &i in idx {
        msx += src[i].0 as f64;
        msy += src[i].1 as f64;
        mdx += dst[i].0 as f64;
        mdy += dst[i].1 as f64;
    }
    let (msx, msy, mdx, mdy) = (msx / n, msy / n, mdx / n, mdy / n);
    let (mut num_a, mut num_b, mut den) = (0f64, 0f64, 0f64);
    for &i in idx {
        let (x, y) = (src[i].0 as f64 - msx, src[i].1 as f64 - msy);
        let (u, v) = (dst[i].0 as f64 - mdx, dst[i].1 as f64 - mdy);
        num_a += x * u + y * v;
        num_b += x * v - y * u;
        den += x * x + y * y;
    }
    if den < 1e-6 {
        return None;
    }
    let (a, b) = (num_a / den, num_b / den);
    Some(Fit {
        a,
        b,
        tx: mdx - (a * msx - b * msy),
        ty: mdy - (b * msx + a * msy),
    })
}

/// A fit a shaking camera can plausibly produce (rejects degenerate RANSAC samples).
fn plausible(f: &Fit) -> bool {
    let s = portable::hypot(f.a, f.b);
    (0.75..1.33).contains(&s) && portable::atan2(f.b, f.a).abs() < 0.35
}

/// MSAC over pairs of points, then iterated least squares on the inliers. Returns the fit and its
/// inliers; a fixed-seed LCG keeps results reproducible.
fn ransac(src: &[(f32, f32)], dst: &[(f32, f32)], span: f32) -> Option<(Fit, Vec<usize>)> {
    let n = src.len();
    if n < MIN_INLIERS {
        return None;
    }
    let t2 = INLIER_PX * INLIER_PX;
    let min_sep2 = (0.1 * span) * (0.1 * span);
    let mut state = 0x853c_49e6_748f_ea9bu64;
    let mut next = |m: usize| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((state >> 33) as usize) % m
    };
    let mut best: Option<(f64, Fit)> = None;
    for _ in 0..300 {
        let i = next(n);
        let j = next(n);
        let (ex, ey) = (src[i].0 - src[j].0, src[i].1 - src[j].1);
        if i == j || ex * ex + ey * ey < min_sep2 {
            continue;
        }
        let Some(f) = ls_fit(src, dst, &[i, j]) else {
            continue;
        };
        if !plausible(&f) {
            continue;
        }
        let cost: f64 = (0..n).map(|k| f.err2(src[k], dst[k]).min(t2)).sum();
        if best.as_ref().is_none_or(|b| cost < b.0) {
            best = Some((cost, f));
        }
    }
    let mut fit = best?.1;
    let mut inliers = Vec::new();
    for _ in 0..4 {
        let next_in: Vec<usize> = (0..n).filter(|&k| fit.err2(src[k], dst[k]) < t2).collect();
        if next_in.len() < MIN_INLIERS {
            return None;
        }
        if next_in == inliers {
            break;
        }
        fit = ls_fit(src, dst, &next_in)?;
        inliers = next_in;
    }
    plausible(&fit).then_some((fit, inliers))
}

/// Robust global motion from `prev` to `cur` (analysis images of the same size); `px_scale` is the
/// factor `analysis_luma` returned. Independently moving objects end up as RANSAC outliers; flat or
/// unrelated pictures give the identity with confidence 0 or near it.
pub fn estimate(prev: &Gray, cur: &Gray, px_scale: f32) -> Motion {
    let (w, h) = (prev.width, prev.height);
    if (w, h) != (cur.width, cur.height)
        || prev.data.len() != w * h
        || cur.data.len() != w * h
        || w < 32
        || h < 32
    {
        return Motion::default();
    }
    let mut top = 0;
    while top < 2 && (w >> (top + 1)) >= 40 && (h >> (top + 1)) >= 24 {
        top += 1;
    }
    let level = |img: Img| {
        let (gx, gy) = img.gradients();
        Level { img, gx, gy }
    };
    let mut plev = vec![level(Img {
        w,
        h,
        d: prev.data.clone(),
    })];
    let mut clev = vec![Img {
        w,
        h,
        d: cur.data.clone(),
    }];
    while plev.len() <= top {
        let p = plev[plev.len() - 1].img.half();
        let c = clev[clev.len() - 1].half();
        plev.push(level(p));
        clev.push(c);
    }
    let pts = features(&plev[0]);
    if pts.len() < MIN_INLIERS {
        return Motion::default();
    }
    let prior = translation_prior(&plev[top].img, &clev[top], 16);
    let prior = (prior.0 * (1 << top) as f32, prior.1 * (1 << top) as f32);
    let flows: Vec<Option<(f32, f32)>> = pts
        .iter()
        .map(|&p| track(&plev, &clev, p, prior, top))
        .collect();
    let (cx, cy) = ((w as f32 - 1.0) * 0.5, (h as f32 - 1.0) * 0.5);
    let span = w.max(h) as f32;
    let fit_all = |flows: &[Option<(f32, f32)>]| {
        let mut src = Vec::with_capacity(pts.len());
        let mut dst = Vec::with_capacity(pts.len());
        let mut which = Vec::with_capacity(pts.len());
        for (k, (p, f)) in pts.iter().zip(flows).enumerate() {
            if let Some(f) = f {
                src.push((p.0 - cx, p.1 - cy));
                dst.push((p.0 - cx + f.0, p.1 - cy + f.1));
                which.push(k);
            }
        }
        ransac(&src, &dst, span)
            .map(|(fit, inl)| (fit, inl.into_iter().map(|i| which[i]).collect::<Vec<_>>()))
    };
    let Some((mut fit, mut inliers)) = fit_all(&flows) else {
        return Motion::default();
    };
    // Re-track the points that disagreed, starting from the fitted motion: far corners under
    // rotation may have converged to the wrong place from the translation-only start.
    if inliers.len() < pts.len() {
        let mut flows = flows;
        let mut is_in = vec![false; pts.len()];
        for &k in &inliers {
            is_in[k] = true;
        }
        for (k, p) in pts.iter().enumerate() {
            if !is_in[k] {
                let (x, y) = ((p.0 - cx) as f64, (p.1 - cy) as f64);
                let guess = (
                    (fit.a * x - fit.b * y + fit.tx - x) as f32,
                    (fit.b * x + fit.a * y + fit.ty - y) as f32,
                );
                flows[k] = track(&plev, &clev, *p, guess, top.min(1));
            }
        }
        if let Some((f, i)) = fit_all(&flows) {
            if i.len() >= inliers.len() {
                fit = f;
                inliers = i;
            }
        }
    }
    Motion {
        dx: fit.tx as f32 * px_scale,
        dy: fit.ty as f32 * px_scale,
        angle: portable::atan2(fit.b, fit.a) as f32,
        scale: portable::ln(portable::hypot(fit.a, fit.b)) as f32,
        confidence: inliers.len() as f32 / pts.len() as f32,
    }
}

/// Per-frame transform taking a frame from where the camera put it to where the smoothed camera
/// would have (same convention as [`Motion`]; `scale` is a natural log).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Default)]
pub struct Correction {
    pub dx: f32,
    pub dy: f32,
    pub angle: f32,
    pub scale: f32,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
pub enum SmoothMode {
    /// Gaussian low-pass of the camera path (sigma = radius/3) over ±`radius_frames`.
    Smooth { radius_frames: usize },
    /// Lock the camera where it was on the first frame.
    Tripod,
}

/// Motions whose confidence is below this are taken as no motion (scene cuts, flat frames), so one
/// bad estimate cannot throw the whole rest of the path off. Low on purpose: handheld footage with
/// motion blur and a moving subject often agrees on only 10–20 % of its features and is still right
/// (0.2 left 9 % of the cockatoo clip's shakes uncorrected; unrelated frames score 0).
pub const MIN_CONFIDENCE: f32 = 0.08;

/// Similarity in f64 for accumulating thousands of frames: `q = e^s·R(a)·p + t` (centred).
#[derive(Clone, Copy, Debug, PartialEq, Default)]
struct Sim {
    x: f64,
    y: f64,
    a: f64,
    s: f64,
}

impl Sim {
    /// `self ∘ inner`: apply `inner` first.
    fn then_after(self, inner: Sim) -> Sim {
        let (sin, cos) = portable::sin_cos(self.a);
        let k = portable::exp(self.s);
        Sim {
            x: k * (cos * inner.x - sin * inner.y) + self.x,
            y: k * (sin * inner.x + cos * inner.y) + self.y,
            a: self.a + inner.a,
            s: self.s + inner.s,
        }
    }

    fn inverse(self) -> Sim {
        let (sin, cos) = portable::sin_cos(-self.a);
        let k = portable::exp(-self.s);
        Sim {
            x: -k * (cos * self.x - sin * self.y),
            y: -k * (sin * self.x + cos * self.y),
            a: -self.a,
            s: -self.s,
        }
    }
}

/// Gaussian smoothing as a local linear fit: identical to the plain weighted mean inside the clip,
/// and at the ends (where the window is one-sided) it follows a pan instead of lagging or drifting.
fn smooth_path(v: &[f64], radius: usize) -> Vec<f64> {
    let n = v.len();
    if radius == 0 || n < 3 {
        return v.to_vec();
    }
    let sigma = radius as f64 / 3.0;
    let wk: Vec<f64> = (0..=radius)
        .map(|k| portable::exp(-((k * k) as f64) / (2.0 * sigma * sigma)))
        .collect();
    (0..n)
        .map(|t| {
            let (mut s0, mut s1, mut s2, mut m0, mut m1) = (0f64, 0f64, 0f64, 0f64, 0f64);
            for (i, &vi) in v
                .iter()
                .enumerate()
                .take((t + radius + 1).min(n))
                .skip(t.saturating_sub(radius))
            {
                let k = i as f64 - t as f64;
                let w = wk[i.abs_diff(t)];
                s0 += w;
                s1 += w * k;
                s2 += w * k * k;
                m0 += w * vi;
                m1 += w * k * vi;
            }
            let det = s0 * s2 - s1 * s1;
            if det > 1e-9 * s0 * s2 {
                (s2 * m0 - s1 * m1) / det
            } else {
                m0 / s0
            }
        })
        .collect()
}

/// Most rounds of pulling the path into the corridor in [`smooth_within`]. Each round removes only
/// part of the overshoot (the pull is spread over the window, so its peak is lower), which can take
/// a hundred rounds; one costs frames × window, far below the analysis itself.
const CORRIDOR_ROUNDS: usize = 400;

/// Like [`smooth`], but the smoothed path stays within `bound` (x, y pixels) of the real one, so no
/// correction is larger than the crop can hide. Where the camera moves on purpose (a whip pan) a
/// plain low-pass lags it by far more than any crop: the frames around it would show wide borders
/// and the output would jump where they are clamped. Here the overshoot past the corridor is itself
/// smoothed and added back until the path fits, so it follows such moves smoothly; away from them
/// the path is exactly [`smooth`]'s (an unbounded corridor gives `smooth`).
pub fn smooth_within(motions: &[Motion], mode: SmoothMode, bound: (f32, f32)) -> Vec<Correction> {
    let path = camera_path(motions);
    let (bx, by) = (bound.0.max(0.0) as f64, bound.1.max(0.0) as f64);
    let corridor = |real: &[f64], b: f64, radius: Option<usize>| -> Vec<f64> {
        let clamp = |v: &[f64]| -> Vec<f64> {
            v.iter()
                .zip(real)
                .map(|(s, r)| s.clamp(r - b, r + b))
                .collect()
        };
        let Some(radius) = radius else {
            return clamp(&vec![0.0; real.len()]);
        };
        let base = smooth_path(real, radius);
        // The pull accumulated so far, spread over the window before it is added.
        let mut pull = vec![0.0; real.len()];
        let mut s = clamp(&base);
        for _ in 0..CORRIDOR_ROUNDS {
            let free: Vec<f64> = base
                .iter()
                .zip(smooth_path(&pull, radius))
                .map(|(b, p)| b + p)
                .collect();
            s = clamp(&free);
            let mut moved = false;
            for ((p, c), f) in pull.iter_mut().zip(&s).zip(&free) {
                if (c - f).abs() > 1e-9 {
                    *p += c - f;
                    moved = true;
                }
            }
            if !moved {
                break;
            }
        }
        s
    };
    let radius = match mode {
        SmoothMode::Tripod => None,
        SmoothMode::Smooth { radius_frames } => Some(radius_frames),
    };
    let comp = |f: fn(&Sim) -> f64| path.iter().map(f).collect::<Vec<_>>();
    let x = corridor(&comp(|p| p.x), bx, radius);
    let y = corridor(&comp(|p| p.y), by, radius);
    let (a, s) = match radius {
        None => (vec![0.0; path.len()], vec![0.0; path.len()]),
        Some(r) => (
            smooth_path(&comp(|p| p.a), r),
            smooth_path(&comp(|p| p.s), r),
        ),
    };
    let target: Vec<Sim> = (0..path.len())
        .map(|i| Sim {
            x: x[i],
            y: y[i],
            a: a[i],
            s: s[i],
        })
        .collect();
    corrections(&path, &target)
}

/// The camera's position at every frame: the motions accumulated from frame 0 (the origin; its
/// motion is ignored), those under [`MIN_CONFIDENCE`] counted as still.
fn camera_path(motions: &[Motion]) -> Vec<Sim> {
    let mut path = Vec::with_capacity(motions.len());
    let mut cur = Sim::default();
    for (t, m) in motions.iter().enumerate() {
        if t > 0 && m.confidence >= MIN_CONFIDENCE {
            let step = Sim {
                x: m.dx as f64,
                y: m.dy as f64,
                a: m.angle as f64,
                s: m.scale as f64,
            };
            cur = step.then_after(cur);
        }
        path.push(cur);
    }
    path
}

/// Per frame, the transform from the real camera position to the target one.
fn corrections(path: &[Sim], target: &[Sim]) -> Vec<Correction> {
    path.iter()
        .zip(target)
        .map(|(p, t)| {
            let c = t.then_after(p.inverse());
            Correction {
                dx: c.x as f32,
                dy: c.y as f32,
                angle: c.a as f32,
                scale: c.s as f32,
            }
        })
        .collect()
}

/// Integrates frame-to-frame motions into the camera path, smooths it, and returns per frame the
/// correction from the actual to the smoothed position. `motions[0]` is ignored (frame 0 is the
/// origin); motions under [`MIN_CONFIDENCE`] count as still.
pub fn smooth(motions: &[Motion], mode: SmoothMode) -> Vec<Correction> {
    smooth_within(motions, mode, (f32::INFINITY, f32::INFINITY))
}

/// Smallest zoom ≥ 1 (at most `max_zoom`) at which every corrected frame still covers the whole
/// output: each output corner, mapped back through zoom and correction, must land inside the source.
pub fn auto_zoom(corrections: &[Correction], width: usize, height: usize, max_zoom: f32) -> f32 {
    let max_zoom = max_zoom.max(1.0);
    if width < 2 || height < 2 {
        return 1.0;
    }
    let (hx, hy) = ((width as f64 - 1.0) * 0.5, (height as f64 - 1.0) * 0.5);
    // Source point of output corner q at u = 1/zoom: A·(u·q − t), A = e^−s·R(−a). Each coordinate is
    // linear in u, so every bound is solved directly.
    let mut u_max = 1f64;
    for c in corrections {
        let (sin, cos) = portable::sin_cos(-(c.angle as f64));
        let k = portable::exp(-(c.scale as f64));
        let apply = |x: f64, y: f64| (k * (cos * x - sin * y), k * (sin * x + cos * y));
        let b = apply(c.dx as f64, c.dy as f64);
        if b.0.abs() > hx || b.1.abs() > hy {
            return max_zoom;
        }
        for (qx, qy) in [(-hx, -hy), (hx, -hy), (-hx, hy), (hx, hy)] {
            let a = apply(qx, qy);
            for (ai, bi, hi) in [(a.0, b.0, hx), (a.1, b.1, hy)] {
                // Need −hi ≤ u·ai − bi ≤ hi.
                if ai > 1e-12 {
                    u_max = u_max.min((hi + bi) / ai);
                } else if ai < -1e-12 {
                    u_max = u_max.min((bi - hi) / ai);
                }
            }
        }
    }
    if u_max <= 0.0 {
        return max_zoom;
    }
    ((1.0 / u_max) as f32).clamp(1.0, max_zoom)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{ChromaLayout, ColourInfo, Plane};
    use crate::kernels::warp::{warp, EdgeFill};

    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> f32 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (self.0 >> 40) as f32 / (1u64 << 24) as f32
        }
        fn range(&mut self, a: f32, b: f32) -> f32 {
            a + (b - a) * self.next()
        }
    }

    /// Sinusoids plus soft blobs: trackable at every scale and not periodic.
    fn texture(w: usize, h: usize, seed: u64) -> Vec<f32> {
        let mut rng = Lcg(seed);
        let mut v = vec![0.5f32; w * h];
        let waves: Vec<(f32, f32, f32, f32)> = (0..5)
            .map(|_| {
                let ang = rng.range(0.0, std::f32::consts::PI);
                let f = std::f32::consts::TAU / rng.range(40.0, 250.0);
                (
                    f * ang.cos(),
                    f * ang.sin(),
                    rng.range(0.0, 6.0),
                    rng.range(0.02, 0.06),
                )
            })
            .collect();
        for y in 0..h {
            for x in 0..w {
                let mut s = 0.0;
                for &(fx, fy, ph, a) in &waves {
                    s += a * (fx * x as f32 + fy * y as f32 + ph).sin();
                }
                v[y * w + x] += s;
            }
        }
        let blobs = w * h / 900;
        for _ in 0..blobs {
            let (bx, by) = (rng.range(0.0, w as f32), rng.range(0.0, h as f32));
            let r = rng.range(4.0, 24.0);
            let amp = rng.range(-0.3, 0.3);
            let (x0, x1) = ((bx - r).max(0.0) as usize, ((bx + r) as usize + 1).min(w));
            let (y0, y1) = ((by - r).max(0.0) as usize, ((by + r) as usize + 1).min(h));
            for y in y0..y1 {
                for x in x0..x1 {
                    let d2 = ((x as f32 - bx).powi(2) + (y as f32 - by).powi(2)) / (r * r);
                    if d2 < 1.0 {
                        v[y * w + x] += amp * (1.0 - d2) * (1.0 - d2);
                    }
                }
            }
        }
        v
    }

    fn gray_frame(w: usize, h: usize, v: &[f32]) -> Frame {
        let mut f = Frame::new(w, h, ChromaLayout::Gray, 8, ColourInfo::default());
        f.planes[0] = Plane {
            width: w,
            height: h,
            samples: Samples::U8(
                v.iter()
                    .map(|&s| (16.0 + 219.0 * s).round().clamp(0.0, 255.0) as u8)
                    .collect(),
            ),
        };
        f
    }

    fn crop(f: &Frame, x0: usize, y0: usize, w: usize, h: usize) -> Frame {
        let Samples::U8(d) = &f.planes[0].samples else {
            panic!()
        };
        let mut out = Vec::with_capacity(w * h);
        for y in y0..y0 + h {
            out.extend_from_slice(&d[y * f.width + x0..][..w]);
        }
        let mut g = Frame::new(w, h, ChromaLayout::Gray, 8, f.colour);
        g.planes[0].samples = Samples::U8(out);
        g
    }

    const W: usize = 1280;
    const H: usize = 720;
    const M: usize = 96;

    /// A pair of 1280×720 frames related by `c` (warped with margin, then cropped so no fill shows).
    fn pair(c: Correction, seed: u64) -> (Frame, Frame) {
        pair_sized(c, seed, W, H)
    }

    fn pair_sized(c: Correction, seed: u64, w: usize, h: usize) -> (Frame, Frame) {
        let (bw, bh) = (w + 2 * M, h + 2 * M);
        let big = gray_frame(bw, bh, &texture(bw, bh, seed));
        let moved = warp(&big, &c, 1.0, EdgeFill::Clamp);
        (crop(&big, M, M, w, h), crop(&moved, M, M, w, h))
    }

    fn run(a: &Frame, b: &Frame) -> Motion {
        let (ga, k) = analysis_luma(a, 480);
        let (gb, _) = analysis_luma(b, 480);
        estimate(&ga, &gb, k)
    }

    fn check(c: Correction, m: Motion) {
        let deg = |r: f32| r.to_degrees();
        assert!(
            (m.dx - c.dx).abs() < 0.25
                && (m.dy - c.dy).abs() < 0.25
                && (deg(m.angle) - deg(c.angle)).abs() < 0.05
                && (m.scale - c.scale).abs() < 5e-4
                && m.confidence > 0.7,
            "expected {c:?}, got {m:?}"
        );
    }

    #[test]
    fn analysis_luma_scales_and_normalises() {
        let mut f = Frame::new(1920, 1080, ChromaLayout::Yuv420, 10, ColourInfo::default());
        f.planes[0].samples = Samples::U16(vec![1023; 1920 * 1080]);
        let (g, k) = analysis_luma(&f, 480);
        assert_eq!((g.width, g.height, k), (480, 270, 4.0));
        assert!(g.data.iter().all(|&v| (v - 1.0).abs() < 1e-6));
        let (g, k) = analysis_luma(&f, 4000);
        assert_eq!((g.width, k), (1920, 1.0));
    }

    #[test]
    fn recovers_known_motions() {
        let cases = [
            (0.0, 0.0, 0.0, 0.0),
            (3.3, -1.7, 0.0, 0.0),
            (24.6, -18.2, 0.0, 0.0),
            (-25.0, 12.4, 0.0, 0.0),
            (0.0, 0.0, 2.0, 0.0),
            (10.5, 7.25, -1.5, 0.0),
            (-20.3, -24.1, 2.0, 0.0),
            (4.4, -2.2, 0.5, 0.015),
            (-28.0, 21.5, -3.0, 0.0),
        ];
        for (i, &(dx, dy, deg, scale)) in cases.iter().enumerate() {
            let c = Correction {
                dx,
                dy,
                angle: f32::to_radians(deg),
                scale,
            };
            let (a, b) = pair(c, 7 + i as u64);
            check(c, run(&a, &b));
        }
    }

    #[test]
    fn moving_foreground_does_not_bias() {
        let c = Correction {
            dx: 7.3,
            dy: -4.6,
            angle: f32::to_radians(0.8),
            scale: 0.0,
        };
        let (mut a, mut b) = pair(c, 99);
        // A 480×300 object (15.6 % of the frame) moving its own way.
        let (ow, oh) = (480, 300);
        let obj = gray_frame(ow + 60, oh + 30, &texture(ow + 60, oh + 30, 1234));
        let paste = |dst: &mut Frame, x0: usize, y0: usize, sx: usize, sy: usize| {
            let Samples::U8(s) = &obj.planes[0].samples else {
                panic!()
            };
            let Samples::U8(d) = &mut dst.planes[0].samples else {
                panic!()
            };
            for y in 0..oh {
                d[(y0 + y) * W + x0..][..ow].copy_from_slice(&s[(sy + y) * (ow + 60) + sx..][..ow]);
            }
        };
        // The object moves 40 px right and 15 down while its texture also scrolls 30 px inside it.
        paste(&mut a, 300, 200, 0, 0);
        paste(&mut b, 340, 215, 30, 0);
        check(c, run(&a, &b));
    }

    #[test]
    fn flat_frame_has_no_confidence() {
        let f = gray_frame(640, 360, &vec![0.4; 640 * 360]);
        let m = run(&f, &f);
        assert_eq!(m, Motion::default());
    }

    #[test]
    fn unrelated_frames_have_low_confidence() {
        let a = gray_frame(W, H, &texture(W, H, 5));
        let b = gray_frame(W, H, &texture(W, H, 6));
        let m = run(&a, &b);
        assert!(m.confidence < MIN_CONFIDENCE, "{m:?}");
    }

    fn sim(c: Correction) -> Sim {
        Sim {
            x: c.dx as f64,
            y: c.dy as f64,
            a: c.angle as f64,
            s: c.scale as f64,
        }
    }

    /// Motions of a camera at `poses` (pose t maps frame-0 coordinates to frame-t coordinates).
    fn motions_of(poses: &[Sim]) -> Vec<Motion> {
        let mut out = vec![Motion::default()];
        for t in 1..poses.len() {
            let m = poses[t].then_after(poses[t - 1].inverse());
            out.push(Motion {
                dx: m.x as f32,
                dy: m.y as f32,
                angle: m.a as f32,
                scale: m.s as f32,
                confidence: 1.0,
            });
        }
        out
    }

    fn std(v: impl Iterator<Item = f64> + Clone) -> f64 {
        let n = v.clone().count() as f64;
        let mean = v.clone().sum::<f64>() / n;
        (v.map(|x| (x - mean) * (x - mean)).sum::<f64>() / n).sqrt()
    }

    fn jitter(n: usize, seed: u64) -> Vec<Sim> {
        let mut rng = Lcg(seed);
        let mut poses: Vec<Sim> = (0..n)
            .map(|_| Sim {
                x: rng.range(-10.0, 10.0) as f64,
                y: rng.range(-10.0, 10.0) as f64,
                a: rng.range(-0.02, 0.02) as f64,
                s: 0.0,
            })
            .collect();
        // Frame 0 is the origin of the integrated path.
        let p0 = poses[0].inverse();
        for p in &mut poses {
            *p = p.then_after(p0);
        }
        poses
    }

    #[test]
    fn smoothing_cancels_jitter() {
        let poses = jitter(3000, 3);
        let corr = smooth(
            &motions_of(&poses),
            SmoothMode::Smooth { radius_frames: 200 },
        );
        assert_eq!(corr.len(), poses.len());
        let fixed: Vec<Sim> = corr
            .iter()
            .zip(&poses)
            .map(|(c, p)| sim(*c).then_after(*p))
            .collect();
        for (get, name) in [
            (Box::new(|s: &Sim| s.x) as Box<dyn Fn(&Sim) -> f64>, "x"),
            (Box::new(|s: &Sim| s.y), "y"),
            (Box::new(|s: &Sim| s.a), "angle"),
        ] {
            let before = std(poses.iter().map(&get));
            let after = std(fixed.iter().map(&get));
            assert!(after < 0.1 * before, "{name}: {after} vs {before}");
        }
    }

    #[test]
    fn tripod_is_exactly_still() {
        let mut rng = Lcg(11);
        let mut poses = vec![Sim::default()];
        for _ in 1..300 {
            let step = Sim {
                x: rng.range(-3.0, 3.0) as f64,
                y: rng.range(-3.0, 3.0) as f64,
                a: rng.range(-0.01, 0.01) as f64,
                s: rng.range(-0.002, 0.002) as f64,
            };
            let next = step.then_after(*poses.last().unwrap());
            poses.push(next);
        }
        let corr = smooth(&motions_of(&poses), SmoothMode::Tripod);
        for (c, p) in corr.iter().zip(&poses) {
            let f = sim(*c).then_after(*p);
            assert!(
                f.x.abs() < 1e-2 && f.y.abs() < 1e-2 && f.a.abs() < 1e-6 && f.s.abs() < 1e-6,
                "{f:?}"
            );
        }
    }

    #[test]
    fn pan_is_kept_to_the_ends() {
        let poses: Vec<Sim> = (0..200)
            .map(|t| Sim {
                x: 4.0 * t as f64,
                y: -1.5 * t as f64,
                ..Sim::default()
            })
            .collect();
        let corr = smooth(
            &motions_of(&poses),
            SmoothMode::Smooth { radius_frames: 30 },
        );
        for c in &corr {
            assert!(c.dx.abs() < 1e-2 && c.dy.abs() < 1e-2, "{c:?}");
        }
        let none = smooth(&motions_of(&poses), SmoothMode::Smooth { radius_frames: 0 });
        assert!(none.iter().all(|c| c.dx.abs() < 1e-3 && c.dy.abs() < 1e-3));
        assert!(smooth(&[], SmoothMode::Tripod).is_empty());
    }

    #[test]
    fn a_whip_pan_is_followed_within_the_bound_and_shake_still_removed() {
        // ±6 px shake, and a 240 px move right in 3 frames at frame 100.
        let poses: Vec<Sim> = (0..200)
            .map(|t| Sim {
                x: 6.0 * (t as f64 * 2.3).sin() + 80.0 * (t as f64 - 99.0).clamp(0.0, 3.0),
                y: 6.0 * (t as f64 * 1.7).cos(),
                ..Sim::default()
            })
            .collect();
        let mode = SmoothMode::Smooth { radius_frames: 20 };
        let free = smooth(&motions_of(&poses), mode);
        assert!(
            free.iter().any(|c| c.dx.abs() > 100.0),
            "a plain low-pass lags far"
        );
        let bounded = smooth_within(&motions_of(&poses), mode, (50.0, 50.0));
        assert!(bounded
            .iter()
            .all(|c| c.dx.abs() <= 50.01 && c.dy.abs() <= 50.01));
        // What is seen: the pose after correction. Its frame-to-frame steps away from the pan are
        // far below the shake's, and the pan itself is spread, never a step above the raw one.
        let seen: Vec<f64> = poses
            .iter()
            .zip(&bounded)
            .map(|(p, c)| p.x + c.dx as f64)
            .collect();
        let steps: Vec<f64> = seen.windows(2).map(|w| (w[1] - w[0]).abs()).collect();
        let calm = steps[20..80].iter().cloned().fold(0.0, f64::max);
        assert!(calm < 3.0, "shake left: {calm}");
        assert!(steps.iter().all(|s| *s <= 81.0), "{steps:?}");
        // Where nothing reaches the bound, the bound changes nothing: the path is the plain one.
        let shake = motions_of(&poses[..90]);
        assert_eq!(
            smooth_within(&shake, mode, (50.0, 50.0)),
            smooth(&shake, mode)
        );
    }

    #[test]
    fn low_confidence_motion_counts_as_still() {
        let mut m = vec![Motion::default(); 3];
        m[1] = Motion {
            dx: 500.0,
            confidence: 0.05,
            ..Motion::default()
        };
        let c = smooth(&m, SmoothMode::Tripod);
        assert!(c.iter().all(|c| *c == Correction::default()), "{c:?}");
    }

    #[test]
    fn auto_zoom_grows_with_motion() {
        let zero = vec![Correction::default(); 10];
        assert_eq!(auto_zoom(&zero, W, H, 1.5), 1.0);
        let shift = |dx| {
            let mut v = zero.clone();
            v[4].dx = dx;
            auto_zoom(&v, W, H, 1.5)
        };
        let (z20, z40) = (shift(20.0), shift(40.0));
        assert!(1.0 < z20 && z20 < z40, "{z20} {z40}");
        assert!((z20 - 639.5 / 619.5).abs() < 1e-4, "{z20}");
        assert_eq!(shift(600.0), 1.5);
        let mut rot = zero.clone();
        rot[2].angle = f32::to_radians(2.0);
        let z = auto_zoom(&rot, W, H, 1.5);
        assert!(z > 1.03 && z < 1.1, "{z}");
        // At that zoom the rotated frame's corners really are covered.
        let c = rot[2];
        let (sin, cos) = (-c.angle).sin_cos();
        for (qx, qy) in [
            (-639.5f32, -359.5f32),
            (639.5, -359.5),
            (-639.5, 359.5),
            (639.5, 359.5),
        ] {
            let (x, y) = (qx / z, qy / z);
            let (sx, sy) = (cos * x - sin * y, sin * x + cos * y);
            assert!(sx.abs() <= 639.6 && sy.abs() <= 359.6);
        }
    }

    #[test]
    fn timing_estimate() {
        let c = Correction {
            dx: 12.0,
            dy: -7.5,
            angle: 0.02,
            scale: 0.0,
        };
        let (a, b) = pair_sized(c, 42, 1920, 1080);
        let t = std::time::Instant::now();
        let (ga, k) = analysis_luma(&a, 480);
        let luma_ms = t.elapsed().as_secs_f64() * 1e3;
        let (gb, _) = analysis_luma(&b, 480);
        assert_eq!((ga.width, ga.height), (480, 270));
        let runs = 20;
        let t = std::time::Instant::now();
        let mut m = Motion::default();
        for _ in 0..runs {
            m = estimate(&ga, &gb, k);
        }
        let per = t.elapsed().as_secs_f64() * 1e3 / runs as f64;
        println!("analysis_luma 1080p: {luma_ms:.2} ms; estimate 480x270: {per:.2} ms/pair");
        check(c, m);
    }
}
