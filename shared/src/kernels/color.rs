//! Manual colour adjustment in Y'CbCr through lookup tables: exact, fast, and the same on every target.

use crate::api::ColorParams;
use crate::frame::{Frame, Samples};

/// Builds the luma and chroma lookup tables for a frame's depth and range.
fn tables(p: &ColorParams, bit_depth: u8, full_range: bool) -> (Vec<u16>, Vec<u16>) {
    let max = ((1u32 << bit_depth) - 1) as f32;
    let scale = (1u32 << (bit_depth - 8)) as f32;
    let (y_lo, y_hi, c_lo, c_hi) = if full_range {
        (0.0, max, 0.0, max)
    } else {
        (16.0 * scale, 235.0 * scale, 16.0 * scale, 240.0 * scale)
    };
    let mid = 128.0 * scale;
    let n = 1usize << bit_depth;
    let luma = (0..n)
        .map(|v| {
            let t = (v as f32 - y_lo) / (y_hi - y_lo);
            let mut t = ((t - 0.5) * p.contrast + 0.5 + p.brightness).clamp(0.0, 1.0);
            if p.gamma != 1.0 {
                t = t.powf(1.0 / p.gamma);
            }
            (y_lo + t * (y_hi - y_lo)).round().clamp(0.0, max) as u16
        })
        .collect();
    let chroma = (0..n)
        .map(|v| {
            ((v as f32 - mid) * p.saturation + mid)
                .round()
                .clamp(c_lo, c_hi) as u16
        })
        .collect();
    (luma, chroma)
}

/// Applies brightness, contrast and gamma to luma and saturation to chroma, in place.
pub fn adjust(frame: &mut Frame, p: &ColorParams) {
    let (luma, chroma) = tables(p, frame.bit_depth, frame.colour.full_range);
    for (i, plane) in frame.planes.iter_mut().enumerate() {
        let lut = if i == 0 { &luma } else { &chroma };
        match &mut plane.samples {
            Samples::U8(d) => d.iter_mut().for_each(|s| *s = lut[*s as usize] as u8),
            Samples::U16(d) => {
                let top = lut.len() - 1;
                d.iter_mut().for_each(|s| *s = lut[(*s as usize).min(top)])
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{ChromaLayout, ColourInfo};

    #[test]
    fn identity_leaves_frame_unchanged() {
        let mut f = Frame::new(8, 4, ChromaLayout::Yuv420, 8, ColourInfo::default());
        if let Samples::U8(d) = &mut f.planes[0].samples {
            for (i, s) in d.iter_mut().enumerate() {
                *s = (16 + i * 7) as u8;
            }
        }
        let before = f.clone();
        adjust(&mut f, &ColorParams::default());
        assert_eq!(f, before);
    }

    #[test]
    fn zero_saturation_gives_grey_and_brightness_lifts_luma() {
        let mut f = Frame::new(4, 4, ChromaLayout::Yuv444, 10, ColourInfo::default());
        if let Samples::U16(d) = &mut f.planes[1].samples {
            d.iter_mut().for_each(|s| *s = 800);
        }
        adjust(
            &mut f,
            &ColorParams {
                saturation: 0.0,
                brightness: 0.5,
                ..Default::default()
            },
        );
        let Samples::U16(c) = &f.planes[1].samples else {
            panic!()
        };
        assert!(c.iter().all(|&s| s == 512));
        let Samples::U16(y) = &f.planes[0].samples else {
            panic!()
        };
        assert!(y.iter().all(|&s| s == 502), "{:?}", &y[..4]);
    }
}
