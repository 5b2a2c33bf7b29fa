//! Separable resampling (Lanczos-3, bicubic) per plane, with MPEG-2/H.264 chroma siting so that chroma
//! stays aligned with luma at any factor.

use super::{for_rows, portable, Sample};
use crate::api::ResizeFilter;
use crate::frame::{ChromaLayout, Frame, Plane, Samples};

impl ResizeFilter {
    fn radius(self) -> f32 {
        match self {
            ResizeFilter::Lanczos3 => 3.0,
            ResizeFilter::Bicubic => 2.0,
        }
    }

    fn weight(self, x: f32) -> f32 {
        let x = x.abs();
        match self {
            ResizeFilter::Lanczos3 => {
                if x < 1e-6 {
                    1.0
                } else if x < 3.0 {
                    // In f64 with a portable sine: platform sinf differs between targets.
                    let px = std::f64::consts::PI * x as f64;
                    (3.0 * portable::sin(px) * portable::sin(px / 3.0) / (px * px)) as f32
                } else {
                    0.0
                }
            }
            // Catmull-Rom (Keys, a = -0.5): interpolating, sharp, no ringing beyond one lobe.
            ResizeFilter::Bicubic => {
                let a = -0.5;
                if x < 1.0 {
                    ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
                } else if x < 2.0 {
                    ((a * x - 5.0 * a) * x + 8.0 * a) * x - 4.0 * a
                } else {
                    0.0
                }
            }
        }
    }
}

/// Source indices and normalised weights for every output position along one axis.
struct Axis {
    taps: usize,
    index: Vec<u32>,
    weight: Vec<f32>,
    /// Unclamped first source index per output position (for rows padded by `taps` each side).
    first: Vec<i64>,
}

impl Axis {
    /// `scale` is source/destination length; `shift` moves the sampling grid (in source samples).
    fn new(src_len: usize, dst_len: usize, scale: f64, shift: f64, filter: ResizeFilter) -> Axis {
        let stretch = scale.max(1.0);
        let support = filter.radius() as f64 * stretch;
        // Taps first+1 … first+ceil(2·support) cover every non-zero weight.
        let taps = ((2.0 * support).ceil() as usize).max(1);
        let mut index = Vec::with_capacity(dst_len * taps);
        let mut weight = Vec::with_capacity(dst_len * taps);
        let mut firsts = Vec::with_capacity(dst_len);
        let last = src_len as i64 - 1;
        for i in 0..dst_len {
            let center = (i as f64 + 0.5) * scale - 0.5 + shift;
            let first = (center - support).floor() as i64 + 1;
            firsts.push(first);
            let start = weight.len();
            let mut sum = 0.0f64;
            for t in 0..taps as i64 {
                let j = first + t;
                let w = filter.weight(((j as f64 - center) / stretch) as f32) as f64;
                sum += w;
                index.push(j.clamp(0, last) as u32);
                weight.push(w as f32);
            }
            if sum.abs() > 1e-12 {
                for w in &mut weight[start..] {
                    *w = (*w as f64 / sum) as f32;
                }
            }
        }
        Axis {
            taps,
            index,
            weight,
            first: firsts,
        }
    }
}

/// Horizontal filtering with a fixed tap count over a padded row.
fn h_pass<const N: usize>(padded: &[f32], ax: &Axis, pad: usize, row: &mut [f32]) {
    for (x, out) in row.iter_mut().enumerate() {
        let s0 = (ax.first[x] + pad as i64) as usize;
        let v: &[f32; N] = padded[s0..s0 + N].try_into().unwrap_or(&[0.0; N]);
        let w: &[f32; N] = ax.weight[x * N..x * N + N].try_into().unwrap_or(&[0.0; N]);
        let mut acc = 0f32;
        for k in 0..N {
            acc += v[k] * w[k];
        }
        *out = acc;
    }
}

fn resize_samples<T: Sample>(
    src: &[T],
    (sw, sh): (usize, usize),
    (dw, dh): (usize, usize),
    (scale_x, scale_y): (f64, f64),
    (shift_x, shift_y): (f64, f64),
    filter: ResizeFilter,
    max: u32,
) -> Vec<T> {
    let ax = Axis::new(sw, dw, scale_x, shift_x, filter);
    let ay = Axis::new(sh, dh, scale_y, shift_y, filter);
    // Horizontal pass into f32 rows, then vertical pass with rounding.
    let mut tmp = vec![0f32; dw * sh];
    // Rows are padded with their edge samples so every output reads `taps` contiguous samples:
    // fixed-length dot products the compiler unrolls and vectorises.
    let pad = ax.taps;
    for_rows(&mut tmp, dw, |y, row| {
        let line = &src[y * sw..(y + 1) * sw];
        let padded: Vec<f32> = (0..sw + 2 * pad)
            .map(|k| line[k.saturating_sub(pad).min(sw - 1)].to_f32())
            .collect();
        match ax.taps {
            4 => h_pass::<4>(&padded, &ax, pad, row),
            6 => h_pass::<6>(&padded, &ax, pad, row),
            _ => {
                for (x, out) in row.iter_mut().enumerate() {
                    let o = x * ax.taps;
                    let s0 = (ax.first[x] + pad as i64) as usize;
                    let taps = &padded[s0..s0 + ax.taps];
                    *out = taps
                        .iter()
                        .zip(&ax.weight[o..o + ax.taps])
                        .map(|(v, w)| v * w)
                        .sum();
                }
            }
        }
    });
    let mut dst = vec![T::from_u32(0); dw * dh];
    let maxf = max as f32;
    for_rows(&mut dst, dw, |y, row| {
        let o = y * ay.taps;
        let mut acc = vec![0f32; dw];
        for t in 0..ay.taps {
            let w = ay.weight[o + t];
            let line = &tmp[ay.index[o + t] as usize * dw..][..dw];
            for (a, &s) in acc.iter_mut().zip(line) {
                *a += w * s;
            }
        }
        for (d, a) in row.iter_mut().zip(acc) {
            // SAFETY: clamped to [0, max] (finite), so the conversion cannot overflow; the checked
            // `as` costs a tenth of the whole resize here.
            *d = T::from_u32(unsafe { (a + 0.5).clamp(0.0, maxf).to_int_unchecked::<u32>() });
        }
    });
    dst
}

/// Resizes a frame to `dst_w`×`dst_h`. Chroma of 4:2:0/4:2:2 video is left-sited horizontally
/// (MPEG-2/H.264 default) or centred (JPEG, `chroma_center`), and centred vertically.
pub fn resize(src: &Frame, dst_w: usize, dst_h: usize, filter: ResizeFilter) -> Frame {
    let sx = src.width as f64 / dst_w as f64;
    let sy = src.height as f64 / dst_h as f64;
    let max = src.max_value();
    let (cw, ch) = src.layout.chroma_size(dst_w, dst_h);
    let (log_x, _) = src.layout.log2_subsampling();
    let planes = src
        .planes
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let (w, h) = if i == 0 { (dst_w, dst_h) } else { (cw, ch) };
            let shift_x = if i > 0 && log_x == 1 && !src.colour.chroma_center {
                -(sx - 1.0) / 4.0
            } else {
                0.0
            };
            let geom = ((p.width, p.height), (w, h), (sx, sy), (shift_x, 0.0));
            let samples = match &p.samples {
                Samples::U8(d) => Samples::U8(resize_samples(
                    d, geom.0, geom.1, geom.2, geom.3, filter, max,
                )),
                Samples::U16(d) => Samples::U16(resize_samples(
                    d, geom.0, geom.1, geom.2, geom.3, filter, max,
                )),
            };
            Plane {
                width: w,
                height: h,
                samples,
            }
        })
        .collect();
    Frame {
        width: dst_w,
        height: dst_h,
        layout: src.layout,
        bit_depth: src.bit_depth,
        planes,
        colour: src.colour,
    }
}

/// The alignment a layout needs for its luma size (even sizes keep 4:2:0 chroma whole).
pub fn alignment(layout: ChromaLayout) -> u32 {
    let (x, y) = layout.log2_subsampling();
    1 << x.max(y)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::ColourInfo;

    fn ramp(w: usize, h: usize) -> Frame {
        let mut f = Frame::new(w, h, ChromaLayout::Yuv420, 8, ColourInfo::default());
        if let Samples::U8(d) = &mut f.planes[0].samples {
            for y in 0..h {
                for x in 0..w {
                    d[y * w + x] = (16 + (x * 200) / w) as u8;
                }
            }
        }
        f
    }

    #[test]
    fn same_size_is_identity() {
        let f = ramp(64, 32);
        for filter in [ResizeFilter::Lanczos3, ResizeFilter::Bicubic] {
            assert_eq!(resize(&f, 64, 32, filter), f);
        }
    }

    #[test]
    fn flat_stays_flat_and_sizes_are_right() {
        let f = Frame::new(50, 30, ChromaLayout::Yuv420, 10, ColourInfo::default());
        let g = resize(&f, 200, 120, ResizeFilter::Lanczos3);
        assert_eq!((g.planes[1].width, g.planes[1].height), (100, 60));
        assert_eq!(g.planes[0].samples, Samples::U16(vec![64; 200 * 120]));
        assert_eq!(g.planes[2].samples, Samples::U16(vec![512; 100 * 60]));
    }

    #[test]
    fn downscale_of_ramp_stays_monotonic() {
        let f = ramp(256, 8);
        let g = resize(&f, 64, 2, ResizeFilter::Lanczos3);
        let Samples::U8(d) = &g.planes[0].samples else {
            panic!()
        };
        let row = &d[..64];
        assert!(row.windows(2).all(|w| w[0] <= w[1]), "{row:?}");
    }
}
