//! Noise that changes from frame to frame, held still where the picture is still, before a
//! super-resolution network sees it.
//!
//! Networks trained on clean pictures (SPAN) take sensor noise for detail and sharpen it: on a
//! static shot with fresh noise in every frame, SPAN ×2's output changes 65 % more from frame to
//! frame than a Lanczos upscale of the same frames (it flickers). Averaging each sample with the
//! same sample of its neighbouring frames, where the 3×3 neighbourhood has not changed beyond the
//! noise, removes most of that noise on still areas and leaves moving ones as they are. On a
//! single picture, or frames that do not change, the frame comes back unchanged.

use crate::frame::Frame;
use crate::kernels::for_rows;

/// Averages `window[current]` with its neighbours in `window` where they agree: a neighbour's
/// weight falls from 1 to 0 as the mean difference over the 3×3 neighbourhood grows from 0 to
/// `2·sigma` (8-bit units; `sigma` is the frame's noise level).
pub fn steady(window: &[&Frame], current: usize, sigma: f32) -> Frame {
    let cur = window[current];
    let scale = (1u32 << cur.bit_depth.saturating_sub(8)) as f32;
    // Below half a level there is nothing to hold still; the frame passes as it is.
    let reach = 2.0 * sigma.max(0.5) * scale;
    let same_shape = |f: &&&Frame| {
        f.width == cur.width
            && f.height == cur.height
            && f.layout == cur.layout
            && f.bit_depth == cur.bit_depth
    };
    let neighbours: Vec<&Frame> = (window.iter().enumerate())
        .filter(|(k, f)| *k != current && same_shape(f) && !std::ptr::eq(**f, cur))
        .map(|(_, f)| *f)
        .collect();
    if neighbours.is_empty() || sigma < 0.5 {
        return cur.clone();
    }
    let max = cur.max_value() as f32;
    let planes = (cur.planes.iter().enumerate())
        .map(|(i, p)| {
            let c = p.to_f32();
            let nbs: Vec<Vec<f32>> = neighbours.iter().map(|f| f.planes[i].to_f32()).collect();
            let (w, h) = (p.width, p.height);
            let mut out = vec![0f32; w * h];
            for_rows(&mut out, w, |y, row| {
                let (y0, y1) = (y.saturating_sub(1), (y + 1).min(h - 1));
                for (x, o) in row.iter_mut().enumerate() {
                    let (x0, x1) = (x.saturating_sub(1), (x + 1).min(w - 1));
                    let centre = c[y * w + x];
                    let (mut sum, mut weight) = (centre, 1.0f32);
                    for nb in &nbs {
                        let mut d = 0.0f32;
                        for yy in y0..=y1 {
                            for xx in x0..=x1 {
                                d += nb[yy * w + xx] - c[yy * w + xx];
                            }
                        }
                        let d = d / ((y1 - y0 + 1) * (x1 - x0 + 1)) as f32 / reach;
                        let t = (1.0 - d * d).max(0.0);
                        let wk = t * t;
                        sum += wk * nb[y * w + x];
                        weight += wk;
                    }
                    *o = sum / weight;
                }
            });
            let mut q = p.clone();
            q.set_from_f32(out, max);
            q
        })
        .collect();
    cur.with_planes(planes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{ChromaLayout, ColourInfo, Samples};

    fn frame(fill: impl Fn(usize, usize) -> u8) -> Frame {
        let mut f = Frame::new(32, 24, ChromaLayout::Yuv420, 8, ColourInfo::default());
        if let Samples::U8(d) = &mut f.planes[0].samples {
            for (i, v) in d.iter_mut().enumerate() {
                *v = fill(i % 32, i / 32);
            }
        }
        f
    }

    #[test]
    fn still_noise_is_averaged_and_motion_is_left_alone() {
        let noisy = |seed: usize| frame(move |x, y| (100 + (x * 31 + y * 17 + seed * 3) % 7) as u8);
        let (a, b, c) = (noisy(0), noisy(1), noisy(2));
        let out = steady(&[&a, &b, &c], 1, 2.0);
        let spread = |f: &Frame| match &f.planes[0].samples {
            Samples::U8(d) => d.iter().max().unwrap_or(&0) - d.iter().min().unwrap_or(&0),
            _ => 0,
        };
        assert!(
            spread(&out) < spread(&b),
            "{} vs {}",
            spread(&out),
            spread(&b)
        );
        // A bright box appears in the next frame: the current frame keeps its own samples there.
        let moved = frame(|x, y| if x < 16 && y < 12 { 230 } else { 100 });
        let flat = frame(|_, _| 100);
        let out = steady(&[&flat, &moved], 0, 2.0);
        assert_eq!(out.planes[0], flat.planes[0]);
        // One frame, or identical ones: unchanged.
        assert_eq!(steady(&[&b, &b, &b], 1, 2.0), b);
        assert_eq!(steady(&[&b], 0, 2.0), b);
    }
}
