//! Walking a frame: decode each chroma row's offsets once, run the per-pixel conversion over
//! whole batches of a row, and average the output chroma back per block. Rows (or chroma rows)
//! are independent work items, so the `parallel` feature can spread them over threads.

use std::borrow::Cow;

use super::lanes::{clamp_sel, lanes, round_to_u32, LANES};
use super::ycbcr::Decode;
use super::Pixel;
use crate::frame::{ChromaLayout, Frame, Plane, Samples};
use crate::kernels::{for_rows, Sample};

/// Code value → normalised Y' ([0, 1]) and Cb/Cr ([-0.5, 0.5]) for a depth and range.
#[derive(Clone, Copy)]
struct InputScale {
    ys: f32,
    yo: f32,
    cs: f32,
    co: f32,
}

impl InputScale {
    fn new(depth: u8, full_range: bool) -> InputScale {
        let depth = depth.clamp(8, 16);
        if full_range {
            let max = ((1u32 << depth) - 1) as f32;
            InputScale {
                ys: 1.0 / max,
                yo: 0.0,
                cs: 1.0 / max,
                co: -((1u32 << (depth - 1)) as f32) / max,
            }
        } else {
            let s = (1u32 << (depth - 8)) as f32;
            InputScale {
                ys: 1.0 / (219.0 * s),
                yo: -16.0 / 219.0,
                cs: 1.0 / (224.0 * s),
                co: -128.0 / 224.0,
            }
        }
    }
}

/// Normalised Y'/C → limited-range code values at the output depth, rounded and kept legal.
#[derive(Clone, Copy)]
struct OutputScale {
    s: f32,
}

impl OutputScale {
    #[inline(always)]
    fn luma(self, y: f32) -> u32 {
        round_to_u32(clamp_sel(y * 219.0 + 16.0, 16.0, 235.0) * self.s)
    }
    #[inline(always)]
    fn chroma(self, c: f32) -> u32 {
        round_to_u32(clamp_sel(c * 224.0 + 128.0, 16.0, 240.0) * self.s)
    }
}

/// Runs `px` over every luma sample, decoding with `dec`, reading chroma nearest-neighbour and
/// averaging the output chroma over each chroma block. Returns the planes at `depth`, limited
/// range.
pub(super) fn convert<F>(frame: &Frame, dec: &Decode, depth: u8, px: &F) -> Vec<Plane>
where
    F: Pixel,
{
    let (w, h) = (frame.width, frame.height);
    let n = frame.layout.planes();
    let (cw, ch) = frame.layout.chroma_size(w, h);
    let len = |s: &Samples| match s {
        Samples::U8(d) => d.len(),
        Samples::U16(d) => d.len(),
    };
    assert!(
        frame.planes.len() >= n
            && frame.planes[..n]
                .iter()
                .enumerate()
                .all(|(i, p)| len(&p.samples) >= if i == 0 { w * h } else { cw * ch }),
        "tonemap: planes do not match the {w}x{h} {:?} frame",
        frame.layout
    );
    let planes = &frame.planes[..n];
    let out = if planes.iter().all(|p| matches!(p.samples, Samples::U8(_))) {
        let src: Vec<&[u8]> = planes
            .iter()
            .map(|p| match &p.samples {
                Samples::U8(d) => d.as_slice(),
                Samples::U16(_) => unreachable!("checked above"),
            })
            .collect();
        run_to(frame, &src, dec, depth, px)
    } else {
        // Mixed storage only arises from a hand-built frame; widen to u16 and go on.
        let src: Vec<Cow<[u16]>> = planes
            .iter()
            .map(|p| match &p.samples {
                Samples::U8(d) => Cow::Owned(d.iter().map(|&v| v as u16).collect()),
                Samples::U16(d) => Cow::Borrowed(d.as_slice()),
            })
            .collect();
        let src: Vec<&[u16]> = src.iter().map(|c| c.as_ref()).collect();
        run_to(frame, &src, dec, depth, px)
    };
    out.into_iter()
        .enumerate()
        .map(|(i, samples)| {
            let (pw, ph) = if i == 0 { (w, h) } else { (cw, ch) };
            Plane {
                width: pw,
                height: ph,
                samples,
            }
        })
        .collect()
}

fn run_to<I: Sample, F>(
    frame: &Frame,
    src: &[&[I]],
    dec: &Decode,
    depth: u8,
    px: &F,
) -> Vec<Samples>
where
    F: Pixel,
{
    if depth > 8 {
        run::<I, u16, F>(frame, src, dec, depth, px)
            .into_iter()
            .map(Samples::U16)
            .collect()
    } else {
        run::<I, u8, F>(frame, src, dec, depth, px)
            .into_iter()
            .map(Samples::U8)
            .collect()
    }
}

fn run<I: Sample, O: Sample, F>(
    frame: &Frame,
    src: &[&[I]],
    dec: &Decode,
    depth: u8,
    px: &F,
) -> Vec<Vec<O>>
where
    F: Pixel,
{
    let (w, h) = (frame.width, frame.height);
    let inp = InputScale::new(frame.bit_depth, frame.colour.full_range);
    let q = OutputScale {
        s: (1u32 << (depth - 8)) as f32,
    };
    let luma = |s: I| s.to_f32() * inp.ys + inp.yo;
    let chroma = |s: I| s.to_f32() * inp.cs + inp.co;

    if w == 0 || h == 0 {
        return vec![Vec::new(); frame.layout.planes()];
    }
    let wp = w.div_ceil(LANES) * LANES;
    let scratch = || [0; 3].map(|_| vec![0f32; wp]);

    if frame.layout == ChromaLayout::Gray {
        let mut y = vec![O::from_u32(0); w * h];
        for_rows(&mut y, w, |row, out| {
            let (mut yin, off, mut ycc) = (vec![0f32; wp], scratch(), scratch());
            for (d, &s) in yin.iter_mut().zip(&src[0][row * w..][..w]) {
                *d = luma(s);
            }
            pixel_row(px, &yin, &off, &mut ycc);
            for (o, &v) in out.iter_mut().zip(&ycc[0]) {
                *o = O::from_u32(q.luma(v));
            }
        });
        return vec![y];
    }

    let (cw, ch) = frame.layout.chroma_size(w, h);
    let (sx, sy) = frame.layout.log2_subsampling();
    let rows = 1usize << sy;
    // One work item per chroma row: its luma rows, then its Cb and Cr rows.
    let chunk = rows * w + 2 * cw;
    let mut buf = vec![O::from_u32(0); chunk * ch];
    for_rows(&mut buf, chunk, |cy, out| {
        let (luma_out, chroma_out) = out.split_at_mut(rows * w);
        // Chroma's contribution to R', G', B' at every luma position of this chroma row.
        let (mut yin, mut off, mut ycc) = (vec![0f32; wp], scratch(), scratch());
        let (cb_in, cr_in) = (&src[1][cy * cw..][..cw], &src[2][cy * cw..][..cw]);
        for (cx, (&cb, &cr)) in cb_in.iter().zip(cr_in).enumerate() {
            let o = dec.offsets(chroma(cb), chroma(cr));
            let x0 = cx << sx;
            let x1 = (x0 + (1 << sx)).min(w);
            for (plane, v) in off.iter_mut().zip(o) {
                plane[x0..x1].fill(v);
            }
        }
        let mut acc = vec![[0f32; 2]; cw];
        let y0 = cy << sy;
        let y1 = (y0 + rows).min(h);
        for (yy, o) in (y0..y1).zip(luma_out.chunks_exact_mut(w)) {
            for (d, &s) in yin.iter_mut().zip(&src[0][yy * w..][..w]) {
                *d = luma(s);
            }
            pixel_row(px, &yin, &off, &mut ycc);
            for (o, &v) in o.iter_mut().zip(&ycc[0]) {
                *o = O::from_u32(q.luma(v));
            }
            for (x, (&cb, &cr)) in ycc[1][..w].iter().zip(&ycc[2][..w]).enumerate() {
                let a = &mut acc[x >> sx];
                a[0] += cb;
                a[1] += cr;
            }
        }
        let nrows = (y1 - y0) as f32;
        let (cb_out, cr_out) = chroma_out.split_at_mut(cw);
        for (cx, ((ob, or), a)) in cb_out
            .iter_mut()
            .zip(cr_out.iter_mut())
            .zip(&acc)
            .enumerate()
        {
            let cols = (w - (cx << sx)).min(1 << sx) as f32;
            let inv = 1.0 / (nrows * cols);
            *ob = O::from_u32(q.chroma(a[0] * inv));
            *or = O::from_u32(q.chroma(a[1] * inv));
        }
    });

    let (mut y, mut cb, mut cr) = (
        Vec::with_capacity(w * h),
        Vec::with_capacity(cw * ch),
        Vec::with_capacity(cw * ch),
    );
    for (cy, c) in buf.chunks_exact(chunk).enumerate() {
        let n = ((cy << sy) + rows).min(h) - (cy << sy);
        y.extend_from_slice(&c[..n * w]);
        cb.extend_from_slice(&c[rows * w..][..cw]);
        cr.extend_from_slice(&c[rows * w + cw..][..cw]);
    }
    vec![y, cb, cr]
}

/// Runs `px` over one row, a batch at a time: Y' plus the chroma offsets for each of R', G', B'
/// in, Y', Cb, Cr out. All slices are padded to whole batches.
#[inline(always)]
fn pixel_row<F: Pixel>(px: &F, y: &[f32], off: &[Vec<f32>; 3], out: &mut [Vec<f32>; 3]) {
    let [o0, o1, o2] = out;
    let outs = o0
        .as_chunks_mut::<LANES>()
        .0
        .iter_mut()
        .zip(o1.as_chunks_mut::<LANES>().0)
        .zip(o2.as_chunks_mut::<LANES>().0);
    let ins = y
        .as_chunks::<LANES>()
        .0
        .iter()
        .zip(off[0].as_chunks::<LANES>().0)
        .zip(off[1].as_chunks::<LANES>().0)
        .zip(off[2].as_chunks::<LANES>().0);
    for ((((y, dr), dg), db), ((a, b), c)) in ins.zip(outs) {
        let [ry, rcb, rcr] = px.px([
            lanes(|j| y[j] + dr[j]),
            lanes(|j| y[j] + dg[j]),
            lanes(|j| y[j] + db[j]),
        ]);
        (*a, *b, *c) = (ry, rcb, rcr);
    }
}
