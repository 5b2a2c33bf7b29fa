//! Is a picture drawn (animation, cartoons, screen content) or filmed? `scale:model=auto` picks the
//! network by it: `fast` (Real-ESRGAN animevideov3, trained on animation) for drawn pictures, the
//! fidelity model for camera footage and photos.
//!
//! Two measures of one frame, both on 8-bit-equivalent code values:
//! - `flat`: the share of mid-tone pixels whose 3×3 neighbourhood spans at most one luma step.
//!   Drawn pictures are mostly flat fills; filmed ones carry grain and texture, but a blurred,
//!   heavily compressed background can be flat too (the handheld cockatoo clip: 0.52).
//! - `palette`: the share of pixels in the 16 most frequent colours (Y, Cb, Cr at 5 bits each).
//!   Drawn pictures use a few fills; filmed ones spread over thousands of shades, though a dim
//!   street at night comes near 0.6.
//!
//! A video is drawn when, averaged over its sampled frames, both are high ([`is_drawn`]): each
//! measure alone misfiles one of the shared clips, together they leave a margin on all of them
//! (measured in BENCHMARKS.md).

use crate::frame::{Frame, Samples};

/// The two measures of one frame (0…1 each).
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct ContentMeasure {
    pub flat: f32,
    pub palette: f32,
}

/// Averages at or above both make a video drawn.
pub const DRAWN_FLAT: f32 = 0.6;
pub const DRAWN_PALETTE: f32 = 0.75;

/// Whether frames with these measures are drawn rather than filmed (false with no frames).
pub fn is_drawn(measures: &[ContentMeasure]) -> bool {
    let m = mean(measures);
    !measures.is_empty() && m.flat >= DRAWN_FLAT && m.palette >= DRAWN_PALETTE
}

/// The average of `measures` (zeros with none).
pub fn mean(measures: &[ContentMeasure]) -> ContentMeasure {
    let n = measures.len().max(1) as f32;
    ContentMeasure {
        flat: measures.iter().map(|m| m.flat).sum::<f32>() / n,
        palette: measures.iter().map(|m| m.palette).sum::<f32>() / n,
    }
}

/// Code values of a plane, scaled to 8 bits.
fn eight_bit(samples: &Samples, depth: u8) -> Vec<u8> {
    match samples {
        Samples::U8(d) => d.clone(),
        Samples::U16(d) => {
            let shift = depth.saturating_sub(8);
            d.iter().map(|&v| (v >> shift).min(255) as u8).collect()
        }
    }
}

/// Measures one frame.
pub fn measure(f: &Frame) -> ContentMeasure {
    let (w, h) = (f.width, f.height);
    let Some(luma) = f.planes.first() else {
        return ContentMeasure::default();
    };
    let y = eight_bit(&luma.samples, f.bit_depth);
    ContentMeasure {
        flat: flat_share(&y, w, h),
        palette: palette_share(f, &y),
    }
}

/// Share of mid-tone pixels (24…232: not letterbox bars, not clipped highlights) whose 3×3
/// neighbourhood spans at most one step.
fn flat_share(y: &[u8], w: usize, h: usize) -> f32 {
    if w < 3 || h < 3 {
        return 0.0;
    }
    let (mut flat, mut counted) = (0u64, 0u64);
    for r in 1..h - 1 {
        for c in 1..w - 1 {
            let centre = y[r * w + c];
            if !(24..=232).contains(&centre) {
                continue;
            }
            counted += 1;
            let (mut lo, mut hi) = (centre, centre);
            for row in [r - 1, r, r + 1] {
                for &v in &y[row * w + c - 1..row * w + c + 2] {
                    lo = lo.min(v);
                    hi = hi.max(v);
                }
            }
            flat += u64::from(hi - lo <= 1);
        }
    }
    flat as f32 / counted.max(1) as f32
}

/// Share of pixels in the 16 most frequent colours, at 5 bits per component.
fn palette_share(f: &Frame, y: &[u8]) -> f32 {
    let (w, h) = (f.width, f.height);
    let (sx, sy) = f.layout.log2_subsampling();
    let chroma: Option<(Vec<u8>, Vec<u8>, usize)> = match (f.planes.get(1), f.planes.get(2)) {
        (Some(u), Some(v)) => Some((
            eight_bit(&u.samples, f.bit_depth),
            eight_bit(&v.samples, f.bit_depth),
            u.width,
        )),
        _ => None,
    };
    let mut counts = vec![0u32; 1 << 15];
    for r in 0..h {
        for c in 0..w {
            let (u, v) = match &chroma {
                Some((u, v, cw)) => {
                    let i = (r >> sy) * cw + (c >> sx);
                    (u[i], v[i])
                }
                None => (128, 128),
            };
            let key = (usize::from(y[r * w + c] >> 3) << 10)
                | (usize::from(u >> 3) << 5)
                | usize::from(v >> 3);
            counts[key] += 1;
        }
    }
    counts.sort_unstable_by(|a, b| b.cmp(a));
    let top: u64 = counts[..16].iter().map(|&c| u64::from(c)).sum();
    top as f32 / (w * h).max(1) as f32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{ChromaLayout, ColourInfo};

    fn frame(fill: impl Fn(usize, usize) -> u8) -> Frame {
        let mut f = Frame::new(64, 48, ChromaLayout::Yuv420, 8, ColourInfo::default());
        if let Samples::U8(d) = &mut f.planes[0].samples {
            for (i, v) in d.iter_mut().enumerate() {
                *v = fill(i % 64, i / 64);
            }
        }
        f
    }

    #[test]
    fn flat_fills_are_drawn_and_noise_is_not() {
        let cartoon = frame(|x, _| if x < 32 { 60 } else { 180 });
        let m = measure(&cartoon);
        assert!(m.flat > 0.9 && m.palette > 0.99, "{m:?}");
        assert!(is_drawn(&[m]));
        // A hash as grain over most of the range: every pixel differs from its neighbours.
        let grain = frame(|x, y| (30 + (x * 7919 + y * 104_729) % 191) as u8);
        let g = measure(&grain);
        assert!(g.flat < 0.05 && g.palette < 0.75, "{g:?}");
        assert!(!is_drawn(&[g]));
        assert!(!is_drawn(&[]));
    }
}
