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

/// Samples of one plane as they lie in memory: `stride` samples from one row to the next. The
/// decoder's own buffers are read through this, with no copy into a [`Frame`] first.
#[derive(Debug, Clone, Copy)]
pub enum PlaneSamples<'a> {
    U8(&'a [u8]),
    U16(&'a [u16]),
}

/// One plane borrowed for a signature.
#[derive(Debug, Clone, Copy)]
pub struct PlaneRef<'a> {
    pub width: usize,
    pub height: usize,
    pub stride: usize,
    pub samples: PlaneSamples<'a>,
}

impl<'a> From<&'a Plane> for PlaneRef<'a> {
    fn from(p: &'a Plane) -> Self {
        PlaneRef {
            width: p.width,
            height: p.height,
            stride: p.width,
            samples: match &p.samples {
                Samples::U8(d) => PlaneSamples::U8(d),
                Samples::U16(d) => PlaneSamples::U16(d),
            },
        }
    }
}

/// Adds one row, reduced to 8 bits, to the column sums (u16 lanes: the compiler adds 8–16 samples
/// per instruction; a missing row adds nothing).
fn add_row(cols: &mut [u16], samples: PlaneSamples, at: usize, shift: u32) {
    match samples {
        PlaneSamples::U8(d) => {
            if let Some(r) = d.get(at..at + cols.len()) {
                for (c, &v) in cols.iter_mut().zip(r) {
                    *c += v as u16;
                }
            }
        }
        PlaneSamples::U16(d) => {
            if let Some(r) = d.get(at..at + cols.len()) {
                for (c, &v) in cols.iter_mut().zip(r) {
                    *c += (v >> shift).min(255);
                }
            }
        }
    }
}

/// Cell means of `plane` over a `gw`×`gh` grid, scaled to 8 bits: each band of rows is summed
/// down the columns first (a streaming add over the whole plane), then across each cell.
fn cell_means(plane: PlaneRef, bit_depth: u8, (gw, gh): (usize, usize), out: &mut Vec<u8>) {
    let (w, h) = (plane.width, plane.height);
    let shift = bit_depth.saturating_sub(8) as u32;
    let mut narrow = vec![0u16; w];
    let mut wide = vec![0u32; w];
    for gy in 0..gh {
        let (y0, y1) = (gy * h / gh, ((gy + 1) * h / gh).max(gy * h / gh + 1).min(h));
        wide.fill(0);
        // 257 rows of 255 would overflow a u16 lane: fold into u32 every 256 rows.
        for top in (y0..y1).step_by(256) {
            narrow.fill(0);
            for y in top..(top + 256).min(y1) {
                add_row(&mut narrow, plane.samples, y * plane.stride, shift);
            }
            for (a, &n) in wide.iter_mut().zip(&narrow) {
                *a += n as u32;
            }
        }
        for gx in 0..gw {
            let (x0, x1) = (gx * w / gw, ((gx + 1) * w / gw).max(gx * w / gw + 1).min(w));
            let sum: u64 = wide[x0..x1].iter().map(|&v| v as u64).sum();
            let n = ((y1 - y0) * (x1 - x0)).max(1) as u64;
            out.push(((sum + n / 2) / n).min(255) as u8);
        }
    }
}

/// The signature of `frame` (any layout and bit depth; frames smaller than the grid repeat pixels).
pub fn signature(frame: &Frame) -> Signature {
    let planes: Vec<PlaneRef> = frame.planes.iter().map(PlaneRef::from).collect();
    signature_of(&planes, frame.bit_depth)
}

/// The signature of a frame given as its planes (Y, then Cb and Cr when it has them).
pub fn signature_of(planes: &[PlaneRef], bit_depth: u8) -> Signature {
    let mut out = Vec::with_capacity(SIGNATURE_LEN);
    match planes.first() {
        Some(luma) if luma.width > 0 && luma.height > 0 => {
            cell_means(*luma, bit_depth, LUMA_GRID, &mut out)
        }
        _ => {
            out.resize(SIGNATURE_LEN, 0);
            return Signature(out);
        }
    }
    for p in 1..3 {
        match planes.get(p) {
            Some(plane) if plane.width > 0 && plane.height > 0 => {
                cell_means(*plane, bit_depth, CHROMA_GRID, &mut out)
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

    #[test]
    fn strided_planes_match_packed_ones_and_tall_bands_do_not_overflow() {
        let f = frame(|x, y| ((x * 7 + y * 13) % 251) as u8);
        // The same planes with 5 bytes of padding after every row, as a decoder lays them out.
        let padded: Vec<Vec<u8>> = f
            .planes
            .iter()
            .map(|p| match &p.samples {
                Samples::U8(d) => d
                    .chunks(p.width)
                    .flat_map(|row| row.iter().copied().chain([9u8; 5]))
                    .collect(),
                Samples::U16(_) => unreachable!("8-bit frame"),
            })
            .collect();
        let refs: Vec<PlaneRef> = f
            .planes
            .iter()
            .zip(&padded)
            .map(|(p, d)| PlaneRef {
                width: p.width,
                height: p.height,
                stride: p.width + 5,
                samples: PlaneSamples::U8(d),
            })
            .collect();
        assert_eq!(signature_of(&refs, 8), signature(&f));
        // 5000 rows of 255 make bands of 277 rows: more than a u16 column sum holds.
        let tall = vec![255u8; 32 * 5000];
        let plane = PlaneRef {
            width: 32,
            height: 5000,
            stride: 32,
            samples: PlaneSamples::U8(&tall),
        };
        let s = signature_of(&[plane], 8);
        assert!(s.0[..LUMA_CELLS].iter().all(|&v| v == 255));
        assert!(s.0[LUMA_CELLS..].iter().all(|&v| v == 128));
    }
}
