//! Applies a stabilisation [`Correction`] (and a zoom that hides the exposed borders) to every plane
//! of a frame by inverse mapping with bilinear interpolation. Chroma uses the same transform seen
//! through its subsampling and MPEG-2 siting, so colour stays on its luma.

use super::motion::Correction;
use super::{for_rows, portable, Sample};
use crate::frame::{Frame, Plane, Samples};
use serde::{Deserialize, Serialize};

/// What output pixels that map outside the source get.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum EdgeFill {
    /// The range's black (mid-grey chroma).
    #[default]
    Black,
    /// Replicate the edge pixels.
    Clamp,
}

/// Inverse map `p = [m0 m1; m3 m4]·q + (m2, m5)` from output to source sample positions.
type Affine = [f64; 6];

/// Warps `frame` by `c` then zooms by `zoom` about the centre; same size, layout, depth and tags.
/// The identity is returned bit-exactly.
pub fn warp(frame: &Frame, c: &Correction, zoom: f32, fill: EdgeFill) -> Frame {
    if *c == Correction::default() && zoom == 1.0 {
        return frame.clone();
    }
    // Forward: q = ctr + zoom·(e^s·R(a)·(p − ctr) + t). Inverse: p = ctr + A·(q − ctr) − e^−s·R(−a)·t
    // with A = e^−s·R(−a)/zoom.
    let k = portable::exp(-(c.scale as f64));
    let (sin, cos) = portable::sin_cos(-(c.angle as f64));
    let z = if zoom > 0.0 { 1.0 / zoom as f64 } else { 1.0 };
    let a = [k * cos * z, -k * sin * z, k * sin * z, k * cos * z];
    let (cx, cy) = (
        (frame.width as f64 - 1.0) * 0.5,
        (frame.height as f64 - 1.0) * 0.5,
    );
    let (tx, ty) = (c.dx as f64, c.dy as f64);
    let luma: Affine = [
        a[0],
        a[1],
        cx - a[0] * cx - a[1] * cy - k * (cos * tx - sin * ty),
        a[2],
        a[3],
        cy - a[2] * cx - a[3] * cy - k * (sin * tx + cos * ty),
    ];
    let (lx, ly) = frame.layout.log2_subsampling();
    // Chroma sample (i, j) sits at luma (i·sx + ox, j·sy + oy): left-sited horizontally, centred
    // vertically. Conjugating the luma map by that gives the chroma map.
    let (sx, sy) = ((1u32 << lx) as f64, (1u32 << ly) as f64);
    let (ox, oy) = (0.0, (sy - 1.0) * 0.5);
    let chroma: Affine = [
        luma[0],
        luma[1] * sy / sx,
        (luma[0] * ox + luma[1] * oy + luma[2] - ox) / sx,
        luma[3] * sx / sy,
        luma[4],
        (luma[3] * ox + luma[4] * oy + luma[5] - oy) / sy,
    ];
    let depth = frame.bit_depth as u32;
    let black = if frame.colour.full_range {
        0
    } else {
        16u32 << depth.saturating_sub(8)
    };
    let mid = 1u32 << depth.saturating_sub(1);
    let planes = frame
        .planes
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let (m, fill_value) = if i == 0 {
                (&luma, black)
            } else {
                (&chroma, mid)
            };
            let fill = match fill {
                EdgeFill::Black => Some(fill_value),
                EdgeFill::Clamp => None,
            };
            let samples = match &p.samples {
                Samples::U8(d) => Samples::U8(warp_plane(d, p.width, p.height, m, fill)),
                Samples::U16(d) => Samples::U16(warp_plane(d, p.width, p.height, m, fill)),
            };
            Plane {
                width: p.width,
                height: p.height,
                samples,
            }
        })
        .collect();
    Frame {
        width: frame.width,
        height: frame.height,
        layout: frame.layout,
        bit_depth: frame.bit_depth,
        planes,
        colour: frame.colour,
    }
}

/// Fractional bits of the interpolation weights: 1/4096 px, and 16-bit samples still fit in u64.
const FRAC: u32 = 12;
const ONE: u64 = 1 << FRAC;

/// Bilinear inverse mapping of one plane in fixed point (positions 32.32, weights 12-bit): integer
/// stepping along the row is exact and much cheaper than float floors and conversions.
/// `fill = None` replicates the edges; otherwise taps outside the plane take the fill value, so
/// black borders come out anti-aliased.
fn warp_plane<T: Sample>(src: &[T], w: usize, h: usize, m: &Affine, fill: Option<u32>) -> Vec<T> {
    let mut dst = vec![T::from_u32(0); w * h];
    if w == 0 || h == 0 {
        return dst;
    }
    // Bounds keep the 32.32 positions far from i64 overflow whatever the correction.
    let fixed = |v: f64, lim: f64| (v.clamp(-lim, lim) * 4_294_967_296.0).round() as i64;
    let (step_x, step_y) = (fixed(m[0], 1024.0), fixed(m[3], 1024.0));
    let (wi, hi) = (w as i64, h as i64);
    let tap = |x: i64, y: i64| -> u64 {
        if x >= 0 && y >= 0 && x < wi && y < hi {
            src[y as usize * w + x as usize].to_u32() as u64
        } else if let Some(v) = fill {
            v as u64
        } else {
            src[y.clamp(0, hi - 1) as usize * w + x.clamp(0, wi - 1) as usize].to_u32() as u64
        }
    };
    let round = 1u64 << (2 * FRAC - 1);
    for_rows(&mut dst, w, |y, row| {
        let mut sx = fixed(m[1] * y as f64 + m[2], 1e6);
        let mut sy = fixed(m[4] * y as f64 + m[5], 1e6);
        for out in row.iter_mut() {
            let (x0, y0) = (sx >> 32, sy >> 32);
            let fx = (sx >> (32 - FRAC)) as u64 & (ONE - 1);
            let fy = (sy >> (32 - FRAC)) as u64 & (ONE - 1);
            let v = if (x0 as u64) < (w - 1) as u64 && (y0 as u64) < (h - 1) as u64 {
                let i = y0 as usize * w + x0 as usize;
                let r0 = &src[i..i + 2];
                let r1 = &src[i + w..i + w + 2];
                let top = r0[0].to_u32() as u64 * (ONE - fx) + r0[1].to_u32() as u64 * fx;
                let bot = r1[0].to_u32() as u64 * (ONE - fx) + r1[1].to_u32() as u64 * fx;
                (top * (ONE - fy) + bot * fy + round) >> (2 * FRAC)
            } else if let (Some(v), true) = (fill, x0 < -1 || y0 < -1 || x0 >= wi || y0 >= hi) {
                // Entirely outside: no taps needed.
                v as u64
            } else {
                let (x0, y0) = (x0.clamp(-1, wi), y0.clamp(-1, hi));
                let top = tap(x0, y0) * (ONE - fx) + tap(x0 + 1, y0) * fx;
                let bot = tap(x0, y0 + 1) * (ONE - fx) + tap(x0 + 1, y0 + 1) * fx;
                (top * (ONE - fy) + bot * fy + round) >> (2 * FRAC)
            };
            *out = T::from_u32(v as u32);
            sx += step_x;
            sy += step_y;
        }
    });
    dst
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{ChromaLayout, ColourInfo};

    /// A deterministic pattern in every plane, at any depth.
    fn patterned(w: usize, h: usize, layout: ChromaLayout, depth: u8) -> Frame {
        let mut f = Frame::new(w, h, layout, depth, ColourInfo::default());
        let max = f.max_value();
        let mut state = 12345u64;
        for p in &mut f.planes {
            let (pw, ph) = (p.width, p.height);
            let vals: Vec<u32> = (0..pw * ph)
                .map(|i| {
                    state = state
                        .wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(1_442_695_040_888_963_407);
                    let (x, y) = ((i % pw) as f32, (i / pw) as f32);
                    let s = 0.5 + 0.3 * (x * 0.07).sin() * (y * 0.05).cos();
                    let n = (state >> 40) as f32 / (1u64 << 24) as f32 * 0.2;
                    ((s + n - 0.1) * max as f32) as u32
                })
                .collect();
            p.samples = if depth > 8 {
                Samples::U16(vals.iter().map(|&v| v as u16).collect())
            } else {
                Samples::U8(vals.iter().map(|&v| v as u8).collect())
            };
        }
        f
    }

    fn get(p: &Plane, x: usize, y: usize) -> u32 {
        match &p.samples {
            Samples::U8(d) => d[y * p.width + x] as u32,
            Samples::U16(d) => d[y * p.width + x] as u32,
        }
    }

    #[test]
    fn identity_is_bit_exact() {
        for (layout, depth) in [
            (ChromaLayout::Yuv420, 8),
            (ChromaLayout::Yuv422, 10),
            (ChromaLayout::Gray, 12),
        ] {
            let f = patterned(67, 35, layout, depth);
            for fill in [EdgeFill::Black, EdgeFill::Clamp] {
                assert_eq!(warp(&f, &Correction::default(), 1.0, fill), f);
            }
        }
    }

    #[test]
    fn ten_bit_420_keeps_format() {
        let mut f = patterned(64, 48, ChromaLayout::Yuv420, 10);
        f.colour = ColourInfo {
            full_range: false,
            matrix: 9,
            transfer: 16,
            primaries: 9,
            chroma_center: false,
        };
        let c = Correction {
            dx: 3.3,
            dy: -1.2,
            angle: 0.01,
            scale: 0.01,
        };
        let g = warp(&f, &c, 1.05, EdgeFill::Black);
        assert_eq!(
            (g.width, g.height, g.layout, g.bit_depth, g.colour),
            (64, 48, f.layout, 10, f.colour)
        );
        for (p, q) in f.planes.iter().zip(&g.planes) {
            assert_eq!((p.width, p.height), (q.width, q.height));
            let Samples::U16(d) = &q.samples else {
                panic!("storage changed")
            };
            assert!(d.iter().all(|&v| v <= 1023));
        }
    }

    #[test]
    fn integer_shift_moves_chroma_by_half() {
        let f = patterned(80, 60, ChromaLayout::Yuv420, 8);
        let c = Correction {
            dx: 4.0,
            dy: -6.0,
            ..Correction::default()
        };
        let g = warp(&f, &c, 1.0, EdgeFill::Clamp);
        for y in 10..20 {
            for x in 10..30 {
                assert_eq!(get(&g.planes[0], x + 4, y), get(&f.planes[0], x, y + 6));
                assert_eq!(
                    get(&g.planes[1], x / 2 + 2, y / 2),
                    get(&f.planes[1], x / 2, y / 2 + 3)
                );
            }
        }
    }

    #[test]
    fn rotation_keeps_chroma_sited() {
        // Both planes carry the same smooth picture sampled at their own sites. After a strong zoom
        // and rotation the chroma must match the picture at the source of its site; a half-pixel
        // siting slip would show as several levels of error.
        let (w, h) = (240, 160);
        let pic =
            |x: f32, y: f32| 128.0 + 50.0 * (x * 0.15 + 0.3).sin() + 50.0 * (y * 0.13 + 0.2).cos();
        let mut f = Frame::new(w, h, ChromaLayout::Yuv420, 8, ColourInfo::default());
        let fill = |p: &mut Plane, oy: f32, s: f32| {
            let pw = p.width;
            if let Samples::U8(d) = &mut p.samples {
                for (i, v) in d.iter_mut().enumerate() {
                    let (x, y) = ((i % pw) as f32 * s, (i / pw) as f32 * s + oy);
                    *v = pic(x, y).round() as u8;
                }
            }
        };
        fill(&mut f.planes[0], 0.0, 1.0);
        fill(&mut f.planes[1], 0.5, 2.0);
        let c = Correction {
            dx: 2.5,
            dy: -1.5,
            angle: f32::to_radians(3.0),
            scale: 0.1,
        };
        let zoom = 1.8;
        let g = warp(&f, &c, zoom, EdgeFill::Clamp);
        let (cx, cy) = ((w as f32 - 1.0) / 2.0, (h as f32 - 1.0) / 2.0);
        let (sin, cos) = (-c.angle).sin_cos();
        let k = (-c.scale).exp();
        let source = |qx: f32, qy: f32| {
            let (x, y) = ((qx - cx) / zoom - c.dx, (qy - cy) / zoom - c.dy);
            (cx + k * (cos * x - sin * y), cy + k * (sin * x + cos * y))
        };
        let (mut sum, mut n) = (0f32, 0f32);
        for j in 25..55 {
            for i in 40..80 {
                let (sx, sy) = source(2.0 * i as f32, 2.0 * j as f32 + 0.5);
                sum += (get(&g.planes[1], i, j) as f32 - pic(sx, sy)).powi(2);
                n += 1.0;
            }
        }
        let rms = (sum / n).sqrt();
        assert!(rms < 0.8, "chroma off its site: rms error {rms} levels");
    }

    #[test]
    fn black_fill_uses_range_black() {
        let f = patterned(64, 48, ChromaLayout::Yuv420, 10);
        let c = Correction {
            dx: 30.0,
            ..Correction::default()
        };
        let g = warp(&f, &c, 1.0, EdgeFill::Black);
        assert_eq!(get(&g.planes[0], 0, 10), 64);
        assert_eq!(get(&g.planes[1], 0, 10), 512);
        let mut full = f.clone();
        full.colour.full_range = true;
        let g = warp(&full, &c, 1.0, EdgeFill::Black);
        assert_eq!(get(&g.planes[0], 0, 10), 0);
        let g = warp(&f, &c, 1.0, EdgeFill::Clamp);
        assert_eq!(get(&g.planes[0], 0, 10), get(&f.planes[0], 0, 10));
    }

    #[test]
    fn timing_warp_1080p() {
        let f = patterned(1920, 1080, ChromaLayout::Yuv420, 8);
        let c = Correction {
            dx: 7.3,
            dy: -3.1,
            angle: 0.012,
            scale: 0.004,
        };
        let runs = if cfg!(debug_assertions) { 3 } else { 20 };
        let mut g = warp(&f, &c, 1.04, EdgeFill::Black);
        let t = std::time::Instant::now();
        for _ in 0..runs {
            g = warp(&f, &c, 1.04, EdgeFill::Black);
        }
        let per = t.elapsed().as_secs_f64() * 1e3 / runs as f64;
        println!("warp 1080p 8-bit 4:2:0: {per:.2} ms/frame");
        assert_eq!(g.planes.len(), 3);
    }
}
