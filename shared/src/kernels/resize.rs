//! Separable resampling (Lanczos-3, bicubic) per plane, with MPEG-2/H.264 chroma siting so that chroma
//! stays aligned with luma at any factor.

use super::{for_rows, pad_row, plane_buffer, portable, recycle, resize_int, use_avx2, Sample};
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
pub(super) struct Axis {
    pub(super) taps: usize,
    pub(super) index: Vec<u32>,
    pub(super) weight: Vec<f32>,
    /// `weight` in Q14 fixed point, summing to exactly 1 << 14 per output (the 8-bit path's).
    pub(super) weight_q14: Vec<i16>,
    /// Unclamped first source index per output position (for rows padded by `taps` each side).
    pub(super) first: Vec<i64>,
}

impl Axis {
    /// `scale` is source/destination length; `shift` moves the sampling grid (in source samples).
    pub(super) fn new(
        src_len: usize,
        dst_len: usize,
        scale: f64,
        shift: f64,
        filter: ResizeFilter,
    ) -> Axis {
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
        let weight_q14 = resize_int::q14_weights(&weight, taps);
        Axis {
            taps,
            index,
            weight,
            weight_q14,
            first: firsts,
        }
    }
}

/// Most outputs a filter may take to repeat before the phased horizontal pass is not worth it.
const MAX_PERIOD: usize = 64;

/// The outputs' filter repeats every `period` outputs, `step` source samples further on (×2:
/// 2 outputs, 1 sample; 1280→1920: 3 outputs, 2 samples). Outputs p, p + period, … then share one
/// set of weights and read source samples `step` apart.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Phases {
    pub(super) period: usize,
    pub(super) step: usize,
}

impl Axis {
    /// The period of this axis's filter, if it has a short one (bit-exact weights).
    pub(super) fn phases(&self) -> Option<Phases> {
        let (n, taps) = (self.first.len(), self.taps);
        let same = |a: usize, b: usize| {
            self.weight[a * taps..(a + 1) * taps]
                .iter()
                .zip(&self.weight[b * taps..(b + 1) * taps])
                .all(|(x, y)| x.to_bits() == y.to_bits())
        };
        (1..=MAX_PERIOD.min(n / 8)).find_map(|period| {
            let step = self.first[period] - self.first[0];
            let repeats = step >= 1
                && (period..n)
                    .all(|x| self.first[x] - self.first[x - period] == step && same(x, x - period));
            repeats.then_some(Phases {
                period,
                step: step as usize,
            })
        })
    }
}

/// An axis's filter: what it is computed from (the scale and shift as bits), and the result.
type AxisKey = (usize, usize, u64, u64, ResizeFilter);
pub(super) type CachedAxis = (std::sync::Arc<Axis>, Option<Phases>);

/// The axes of the last resizes: a video resizes every frame the same way, and computing the
/// weights (a sine per tap for Lanczos) cost as much as filtering a plane.
static AXES: std::sync::Mutex<Vec<(AxisKey, CachedAxis)>> = std::sync::Mutex::new(Vec::new());

/// Axes kept: luma and chroma, both directions, of two sizes.
const CACHED_AXES: usize = 8;

impl Axis {
    pub(super) fn cached(
        src_len: usize,
        dst_len: usize,
        scale: f64,
        shift: f64,
        filter: ResizeFilter,
    ) -> CachedAxis {
        let key = (src_len, dst_len, scale.to_bits(), shift.to_bits(), filter);
        let found = AXES
            .lock()
            .ok()
            .and_then(|c| c.iter().find(|(k, _)| *k == key).map(|(_, a)| a.clone()));
        if let Some(a) = found {
            return a;
        }
        let ax = Axis::new(src_len, dst_len, scale, shift, filter);
        let phases = ax.phases();
        let made = (std::sync::Arc::new(ax), phases);
        if let Ok(mut c) = AXES.lock() {
            if c.len() >= CACHED_AXES {
                c.remove(0);
            }
            c.push((key, made.clone()));
        }
        made
    }
}

/// Horizontal filtering with a fixed tap count over a padded row: a gather per output.
#[inline(always)]
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

/// Any tap count, a gather per output (the filters without a short period).
#[inline(always)]
fn h_pass_any(padded: &[f32], ax: &Axis, pad: usize, row: &mut [f32]) {
    match ax.taps {
        4 => h_pass::<4>(padded, ax, pad, row),
        6 => h_pass::<6>(padded, ax, pad, row),
        taps => {
            for (x, out) in row.iter_mut().enumerate() {
                let o = x * taps;
                let s0 = (ax.first[x] + pad as i64) as usize;
                let mut acc = 0f32;
                for (v, w) in padded[s0..s0 + taps].iter().zip(&ax.weight[o..o + taps]) {
                    acc += v * w;
                }
                *out = acc;
            }
        }
    }
}

/// Reusable buffers of one thread's horizontal passes.
#[derive(Default)]
struct Scratch {
    padded: Vec<f32>,
    split: Vec<f32>,
    acc: Vec<f32>,
}

std::thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// Horizontal filtering of a periodic filter, phase by phase: the padded row is split into
/// `step` interleaved rows so that each phase's outputs read contiguous samples, one tap at a time
/// over all of them, which vectorises. Each output sums the same products in the same order as
/// `h_pass_any`, so the pixels are identical (checked in the tests).
#[inline(always)]
fn h_pass_phased(sc: &mut Scratch, ax: &Axis, ph: Phases, pad: usize, row: &mut [f32]) {
    let (period, step, taps) = (ph.period, ph.step, ax.taps);
    let n = sc.padded.len();
    // One sample apart (upscaling by a whole factor): the padded row is read as it is.
    let len = if step == 1 { n } else { n.div_ceil(step) };
    if step > 1 {
        sc.split.clear();
        sc.split.resize(step * len, 0.0);
        for (r, part) in sc.split.chunks_mut(len).enumerate() {
            for (d, &v) in part.iter_mut().zip(sc.padded[r..].iter().step_by(step)) {
                *d = v;
            }
        }
    }
    let split = if step == 1 { &sc.padded } else { &sc.split };
    let outs = row.len().div_ceil(period);
    sc.acc.clear();
    sc.acc.resize(outs * period, 0.0);
    for p in 0..period.min(row.len()) {
        let acc = &mut sc.acc[p * outs..(p + 1) * outs];
        let outs = (row.len() - p).div_ceil(period);
        let w = &ax.weight[p * taps..(p + 1) * taps];
        let s0 = (ax.first[p] + pad as i64) as usize;
        for (k, &wk) in w.iter().enumerate() {
            let s = s0 + k;
            let from = (s % step) * len + s / step;
            for (a, &v) in acc[..outs].iter_mut().zip(&split[from..from + outs]) {
                *a += v * wk;
            }
        }
    }
    // Interleave the phases back into output order (two phases, the ×2 case, pair-wise).
    if period == 2 {
        let (even, odd) = sc.acc.split_at(outs);
        for ((pair, &e), &o) in row.chunks_exact_mut(2).zip(even).zip(odd) {
            pair[0] = e;
            pair[1] = o;
        }
        if row.len() % 2 == 1 {
            row[row.len() - 1] = even[outs - 1];
        }
    } else {
        for (p, acc) in sc.acc.chunks(outs).enumerate().take(row.len()) {
            for (out, &a) in row[p..].iter_mut().step_by(period).zip(acc) {
                *out = a;
            }
        }
    }
}

/// One row of the horizontal pass: the source row padded with its edge samples (so every output
/// reads `taps` contiguous samples), filtered phase by phase when the filter is periodic.
#[inline(always)]
fn h_core<T: Sample>(sc: &mut Scratch, line: &[T], ax: &Axis, ph: Option<Phases>, row: &mut [f32]) {
    let pad = ax.taps;
    pad_row(&mut sc.padded, line, pad);
    match ph {
        Some(ph) => h_pass_phased(sc, ax, ph, pad, row),
        None => h_pass_any(&sc.padded, ax, pad, row),
    }
}

/// One row of the vertical pass, rounded and clamped to `0..=max`.
#[inline(always)]
fn v_core<T: Sample>(
    acc: &mut Vec<f32>,
    tmp: &[f32],
    ay: &Axis,
    y: usize,
    max: u32,
    row: &mut [T],
) {
    let dw = row.len();
    let o = y * ay.taps;
    let maxf = max as f32;
    acc.clear();
    acc.resize(dw, 0.0);
    for t in 0..ay.taps {
        let w = ay.weight[o + t];
        let line = &tmp[ay.index[o + t] as usize * dw..][..dw];
        for (a, &s) in acc.iter_mut().zip(line) {
            *a += w * s;
        }
    }
    for (d, &a) in row.iter_mut().zip(acc.iter()) {
        // SAFETY: clamped to [0, max] (finite, below 2^16), so the conversion cannot overflow;
        // to i32, which vectorises (to u32 does not).
        *d = T::from_u32(unsafe { (a + 0.5).clamp(0.0, maxf).to_int_unchecked::<i32>() } as u32);
    }
}

/// The row passes compiled for AVX2 where the CPU has it (8 lanes instead of SSE2's 4). No FMA:
/// the same multiplies and adds in the same order, so the pixels equal the browser's.
#[cfg(target_arch = "x86_64")]
mod wide {
    use super::*;

    #[target_feature(enable = "avx2")]
    pub(super) fn h_core<T: Sample>(
        sc: &mut Scratch,
        line: &[T],
        ax: &Axis,
        ph: Option<Phases>,
        row: &mut [f32],
    ) {
        super::h_core(sc, line, ax, ph, row)
    }

    #[target_feature(enable = "avx2")]
    pub(super) fn v_core<T: Sample>(
        acc: &mut Vec<f32>,
        tmp: &[f32],
        ay: &Axis,
        y: usize,
        max: u32,
        row: &mut [T],
    ) {
        super::v_core(acc, tmp, ay, y, max, row)
    }
}

/// A horizontal row with this thread's buffers, in the widest build the CPU runs.
fn h_row<T: Sample>(line: &[T], ax: &Axis, ph: Option<Phases>, row: &mut [f32], avx2: bool) {
    SCRATCH.with(|sc| {
        let sc = &mut *sc.borrow_mut();
        #[cfg(target_arch = "x86_64")]
        if avx2 {
            // SAFETY: the caller checked that the CPU has AVX2.
            return unsafe { wide::h_core(sc, line, ax, ph, row) };
        }
        let _ = avx2;
        h_core(sc, line, ax, ph, row)
    })
}

/// A vertical row with this thread's buffers, in the widest build the CPU runs.
fn v_row<T: Sample>(tmp: &[f32], ay: &Axis, y: usize, max: u32, row: &mut [T], avx2: bool) {
    SCRATCH.with(|sc| {
        let acc = &mut sc.borrow_mut().acc;
        #[cfg(target_arch = "x86_64")]
        if avx2 {
            // SAFETY: the caller checked that the CPU has AVX2.
            return unsafe { wide::v_core(acc, tmp, ay, y, max, row) };
        }
        let _ = avx2;
        v_core(acc, tmp, ay, y, max, row)
    })
}

pub(super) fn resize_samples<T: Sample>(
    src: &[T],
    (sw, sh): (usize, usize),
    (dw, dh): (usize, usize),
    (scale_x, scale_y): (f64, f64),
    (shift_x, shift_y): (f64, f64),
    filter: ResizeFilter,
    max: u32,
) -> Vec<T> {
    let (ax, phases) = Axis::cached(sw, dw, scale_x, shift_x, filter);
    let (ay, _) = Axis::cached(sh, dh, scale_y, shift_y, filter);
    let avx2 = use_avx2();
    // Horizontal pass into f32 rows, then vertical pass with rounding.
    // Every value of `tmp` is written by the horizontal pass before the vertical one reads it.
    let mut tmp = plane_buffer(dw * sh);
    for_rows(&mut tmp, dw, |y, row| {
        h_row(&src[y * sw..(y + 1) * sw], &ax, phases, row, avx2)
    });
    let mut dst = vec![T::from_u32(0); dw * dh];
    for_rows(&mut dst, dw, |y, row| v_row(&tmp, &ay, y, max, row, avx2));
    recycle(tmp);
    dst
}

/// Resizes a frame to `dst_w`×`dst_h`. Chroma of 4:2:0/4:2:2 video is left-sited horizontally
/// (MPEG-2/H.264 default) or centred (JPEG, `chroma_center`), and centred vertically. 8-bit planes
/// take the integer path (`resize_int`), deeper ones the f32 path.
pub fn resize(src: &Frame, dst_w: usize, dst_h: usize, filter: ResizeFilter) -> Frame {
    let avx2 = use_avx2();
    resize_with(src, dst_w, dst_h, filter, |d, g, max| {
        resize_int::resize_u8(d, g, filter, max, avx2)
    })
}

/// Where and how a plane is resampled: source and destination sizes, scales and grid shifts.
pub(super) type Geometry = ((usize, usize), (usize, usize), (f64, f64), (f64, f64));

/// `resize` with the 8-bit planes resampled by `resize_u8` (the tests compare paths with it).
pub(super) fn resize_with(
    src: &Frame,
    dst_w: usize,
    dst_h: usize,
    filter: ResizeFilter,
    resize_u8: impl Fn(&[u8], Geometry, u32) -> Vec<u8>,
) -> Frame {
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
                Samples::U8(d) => Samples::U8(resize_u8(d, geom, max)),
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

    /// Phase-by-phase filtering gives the same f32 sums, bit for bit, as a gather per output.
    #[test]
    fn phased_pass_equals_the_gather_pass() {
        let mut seed = 7u32;
        let line: Vec<u8> = (0..1000)
            .map(|_| {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (seed >> 24) as u8
            })
            .collect();
        let mut periodic = 0;
        for (sw, dw, shift) in [
            (960, 1920, 0.0),
            (960, 1920, -0.25),
            (640, 960, 0.0),
            (1000, 500, 0.0),
            (999, 333, 0.0),
            (480, 1920, 0.0),
            (700, 1000, 0.0),
            (1000, 1000, 0.0),
        ] {
            for filter in [ResizeFilter::Lanczos3, ResizeFilter::Bicubic] {
                let scale = sw as f64 / dw as f64;
                let ax = Axis::new(sw, dw, scale, shift, filter);
                let (mut a, mut b) = (vec![0f32; dw], vec![0f32; dw]);
                let Some(ph) = ax.phases() else {
                    continue;
                };
                periodic += 1;
                h_row(&line[..sw], &ax, Some(ph), &mut a, false);
                h_row(&line[..sw], &ax, None, &mut b, false);
                let same = a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits());
                assert!(same, "{sw}->{dw} {filter:?} {ph:?}");
                if use_avx2() {
                    h_row(&line[..sw], &ax, Some(ph), &mut b, true);
                    assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()));
                }
            }
        }
        assert!(periodic >= 12, "{periodic}");
        let ax = |sw, dw| Axis::new(sw, dw, sw as f64 / dw as f64, 0.0, ResizeFilter::Lanczos3);
        let ph = |period, step| Some(Phases { period, step });
        assert_eq!(ax(960, 1920).phases(), ph(2, 1));
        assert_eq!(ax(1280, 1920).phases(), ph(3, 2));
        assert_eq!(ax(1920, 960).phases(), ph(1, 2));
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
