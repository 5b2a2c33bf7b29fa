//! From tracked points to one camera motion: a similarity fitted with RANSAC, so that objects
//! moving on their own count as outliers instead of pulling the estimate.

use super::track::{features, track, translation_prior, Img, Level};
use super::{Gray, Motion};
use crate::kernels::portable;

/// Fewer agreeing features than this and the estimate is not trusted.
const MIN_INLIERS: usize = 8;
/// RANSAC inlier distance in analysis pixels; loose enough for rolling-shutter wobble.
const INLIER_PX: f64 = 1.0;

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
