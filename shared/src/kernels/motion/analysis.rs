//! The small grey image motion is measured on. Analysis is much cheaper at a few hundred pixels
//! across, and box averaging also suppresses the noise that would only disturb tracking.

use crate::frame::{Frame, Samples};
use crate::kernels::{for_rows, Sample};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{ChromaLayout, ColourInfo};

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
}
