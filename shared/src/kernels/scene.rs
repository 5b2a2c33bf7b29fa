//! Frame signatures for scene detection: each plane averaged over a coarse grid of cells. Cell means
//! are linear in the pixels, so a dissolve's frames are exact blends of its ends' signatures (which is
//! how gradual transitions are told apart from camera motion), and they are small enough to keep for
//! every frame of a video.

use crate::frame::{Frame, Plane, Samples};
use serde::{Deserialize, Serialize};

/// Luma cells across and down; chroma uses half as many each way.
pub const LUMA_GRID: (usize, usize) = (32, 18);
const CHROMA_GRID: (usize, usize) = (LUMA_GRID.0 / 2, LUMA_GRID.1 / 2);
const LUMA_CELLS: usize = LUMA_GRID.0 * LUMA_GRID.1;
const CHROMA_CELLS: usize = CHROMA_GRID.0 * CHROMA_GRID.1;
/// Bytes in a signature: luma cells, then Cb, then Cr.
pub const SIGNATURE_LEN: usize = LUMA_CELLS + 2 * CHROMA_CELLS;

/// One frame's signature: 8-bit cell means of Y, Cb and Cr (Cb/Cr 128 for grey video).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature(pub Vec<u8>);

/// Cell means of `plane` over a `gw`×`gh` grid, scaled to 8 bits.
fn cell_means(plane: &Plane, bit_depth: u8, (gw, gh): (usize, usize), out: &mut Vec<u8>) {
    let (w, h) = (plane.width, plane.height);
    let shift = bit_depth.saturating_sub(8) as u32;
    for gy in 0..gh {
        let (y0, y1) = (gy * h / gh, ((gy + 1) * h / gh).max(gy * h / gh + 1).min(h));
        for gx in 0..gw {
            let (x0, x1) = (gx * w / gw, ((gx + 1) * w / gw).max(gx * w / gw + 1).min(w));
            let mut sum = 0u64;
            for y in y0..y1 {
                let row = y * w;
                sum += match &plane.samples {
                    Samples::U8(d) => d[row + x0..row + x1].iter().map(|&v| v as u64).sum::<u64>(),
                    Samples::U16(d) => d[row + x0..row + x1]
                        .iter()
                        .map(|&v| (v >> shift) as u64)
                        .sum::<u64>(),
                };
            }
            let n = ((y1 - y0) * (x1 - x0)).max(1) as u64;
            out.push(((sum + n / 2) / n).min(255) as u8);
        }
    }
}

/// The signature of `frame` (any layout and bit depth; frames smaller than the grid repeat pixels).
pub fn signature(frame: &Frame) -> Signature {
    let mut out = Vec::with_capacity(SIGNATURE_LEN);
    if frame.width == 0 || frame.height == 0 || frame.planes.is_empty() {
        out.resize(SIGNATURE_LEN, 0);
        return Signature(out);
    }
    cell_means(&frame.planes[0], frame.bit_depth, LUMA_GRID, &mut out);
    for p in 1..3 {
        match frame.planes.get(p) {
            Some(plane) if plane.width > 0 && plane.height > 0 => {
                cell_means(plane, frame.bit_depth, CHROMA_GRID, &mut out)
            }
            _ => out.resize(out.len() + CHROMA_CELLS, 128),
        }
    }
    Signature(out)
}

/// Mean absolute difference of two signatures (0…255): luma cells count twice as much as chroma.
pub fn distance(a: &Signature, b: &Signature) -> f32 {
    weighted(a.0.iter().zip(&b.0).map(|(&x, &y)| x as f32 - y as f32))
}

/// Distance between the distributions of the two signatures' luma and chroma cells (0…1, half the
/// L1 distance of 16-bin histograms, averaged over the planes): it ignores where things are, so a
/// camera jolt that moves the picture scores low while a cut to other content scores high.
pub fn histogram_distance(a: &Signature, b: &Signature) -> f32 {
    let planes = [
        (0, LUMA_CELLS),
        (LUMA_CELLS, CHROMA_CELLS),
        (LUMA_CELLS + CHROMA_CELLS, CHROMA_CELLS),
    ];
    let mut total = 0.0;
    for (start, len) in planes {
        let mut h = [0i32; 16];
        for (&x, &y) in a.0[start..start + len].iter().zip(&b.0[start..start + len]) {
            h[(x >> 4) as usize] += 1;
            h[(y >> 4) as usize] -= 1;
        }
        total += h.iter().map(|v| v.unsigned_abs()).sum::<u32>() as f32 / (2 * len) as f32;
    }
    total / 3.0
}

/// How far `mid` is from the blend of `a` and `b` at `t` (0 = a, 1 = b), on the scale of
/// [`distance`]: near 0 for a frame inside a dissolve or fade between `a` and `b`.
pub fn blend_residual(a: &Signature, mid: &Signature, b: &Signature, t: f32) -> f32 {
    weighted(
        a.0.iter()
            .zip(&mid.0)
            .zip(&b.0)
            .map(|((&x, &m), &y)| m as f32 - (x as f32 * (1.0 - t) + y as f32 * t)),
    )
}

/// Mean of |d| with luma weighted 2 and each chroma plane 1 (per cell, normalised by cell count).
fn weighted(diffs: impl Iterator<Item = f32>) -> f32 {
    let (mut luma, mut chroma) = (0.0f32, 0.0f32);
    for (i, d) in diffs.enumerate() {
        if i < LUMA_CELLS {
            luma += d.abs();
        } else {
            chroma += d.abs();
        }
    }
    (2.0 * luma / LUMA_CELLS as f32 + chroma / CHROMA_CELLS as f32) / 4.0
}

/// Mean luma of a signature (0…255), for telling fades through black from dissolves.
pub fn mean_luma(s: &Signature) -> f32 {
    s.0[..LUMA_CELLS.min(s.0.len())]
        .iter()
        .map(|&v| v as f32)
        .sum::<f32>()
        / LUMA_CELLS as f32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{ChromaLayout, ColourInfo};

    fn frame(f: impl Fn(usize, usize) -> u8) -> Frame {
        let mut fr = Frame::new(64, 36, ChromaLayout::Yuv420, 8, ColourInfo::default());
        if let Samples::U8(d) = &mut fr.planes[0].samples {
            for y in 0..36 {
                for x in 0..64 {
                    d[y * 64 + x] = f(x, y);
                }
            }
        }
        fr
    }

    #[test]
    fn identical_frames_have_distance_zero_and_a_blend_is_recognised() {
        let a = signature(&frame(|x, _| (x * 4) as u8));
        let b = signature(&frame(|_, y| (y * 7) as u8));
        let mid = signature(&frame(|x, y| ((x * 4 + y * 7) / 2) as u8));
        assert_eq!(a.0.len(), SIGNATURE_LEN);
        assert_eq!(distance(&a, &a), 0.0);
        assert!(distance(&a, &b) > 20.0);
        assert!(blend_residual(&a, &mid, &b, 0.5) < 0.6);
        assert!(blend_residual(&a, &a, &b, 0.5) > 10.0);
        // Moving the picture keeps its histogram; other content does not.
        let moved = signature(&frame(|x, _| (x * 4 + 8) as u8));
        assert!(histogram_distance(&a, &moved) < 0.1);
        let bright = signature(&frame(|x, _| (x * 2 + 128) as u8));
        assert!(histogram_distance(&a, &bright) > 0.1);
    }

    #[test]
    fn sixteen_bit_and_tiny_frames_are_handled() {
        let mut f = Frame::new(3, 2, ChromaLayout::Yuv420, 10, ColourInfo::default());
        if let Samples::U16(d) = &mut f.planes[0].samples {
            d.iter_mut().for_each(|v| *v = 1020);
        }
        let s = signature(&f);
        assert_eq!(s.0.len(), SIGNATURE_LEN);
        assert_eq!(s.0[0], 255);
        assert!((mean_luma(&s) - 255.0).abs() < 0.01);
    }
}
