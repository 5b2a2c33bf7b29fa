//! Adaptive unsharp masking on luma. Detail below a noise threshold is cored away (so grain is not
//! amplified), and the sharpened value is kept within a margin of its 3×3 neighbourhood's range
//! (so edges get crisper without halos).

use super::{for_rows, pad_row, plane_buffer, recycle, use_avx2, Sample};
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

/// Reusable row buffers of one thread.
#[derive(Default)]
struct Scratch {
    padded: Vec<f32>,
    lo: Vec<f32>,
    hi: Vec<f32>,
}

std::thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// One row of the horizontal blur: the row padded with its edge samples, then one tap at a time
/// over the whole row (which vectorises); each output sums the same products in the same order as
/// a clamped gather per output would.
#[inline(always)]
fn blur_h_core<T: Sample>(padded: &mut Vec<f32>, line: &[T], k: &[f32], row: &mut [f32]) {
    let w = line.len();
    pad_row(padded, line, k.len() / 2);
    row.fill(0.0);
    for (i, &kv) in k.iter().enumerate() {
        for (o, &v) in row.iter_mut().zip(&padded[i..i + w]) {
            *o += kv * v;
        }
    }
}

/// One row of the vertical blur.
#[inline(always)]
fn blur_v_core(tmp: &[f32], w: usize, h: usize, k: &[f32], y: usize, row: &mut [f32]) {
    let r = (k.len() / 2) as i32;
    // The row comes from a reused buffer.
    row.fill(0.0);
    for (i, kv) in k.iter().enumerate() {
        let yy = (y as i32 + i as i32 - r).clamp(0, h as i32 - 1) as usize;
        let line = &tmp[yy * w..(yy + 1) * w];
        for (o, v) in row.iter_mut().zip(line) {
            *o += kv * v;
        }
    }
}

/// What one output row needs besides its buffers.
struct RowJob<'a, T> {
    src: &'a [T],
    blurred: &'a [f32],
    w: usize,
    h: usize,
    s: &'a SharpenSettings,
    t: f32,
    margin: f32,
    max: f32,
}

/// One output row: the cored detail added back, kept within `margin` of the 3×3 neighbourhood's
/// range. Minima and maxima are exact, so taking them by rows then columns gives the same range.
#[inline(always)]
fn finish_core<T: Sample>(sc: &mut Scratch, j: &RowJob<'_, T>, y: usize, row: &mut [T]) {
    let (w, h) = (j.w, j.h);
    let line = |yy: usize| &j.src[yy * w..(yy + 1) * w];
    let (a, c, b) = (line(y.saturating_sub(1)), line(y), line((y + 1).min(h - 1)));
    sc.lo.clear();
    sc.hi.clear();
    for ((&a, &c), &b) in a.iter().zip(c).zip(b) {
        let (a, c, b) = (a.to_f32(), c.to_f32(), b.to_f32());
        sc.lo.push(a.min(c).min(b));
        sc.hi.push(a.max(c).max(b));
    }
    let around = |v: &[f32], x: usize, pick: fn(f32, f32) -> f32| {
        pick(pick(v[x.saturating_sub(1)], v[x]), v[(x + 1).min(w - 1)])
    };
    let blurred = &j.blurred[y * w..(y + 1) * w];
    let one = |c: f32, bl: f32, lo: f32, hi: f32| -> T {
        let d = c - bl;
        // Soft coring: detail fades in above the threshold instead of switching on.
        let m = d.abs();
        let kept = if m <= j.t {
            0.0
        } else {
            (m - j.t) * m / (m + j.t)
        };
        let v = c + j.s.amount * kept * d.signum();
        // As clamp(lo − margin, hi + margin) then clamp(0, max): the bounds are ordered.
        let v = v.max(lo - j.margin).min(hi + j.margin).max(0.0).min(j.max);
        // SAFETY: 0 ≤ v + 0.5 ≤ max + 0.5 < 2^31.
        T::from_u32(unsafe { (v + 0.5).to_int_unchecked::<i32>() } as u32)
    };
    let edge = |x: usize| {
        let (lo, hi) = (around(&sc.lo, x, f32::min), around(&sc.hi, x, f32::max));
        one(c[x].to_f32(), blurred[x], lo, hi)
    };
    if w < 3 {
        for (x, o) in row.iter_mut().enumerate() {
            *o = edge(x);
        }
        return;
    }
    row[0] = edge(0);
    row[w - 1] = edge(w - 1);
    let (lo, hi) = (&sc.lo, &sc.hi);
    let inner = row[1..w - 1]
        .iter_mut()
        .zip(&c[1..w - 1])
        .zip(&blurred[1..w - 1])
        .zip(lo.windows(3))
        .zip(hi.windows(3));
    for ((((o, &cv), &bl), l), u) in inner {
        *o = one(
            cv.to_f32(),
            bl,
            l[0].min(l[1]).min(l[2]),
            u[0].max(u[1]).max(u[2]),
        );
    }
}

/// The row passes built for AVX2 where the CPU has it (no FMA: the same pixels as the browser).
#[cfg(target_arch = "x86_64")]
mod wide {
    use super::*;

    #[target_feature(enable = "avx2")]
    pub(super) fn blur_h<T: Sample>(p: &mut Vec<f32>, line: &[T], k: &[f32], row: &mut [f32]) {
        blur_h_core(p, line, k, row)
    }

    #[target_feature(enable = "avx2")]
    pub(super) fn blur_v(t: &[f32], w: usize, h: usize, k: &[f32], y: usize, row: &mut [f32]) {
        blur_v_core(t, w, h, k, y, row)
    }

    #[target_feature(enable = "avx2")]
    pub(super) fn finish<T: Sample>(sc: &mut Scratch, j: &RowJob<'_, T>, y: usize, row: &mut [T]) {
        finish_core(sc, j, y, row)
    }
}

/// Separable blur with clamped borders.
fn blur<T: Sample>(src: &[T], w: usize, h: usize, k: &[f32], avx2: bool) -> Vec<f32> {
    #[cfg(not(target_arch = "x86_64"))]
    let _ = avx2;
    // Reused planes: the horizontal pass writes every value, the vertical one clears its row.
    let mut tmp = plane_buffer(w * h);
    for_rows(&mut tmp, w, |y, row| {
        let line = &src[y * w..(y + 1) * w];
        SCRATCH.with(|sc| {
            let padded = &mut sc.borrow_mut().padded;
            #[cfg(target_arch = "x86_64")]
            if avx2 {
                // SAFETY: the caller checked that the CPU has AVX2.
                return unsafe { wide::blur_h(padded, line, k, row) };
            }
            blur_h_core(padded, line, k, row)
        })
    });
    let mut out = plane_buffer(w * h);
    for_rows(&mut out, w, |y, row| {
        #[cfg(target_arch = "x86_64")]
        if avx2 {
            // SAFETY: the caller checked that the CPU has AVX2.
            return unsafe { wide::blur_v(&tmp, w, h, k, y, row) };
        }
        blur_v_core(&tmp, w, h, k, y, row)
    });
    recycle(tmp);
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
    let avx2 = use_avx2();
    let blurred = blur(src, w, h, &gaussian(s.radius.max(0.3)), avx2);
    let job = RowJob {
        src,
        blurred: &blurred,
        w,
        h,
        s,
        t: s.threshold * unit,
        // Overshoot allowed beyond the local range: a little, so edges still read as crisp.
        margin: 2.0 * unit,
        max,
    };
    let mut out = vec![T::from_u32(0); w * h];
    for_rows(&mut out, w, |y, row| {
        SCRATCH.with(|sc| {
            let sc = &mut *sc.borrow_mut();
            #[cfg(target_arch = "x86_64")]
            if avx2 {
                // SAFETY: the caller checked that the CPU has AVX2.
                return unsafe { wide::finish(sc, &job, y, row) };
            }
            finish_core(sc, &job, y, row)
        })
    });
    recycle(blurred);
    out
}

/// Sharpens the luma plane of `frame`; chroma is left as it is (sharpening chroma shows as colour
/// fringes, and chroma carries little of the perceived detail).
pub fn sharpen(frame: &Frame, s: &SharpenSettings) -> Frame {
    let unit = (1u32 << frame.bit_depth.saturating_sub(8)) as f32;
    let max = frame.max_value() as f32;
    let p = &frame.planes[0];
    if s.amount <= 0.0 {
        return frame.clone();
    }
    let samples = match &p.samples {
        Samples::U8(d) => Samples::U8(sharpen_plane(d, p.width, p.height, s, unit, max)),
        Samples::U16(d) => Samples::U16(sharpen_plane(d, p.width, p.height, s, unit, max)),
    };
    // Chroma copied as it is (not the luma it replaces).
    let mut planes = Vec::with_capacity(frame.planes.len());
    planes.push(Plane {
        width: p.width,
        height: p.height,
        samples,
    });
    planes.extend(frame.planes[1..].iter().cloned());
    frame.with_planes(planes)
}

#[cfg(test)]
mod tests {
    use super::*;

    // The per-pixel implementation the row passes replaced: they must give the same pixels.
    /// Separable blur with clamped borders.
    fn blur_reference<T: Sample>(src: &[T], w: usize, h: usize, k: &[f32]) -> Vec<f32> {
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

    fn sharpen_plane_reference<T: Sample>(
        src: &[T],
        w: usize,
        h: usize,
        s: &SharpenSettings,
        unit: f32,
        max: f32,
    ) -> Vec<T> {
        let blurred = blur_reference(src, w, h, &gaussian(s.radius.max(0.3)));
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

    #[test]
    fn row_passes_equal_the_per_pixel_reference() {
        let (w, h) = (203, 37);
        let mut seed = 99u32;
        let src: Vec<u8> = (0..w * h)
            .map(|i| {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                ((i % w) as u32 * 2 % 220 + (seed >> 28)) as u8
            })
            .collect();
        for (amount, radius, threshold) in [(1.0, 1.2, 2.0), (1.5, 0.5, 0.0), (0.7, 2.5, 6.0)] {
            let s = SharpenSettings {
                amount,
                radius,
                threshold,
            };
            // A larger plane first leaves stale values in the reused buffers.
            let big = vec![200u8; 4 * w * h];
            let _ = sharpen_plane(&big, 2 * w, 2 * h, &s, 1.0, 255.0);
            let want = sharpen_plane_reference(&src, w, h, &s, 1.0, 255.0);
            assert_eq!(sharpen_plane(&src, w, h, &s, 1.0, 255.0), want, "{s:?}");
            let wide: Vec<u16> = src.iter().map(|&v| u16::from(v) * 4 + 3).collect();
            let want = sharpen_plane_reference(&wide, w, h, &s, 4.0, 1023.0);
            assert_eq!(sharpen_plane(&wide, w, h, &s, 4.0, 1023.0), want, "{s:?}");
        }
    }
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
