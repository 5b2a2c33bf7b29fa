//! Adaptive unsharp masking on luma. Detail below a noise threshold is cored away (so grain is not
//! amplified), and the sharpened value is kept within a margin of its 3×3 neighbourhood's range
//! (so edges get crisper without halos).

use super::{for_rows, Sample};
use crate::frame::{Frame, Plane, Samples};

/// Sharpening settings (threshold in 8-bit code values whatever the depth).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SharpenSettings {
    /// Gain on the detail layer (1 doubles the contrast of fine detail).
    pub amount: f32,
    /// Gaussian σ of the blur that defines "detail", in pixels.
    pub radius: f32,
    /// Detail smaller than this is treated as noise and left alone.
    pub threshold: f32,
}

fn gaussian(radius: f32) -> Vec<f32> {
    let r = (radius * 3.0).ceil().max(1.0) as i32;
    let k: Vec<f32> = (-r..=r)
        .map(|i| super::denoise::fast_exp(-((i * i) as f32) / (2.0 * radius * radius)))
        .collect();
    let s: f32 = k.iter().sum();
    k.into_iter().map(|v| v / s).collect()
}

/// Separable blur with clamped borders.
fn blur<T: Sample>(src: &[T], w: usize, h: usize, k: &[f32]) -> Vec<f32> {
    let r = (k.len() / 2) as i32;
    let mut tmp = vec![0f32; w * h];
    for_rows(&mut tmp, w, |y, row| {
        let line = &src[y * w..(y + 1) * w];
        for (x, o) in row.iter_mut().enumerate() {
            let mut a = 0f32;
            for (i, kv) in k.iter().enumerate() {
                let xx = (x as i32 + i as i32 - r).clamp(0, w as i32 - 1) as usize;
                a += kv * line[xx].to_f32();
            }
            *o = a;
        }
    });
    let mut out = vec![0f32; w * h];
    for_rows(&mut out, w, |y, row| {
        for (i, kv) in k.iter().enumerate() {
            let yy = (y as i32 + i as i32 - r).clamp(0, h as i32 - 1) as usize;
            let line = &tmp[yy * w..(yy + 1) * w];
            for (o, v) in row.iter_mut().zip(line) {
                *o += kv * v;
            }
        }
    });
    out
}

fn sharpen_plane<T: Sample>(
    src: &[T],
    w: usize,
    h: usize,
    s: &SharpenSettings,
    unit: f32,
    max: f32,
) -> Vec<T> {
    let blurred = blur(src, w, h, &gaussian(s.radius.max(0.3)));
    let t = s.threshold * unit;
    // Overshoot allowed beyond the local range: a little, so edges still read as crisp.
    let margin = 2.0 * unit;
    let mut out = vec![T::from_u32(0); w * h];
    for_rows(&mut out, w, |y, row| {
        let (ya, yb) = (y.saturating_sub(1), (y + 1).min(h - 1));
        for (x, o) in row.iter_mut().enumerate() {
            let c = src[y * w + x].to_f32();
            let d = c - blurred[y * w + x];
            // Soft coring: detail fades in above the threshold instead of switching on.
            let m = d.abs();
            let kept = if m <= t { 0.0 } else { (m - t) * m / (m + t) };
            let v = c + s.amount * kept * d.signum();
            let (xa, xb) = (x.saturating_sub(1), (x + 1).min(w - 1));
            let (mut lo, mut hi) = (f32::MAX, f32::MIN);
            for yy in [ya, y, yb] {
                for xx in [xa, x, xb] {
                    let n = src[yy * w + xx].to_f32();
                    lo = lo.min(n);
                    hi = hi.max(n);
                }
            }
            let v = v.clamp(lo - margin, hi + margin).clamp(0.0, max);
            *o = T::from_u32((v + 0.5) as u32);
        }
    });
    out
}

/// Sharpens the luma plane of `frame`; chroma is left as it is (sharpening chroma shows as colour
/// fringes, and chroma carries little of the perceived detail).
pub fn sharpen(frame: &Frame, s: &SharpenSettings) -> Frame {
    let unit = (1u32 << frame.bit_depth.saturating_sub(8)) as f32;
    let max = frame.max_value() as f32;
    let mut planes = frame.planes.clone();
    let p = &frame.planes[0];
    if s.amount > 0.0 {
        let samples = match &p.samples {
            Samples::U8(d) => Samples::U8(sharpen_plane(d, p.width, p.height, s, unit, max)),
            Samples::U16(d) => Samples::U16(sharpen_plane(d, p.width, p.height, s, unit, max)),
        };
        planes[0] = Plane {
            width: p.width,
            height: p.height,
            samples,
        };
    }
    frame.with_planes(planes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{ChromaLayout, ColourInfo};

    fn luma(f: &Frame) -> &[u8] {
        match &f.planes[0].samples {
            Samples::U8(d) => d,
            _ => panic!("8-bit expected"),
        }
    }

    fn std_dev(d: &[u8]) -> f32 {
        let m = d.iter().map(|&v| v as f32).sum::<f32>() / d.len() as f32;
        (d.iter().map(|&v| (v as f32 - m).powi(2)).sum::<f32>() / d.len() as f32).sqrt()
    }

    #[test]
    fn edges_get_steeper_but_grain_is_not_amplified() {
        let (w, h) = (64, 32);
        let mut f = Frame::new(w, h, ChromaLayout::Yuv420, 8, ColourInfo::default());
        let mut seed = 12345u32;
        if let Samples::U8(d) = &mut f.planes[0].samples {
            for y in 0..h {
                for x in 0..w {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    let grain = ((seed >> 16) % 7) as i32 - 3;
                    // A soft edge at x = 32 over flat areas with ±3 grain.
                    let base = 60 + (120 * (x as i32 - 28).clamp(0, 8)) / 8;
                    d[y * w + x] = (base + grain) as u8;
                }
            }
        }
        let s = SharpenSettings {
            amount: 1.5,
            radius: 1.5,
            threshold: 4.0,
        };
        let g = sharpen(&f, &s);
        let (a, b) = (luma(&f), luma(&g));
        // Grain in the flat left part stays where it was.
        let flat = |d: &[u8]| -> Vec<u8> {
            (4..28)
                .flat_map(|y| d[y * w + 2..y * w + 20].to_vec())
                .collect()
        };
        assert!(
            std_dev(&flat(b)) <= std_dev(&flat(a)) * 1.05,
            "{} vs {}",
            std_dev(&flat(b)),
            std_dev(&flat(a))
        );
        // Gradient energy across the edge grows.
        let energy = |d: &[u8]| -> i32 {
            (24..40)
                .map(|x| (d[16 * w + x + 1] as i32 - d[16 * w + x] as i32).pow(2))
                .sum()
        };
        assert!(
            energy(b) > energy(a) * 11 / 10,
            "{} vs {}",
            energy(b),
            energy(a)
        );
        assert_eq!(g.planes[1], f.planes[1]);
    }

    #[test]
    fn zero_amount_is_identity() {
        let f = Frame::new(16, 8, ChromaLayout::Yuv420, 10, ColourInfo::default());
        let s = SharpenSettings {
            amount: 0.0,
            radius: 1.0,
            threshold: 0.0,
        };
        assert_eq!(sharpen(&f, &s), f);
    }
}
