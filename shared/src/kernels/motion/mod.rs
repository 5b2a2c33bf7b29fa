//! Global camera motion for stabilisation: a small grey analysis image per frame, a robust similarity
//! estimate between consecutive frames (corners on a grid, pyramidal Lucas–Kanade, RANSAC), trajectory
//! smoothing into per-frame corrections, and the zoom that hides the borders those corrections expose.
//!
//! All transforms are similarities about the frame centre `((w-1)/2, (h-1)/2)` in full-frame luma
//! pixels (y points down, so a positive angle turns the picture clockwise on screen):
//! `q = c + exp(scale)·R(angle)·(p − c) + (dx, dy)`. Scale is a natural log so that the `Default` of
//! every type is the identity and scales add along a trajectory.

mod analysis;
mod estimate;
mod smooth;
mod track;
mod zoom;

use serde::{Deserialize, Serialize};

pub use self::analysis::{analysis_luma, Gray};
pub use self::estimate::estimate;
pub use self::smooth::{smooth, smooth_within, SmoothMode, MIN_CONFIDENCE};
pub use self::zoom::auto_zoom;

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

/// Per-frame transform taking a frame from where the camera put it to where the smoothed camera
/// would have (same convention as [`Motion`]; `scale` is a natural log).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Default)]
pub struct Correction {
    pub dx: f32,
    pub dy: f32,
    pub angle: f32,
    pub scale: f32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{ChromaLayout, ColourInfo, Frame, Plane, Samples};
    use crate::kernels::warp::{warp, EdgeFill};

    pub(super) struct Lcg(pub(super) u64);
    impl Lcg {
        pub(super) fn next(&mut self) -> f32 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (self.0 >> 40) as f32 / (1u64 << 24) as f32
        }
        pub(super) fn range(&mut self, a: f32, b: f32) -> f32 {
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

    pub(super) const W: usize = 1280;
    pub(super) const H: usize = 720;
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
