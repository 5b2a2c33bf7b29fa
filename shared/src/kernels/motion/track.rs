//! Following features from one frame to the next: image pyramids, Shi–Tomasi corners spread over
//! a grid and pyramidal Lucas–Kanade. Kept apart from the fit so that tracking can be tuned without
//! touching the robust estimate that consumes it.

use crate::kernels::for_rows;

/// Radius of the Lucas–Kanade window (analysis pixels at every pyramid level).
const WIN: usize = 7;
const SIDE: usize = 2 * WIN + 1;
const AREA: usize = SIDE * SIDE;
/// Smallest mean structure-tensor eigenvalue worth tracking (flat or nearly flat areas).
const MIN_EIG: f32 = 1e-6;

pub(super) struct Img {
    pub(super) w: usize,
    pub(super) h: usize,
    pub(super) d: Vec<f32>,
}

impl Img {
    /// 2×2 box halving; pixel `i` covers `2i, 2i+1` of the level below.
    pub(super) fn half(&self) -> Img {
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
    pub(super) fn gradients(&self) -> (Vec<f32>, Vec<f32>) {
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
pub(super) struct Level {
    pub(super) img: Img,
    pub(super) gx: Vec<f32>,
    pub(super) gy: Vec<f32>,
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
pub(super) fn track(
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
pub(super) fn features(lv: &Level) -> Vec<(f32, f32)> {
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
pub(super) fn translation_prior(prev: &Img, cur: &Img, radius: usize) -> (f32, f32) {
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
