//! The 8-bit resize in integer fixed point: Q14 weights and an i16 intermediate plane with 6
//! fractional bits. Integer sums are exact whatever their order, so the AVX2 build, the plain
//! build and the browser's wasm32 build give the same pixels by construction, and 16-bit lanes
//! (`madd`: two products and their sum per 32-bit lane) do twice the work of f32 lanes.
//!
//! Ranges: the weights of one output sum to 1 << 14, their positive ones to at most 1.28 << 14
//! and their negative ones to at least -0.28 << 14 (Lanczos-3's lobes, at any phase and scale;
//! bicubic 1.125 and -0.125). So the horizontal sums of u8 samples stay within ±2^23, the
//! intermediate (255 × 64 plus overshoot) within -4 500 … 20 800, well inside i16, and the
//! vertical sums of those within ±2^29, well inside i32. Nothing saturates or wraps, in any build.

use super::resize::{Axis, Geometry, Phases};
use super::{for_rows, plane_buffer, recycle};
use crate::api::ResizeFilter;

/// Fractional bits of the weights: 1 << 14 is one.
const WEIGHT_BITS: u32 = 14;
/// Fractional bits of the intermediate plane: 6 keeps 255 × 64 plus Lanczos overshoot in i16.
const TMP_BITS: u32 = 6;
/// Horizontal sums (Q14 × samples) to the intermediate (Q6).
const H_SHIFT: u32 = WEIGHT_BITS - TMP_BITS;
/// Vertical sums (Q14 × Q6) to samples.
const V_SHIFT: u32 = WEIGHT_BITS + TMP_BITS;

/// Q14 weights of `taps` f32 weights per output: each rounded, then the residual added to the
/// largest tap so that every output's weights sum to exactly 1 << 14 (a flat picture stays flat,
/// and the same size is the identity). Never -32768, so no `madd` pair can overflow.
pub(super) fn q14_weights(weight: &[f32], taps: usize) -> Vec<i16> {
    let one = 1i32 << WEIGHT_BITS;
    let mut out = Vec::with_capacity(weight.len());
    for w in weight.chunks(taps.max(1)) {
        let start = out.len();
        out.extend(w.iter().map(|&w| {
            (w as f64 * one as f64)
                .round()
                .clamp(-i16::MAX as f64, i16::MAX as f64) as i16
        }));
        let q = &mut out[start..];
        let residual = one - q.iter().map(|&v| v as i32).sum::<i32>();
        let largest = (0..q.len()).fold(0, |b, i| {
            if q[i].unsigned_abs() > q[b].unsigned_abs() {
                i
            } else {
                b
            }
        });
        if let Some(v) = q.get_mut(largest) {
            *v = (*v as i32 + residual).clamp(-i16::MAX as i32, i16::MAX as i32) as i16;
        }
    }
    out
}

/// A sum narrowed to what a pass stores: the intermediate (i16) or the samples (u8).
trait Narrow: Copy {
    fn narrow(acc: i32, max: i32) -> Self;
}

impl Narrow for i16 {
    /// Rounded to Q6 (arithmetic shift, so negative lobes round the same way everywhere); the
    /// clamp never bites (see the module's ranges) but matches AVX2's saturating pack if it did.
    #[inline(always)]
    fn narrow(acc: i32, _: i32) -> i16 {
        ((acc + (1 << (H_SHIFT - 1))) >> H_SHIFT).clamp(i16::MIN as i32, i16::MAX as i32) as i16
    }
}

impl Narrow for u8 {
    #[inline(always)]
    fn narrow(acc: i32, max: i32) -> u8 {
        ((acc + (1 << (V_SHIFT - 1))) >> V_SHIFT).clamp(0, max) as u8
    }
}

/// `out[x] = narrow(Σ_k w[k] · src[offs[k] + x])`: one tap at a time over the whole row into
/// `acc`, which the compiler vectorises for any target (the wasm32 and non-AVX2 path).
#[inline(always)]
fn dot_rows<O: Narrow>(
    src: &[i16],
    offs: &[usize],
    w: &[i16],
    acc: &mut Vec<i32>,
    max: i32,
    out: &mut [O],
) {
    let n = out.len();
    acc.clear();
    acc.resize(n, 0);
    for (&o, &wk) in offs.iter().zip(w) {
        let wk = wk as i32;
        for (a, &s) in acc.iter_mut().zip(&src[o..o + n]) {
            *a += s as i32 * wk;
        }
    }
    for (d, &a) in out.iter_mut().zip(acc.iter()) {
        *d = O::narrow(a, max);
    }
}

/// One output of `dot_rows` (the AVX2 pass's last few of a row).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn dot_at<O: Narrow>(src: &[i16], offs: &[usize], w: &[i16], max: i32, x: usize) -> O {
    let acc = offs
        .iter()
        .zip(w)
        .fold(0i32, |a, (&o, &wk)| a + src[o + x] as i32 * wk as i32);
    O::narrow(acc, max)
}

/// Reusable buffers of one thread's row passes.
#[derive(Default)]
struct Scratch {
    /// The source row as i16, with `taps` copies of its edge samples each side.
    padded: Vec<i16>,
    /// `padded` split into `step` interleaved rows (filters that advance `step` > 1 per period).
    split: Vec<i16>,
    /// Each phase's outputs, before they are interleaved into the row.
    phase: Vec<i16>,
    /// Sums of the portable path.
    acc: Vec<i32>,
    /// Where each tap's source row starts.
    offs: Vec<usize>,
    /// Weight pairs of the AVX2 path.
    pairs: Vec<i32>,
}

std::thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// One row of the horizontal pass into the intermediate. A periodic filter (×2: even and odd
/// outputs each share one set of weights) is filtered phase by phase, each phase reading
/// contiguous samples (after splitting the row into `step` interleaved rows), which vectorises;
/// any other filter gathers its taps per output.
#[inline(always)]
fn h_row(
    sc: &mut Scratch,
    line: &[u8],
    ax: &Axis,
    ph: Option<Phases>,
    row: &mut [i16],
    avx2: bool,
) {
    let (Some(&first), Some(&last)) = (line.first(), line.last()) else {
        row.fill(0);
        return;
    };
    let Scratch {
        padded,
        split,
        phase,
        acc,
        offs,
        pairs,
    } = sc;
    let (pad, taps) = (ax.taps, ax.taps);
    padded.clear();
    padded.resize(pad, first as i16);
    padded.extend(line.iter().map(|&v| v as i16));
    padded.resize(line.len() + 2 * pad, last as i16);
    let Some(ph) = ph else {
        for (x, out) in row.iter_mut().enumerate() {
            let s0 = (ax.first[x] + pad as i64) as usize;
            let w = &ax.weight_q14[x * taps..(x + 1) * taps];
            let sum = padded[s0..s0 + taps]
                .iter()
                .zip(w)
                .fold(0i32, |a, (&v, &wk)| a + v as i32 * wk as i32);
            *out = i16::narrow(sum, 0);
        }
        return;
    };
    let (period, step) = (ph.period, ph.step);
    let n = padded.len();
    let len = if step == 1 { n } else { n.div_ceil(step) };
    if step > 1 {
        split.clear();
        split.resize(step * len, 0);
        for (r, part) in split.chunks_mut(len).enumerate() {
            for (d, &v) in part.iter_mut().zip(padded[r..].iter().step_by(step)) {
                *d = v;
            }
        }
    }
    let src: &[i16] = if step == 1 { padded } else { split };
    // Where phase p's taps start in `src`.
    let tap_offs = |p: usize, offs: &mut Vec<usize>| {
        let s0 = (ax.first[p] + pad as i64) as usize;
        offs.extend((s0..s0 + taps).map(|s| (s % step) * len + s / step));
    };
    #[cfg(target_arch = "x86_64")]
    if avx2 && period == 2 && row.len() >= 2 {
        offs.clear();
        tap_offs(0, offs);
        tap_offs(1, offs);
        // SAFETY: `resize_u8` passes `avx2` only where the CPU has AVX2.
        return unsafe { wide::dot_rows_x2(src, offs, &ax.weight_q14[..2 * taps], pairs, row) };
    }
    let outs = row.len().div_ceil(period);
    phase.clear();
    phase.resize(outs * period, 0);
    for p in 0..period.min(row.len()) {
        let n_p = (row.len() - p).div_ceil(period);
        let w = &ax.weight_q14[p * taps..(p + 1) * taps];
        offs.clear();
        tap_offs(p, offs);
        let out = &mut phase[p * outs..p * outs + n_p];
        #[cfg(target_arch = "x86_64")]
        if avx2 {
            // SAFETY: `resize_u8` passes `avx2` only where the CPU has AVX2.
            unsafe { wide::dot_rows_i16(src, offs, w, pairs, out) };
            continue;
        }
        let _ = (avx2, &pairs);
        dot_rows(src, offs, w, acc, 0, out);
    }
    // Interleave the phases back into output order (two phases, the ×2 case, pair-wise).
    if period == 2 {
        let (even, odd) = phase.split_at(outs);
        for ((pair, &e), &o) in row.chunks_exact_mut(2).zip(even).zip(odd) {
            pair[0] = e;
            pair[1] = o;
        }
        if row.len() % 2 == 1 {
            row[row.len() - 1] = even[outs - 1];
        }
    } else {
        for (p, part) in phase.chunks(outs).enumerate().take(row.len()) {
            for (out, &a) in row[p..].iter_mut().step_by(period).zip(part) {
                *out = a;
            }
        }
    }
}

/// One row of the vertical pass: `taps` rows of the intermediate, rounded and clamped to `0..=max`.
#[inline(always)]
fn v_row(sc: &mut Scratch, tmp: &[i16], ay: &Axis, y: usize, max: i32, row: &mut [u8], avx2: bool) {
    let (dw, taps) = (row.len(), ay.taps);
    let o = y * taps;
    sc.offs.clear();
    sc.offs
        .extend(ay.index[o..o + taps].iter().map(|&i| i as usize * dw));
    let w = &ay.weight_q14[o..o + taps];
    #[cfg(target_arch = "x86_64")]
    if avx2 {
        // SAFETY: `resize_u8` passes `avx2` only where the CPU has AVX2.
        return unsafe { wide::dot_rows_u8(tmp, &sc.offs, w, &mut sc.pairs, max, row) };
    }
    let _ = avx2;
    dot_rows(tmp, &sc.offs, w, &mut sc.acc, max, row);
}

/// Resamples one 8-bit plane (`geom` as `resize` computes it), with explicit AVX2 where `avx2`
/// and the CPU has it; the pixels are the same either way.
pub(super) fn resize_u8(
    src: &[u8],
    geom: Geometry,
    filter: ResizeFilter,
    max: u32,
    avx2: bool,
) -> Vec<u8> {
    let ((sw, sh), (dw, dh), (scale_x, scale_y), (shift_x, shift_y)) = geom;
    let avx2 = avx2 && super::use_avx2();
    let max = max.min(255) as i32;
    let (ax, phases) = Axis::cached(sw, dw, scale_x, shift_x, filter);
    let (ay, _) = Axis::cached(sh, dh, scale_y, shift_y, filter);
    // Every value of `tmp` is written by the horizontal pass before the vertical one reads it.
    let sse41 = !avx2 && use_sse41();
    #[cfg(not(target_arch = "x86_64"))]
    let _ = sse41;
    let mut tmp = plane_buffer::<i16>(dw * sh);
    for_rows(&mut tmp, dw, |y, row| {
        let line = &src[y * sw..(y + 1) * sw];
        SCRATCH.with(|sc| {
            let sc = &mut sc.borrow_mut();
            #[cfg(target_arch = "x86_64")]
            if sse41 {
                // SAFETY: `use_sse41` checked that the CPU has SSE4.1.
                return unsafe { sse41::h_row(sc, line, &ax, phases, row) };
            }
            h_row(sc, line, &ax, phases, row, avx2)
        })
    });
    let mut dst = vec![0u8; dw * dh];
    for_rows(&mut dst, dw, |y, row| {
        SCRATCH.with(|sc| {
            let sc = &mut sc.borrow_mut();
            #[cfg(target_arch = "x86_64")]
            if sse41 {
                // SAFETY: `use_sse41` checked that the CPU has SSE4.1.
                return unsafe { sse41::v_row(sc, &tmp, &ay, y, max, row) };
            }
            v_row(sc, &tmp, &ay, y, max, row, avx2)
        })
    });
    recycle(tmp);
    dst
}

/// Whether an x86-64 CPU without AVX2 runs the portable rows built for SSE4.1: its `pmulld`
/// multiplies four i32 lanes, which baseline SSE2 lacks (the compiler then emulates it, and the
/// integer rows ran 1.7–2× slower than the f32 ones did).
fn use_sse41() -> bool {
    #[cfg(target_arch = "x86_64")]
    return std::arch::is_x86_feature_detected!("sse4.1");
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// The portable rows compiled for SSE4.1 (same integers, so the same pixels).
#[cfg(target_arch = "x86_64")]
mod sse41 {
    use super::*;
    use crate::kernels::resize::{Axis, Phases};

    #[target_feature(enable = "sse4.1")]
    pub(super) fn h_row(
        sc: &mut Scratch,
        line: &[u8],
        ax: &Axis,
        ph: Option<Phases>,
        row: &mut [i16],
    ) {
        super::h_row(sc, line, ax, ph, row, false)
    }

    #[target_feature(enable = "sse4.1")]
    pub(super) fn v_row(
        sc: &mut Scratch,
        tmp: &[i16],
        ay: &Axis,
        y: usize,
        max: i32,
        row: &mut [u8],
    ) {
        super::v_row(sc, tmp, ay, y, max, row, false)
    }
}

/// Both passes' sums in explicit AVX2, 32 outputs per step (then 16, then the portable sum for
/// the last few): two source rows interleaved 16-bit-wise (`unpacklo/hi_epi16`) and multiplied by
/// a (w_a, w_b) pair with `madd_epi16`, which sums the two products into one i32 lane. `madd`
/// overflows only for (-32768)·(-32768) + (-32768)·(-32768); no weight is -32768 (`q14_weights`),
/// so it cannot occur. The sums are the exact integers of the portable path.
#[cfg(target_arch = "x86_64")]
mod wide {
    use super::dot_at;
    use std::arch::x86_64::*;

    /// `w` as (w[2i], w[2i + 1]) pairs in i32 lanes (an odd last tap paired with a zero weight),
    /// appended to `pairs`.
    fn pair_weights(w: &[i16], pairs: &mut Vec<i32>) {
        pairs.extend(w.chunks(2).map(|p| {
            let b = p.get(1).copied().unwrap_or(0);
            (p[0] as u16 as u32 | (b as u16 as u32) << 16) as i32
        }));
    }

    /// The sums of outputs x … x + 16·B - 1 as i32 lanes, per block of 16: outputs 0–3 and 8–11
    /// in the first, 4–7 and 12–15 in the second (`unpacklo/hi` work within 128-bit lanes;
    /// `packs_epi32` of the two puts them back in order).
    ///
    /// # Safety
    /// The CPU has AVX2, and `o + x + 16·B <= src.len()` for every `o` in `offs`.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn sums<const B: usize>(
        src: &[i16],
        offs: &[usize],
        pairs: &[i32],
        x: usize,
    ) -> [[__m256i; 2]; B] {
        let mut acc = [[_mm256_setzero_si256(); 2]; B];
        let p = src.as_ptr();
        for (o, &wp) in offs.chunks(2).zip(pairs) {
            // An odd last tap: its own row again, with weight 0.
            let (oa, ob) = (o[0] + x, o.get(1).map_or(o[0], |&b| b) + x);
            let w = _mm256_set1_epi32(wp);
            for (b, acc) in acc.iter_mut().enumerate() {
                // SAFETY: within `src` (the caller's bound); unaligned loads allow any address.
                let (ra, rb) = unsafe {
                    (
                        _mm256_loadu_si256(p.add(oa + 16 * b).cast()),
                        _mm256_loadu_si256(p.add(ob + 16 * b).cast()),
                    )
                };
                let lo = _mm256_madd_epi16(_mm256_unpacklo_epi16(ra, rb), w);
                let hi = _mm256_madd_epi16(_mm256_unpackhi_epi16(ra, rb), w);
                acc[0] = _mm256_add_epi32(acc[0], lo);
                acc[1] = _mm256_add_epi32(acc[1], hi);
            }
        }
        acc
    }

    /// Whether every tap's row holds `n` samples from its offset (the bound `sums` needs).
    fn rows_fit(src: &[i16], offs: &[usize], n: usize) -> bool {
        offs.iter()
            .all(|&o| o.checked_add(n).is_some_and(|end| end <= src.len()))
    }

    /// Sums to the intermediate, as `i16::narrow` (the saturating pack is its clamp).
    #[inline]
    #[target_feature(enable = "avx2")]
    fn to_i16(s: [__m256i; 2]) -> __m256i {
        let round = _mm256_set1_epi32(1 << (super::H_SHIFT - 1));
        let lo = _mm256_srai_epi32::<{ super::H_SHIFT as i32 }>(_mm256_add_epi32(s[0], round));
        let hi = _mm256_srai_epi32::<{ super::H_SHIFT as i32 }>(_mm256_add_epi32(s[1], round));
        _mm256_packs_epi32(lo, hi)
    }

    /// Sums to samples as i16, outputs in order (within ±2^11: the pack does not saturate).
    #[inline]
    #[target_feature(enable = "avx2")]
    fn to_words(s: [__m256i; 2]) -> __m256i {
        let round = _mm256_set1_epi32(1 << (super::V_SHIFT - 1));
        let lo = _mm256_srai_epi32::<{ super::V_SHIFT as i32 }>(_mm256_add_epi32(s[0], round));
        let hi = _mm256_srai_epi32::<{ super::V_SHIFT as i32 }>(_mm256_add_epi32(s[1], round));
        _mm256_packs_epi32(lo, hi)
    }

    /// `super::dot_rows` into the intermediate.
    #[target_feature(enable = "avx2")]
    pub(super) fn dot_rows_i16(
        src: &[i16],
        offs: &[usize],
        w: &[i16],
        pairs: &mut Vec<i32>,
        out: &mut [i16],
    ) {
        let n = out.len();
        assert!(rows_fit(src, offs, n), "resize: a tap reads past its row");
        pairs.clear();
        pair_weights(w, pairs);
        let mut x = 0;
        while x + 32 <= n {
            // SAFETY: x + 32 <= n, and every row holds n samples (checked above).
            let [a, b] = unsafe { sums::<2>(src, offs, pairs, x) };
            let d = &mut out[x..x + 32];
            // SAFETY: `d` holds 32 i16, the 64 bytes written.
            unsafe {
                _mm256_storeu_si256(d.as_mut_ptr().cast(), to_i16(a));
                _mm256_storeu_si256(d.as_mut_ptr().add(16).cast(), to_i16(b));
            }
            x += 32;
        }
        if x + 16 <= n {
            // SAFETY: x + 16 <= n, and every row holds n samples (checked above).
            let [a] = unsafe { sums::<1>(src, offs, pairs, x) };
            let d = &mut out[x..x + 16];
            // SAFETY: `d` holds 16 i16, the 32 bytes written.
            unsafe { _mm256_storeu_si256(d.as_mut_ptr().cast(), to_i16(a)) };
            x += 16;
        }
        for (x, d) in out.iter_mut().enumerate().skip(x) {
            *d = dot_at(src, offs, w, 0, x);
        }
    }

    /// Both phases of a period-2 filter (×2) into `row`, interleaved in registers: output 2i is
    /// phase 0's i-th sum, 2i + 1 phase 1's. `offs` and `w` hold phase 0's taps, then phase 1's.
    #[target_feature(enable = "avx2")]
    pub(super) fn dot_rows_x2(
        src: &[i16],
        offs: &[usize],
        w: &[i16],
        pairs: &mut Vec<i32>,
        row: &mut [i16],
    ) {
        let taps = offs.len() / 2;
        let (offs0, offs1) = offs.split_at(taps);
        let (w0, w1) = w.split_at(taps);
        // Phase 1 has the fewer outputs (`row.len() / 2`); both have at least that many.
        let n1 = row.len() / 2;
        assert!(
            rows_fit(src, offs0, n1) && rows_fit(src, offs1, n1),
            "resize: a tap reads past its row"
        );
        pairs.clear();
        pair_weights(w0, pairs);
        let half = pairs.len();
        pair_weights(w1, pairs);
        let (pairs0, pairs1) = pairs.split_at(half);
        let mut i = 0;
        while i + 16 <= n1 {
            // SAFETY: i + 16 <= n1, and every tap's row holds n1 samples (checked above).
            let (a, b) = unsafe {
                let [a] = sums::<1>(src, offs0, pairs0, i);
                let [b] = sums::<1>(src, offs1, pairs1, i);
                (to_i16(a), to_i16(b))
            };
            // Per 128-bit lane: lo = a0 b0 … a3 b3 | a8 b8 … a11 b11, hi = a4 b4 … | a12 b12 ….
            let (lo, hi) = (_mm256_unpacklo_epi16(a, b), _mm256_unpackhi_epi16(a, b));
            let d = &mut row[2 * i..2 * i + 32];
            // SAFETY: `d` holds 32 i16, the 64 bytes written.
            unsafe {
                let p = d.as_mut_ptr();
                _mm256_storeu_si256(p.cast(), _mm256_permute2x128_si256::<0x20>(lo, hi));
                _mm256_storeu_si256(p.add(16).cast(), _mm256_permute2x128_si256::<0x31>(lo, hi));
            }
            i += 16;
        }
        for (x, d) in row.iter_mut().enumerate().skip(2 * i) {
            *d = match x % 2 {
                0 => dot_at(src, offs0, w0, 0, x / 2),
                _ => dot_at(src, offs1, w1, 0, x / 2),
            };
        }
    }

    /// `super::dot_rows` into samples, clamped to `0..=max` (`packus` clamps to 0..=255).
    #[target_feature(enable = "avx2")]
    pub(super) fn dot_rows_u8(
        src: &[i16],
        offs: &[usize],
        w: &[i16],
        pairs: &mut Vec<i32>,
        max: i32,
        out: &mut [u8],
    ) {
        let n = out.len();
        assert!(rows_fit(src, offs, n), "resize: a tap reads past its row");
        pairs.clear();
        pair_weights(w, pairs);
        let top = _mm256_set1_epi8(max as u8 as i8);
        let mut x = 0;
        while x + 32 <= n {
            // SAFETY: x + 32 <= n, and every row holds n samples (checked above).
            let [a, b] = unsafe { sums::<2>(src, offs, pairs, x) };
            // Lane-wise pack: 0–7, 16–23 | 8–15, 24–31; the 64-bit permute puts them in order.
            let v = _mm256_packus_epi16(to_words(a), to_words(b));
            let v = _mm256_min_epu8(_mm256_permute4x64_epi64::<0b11_01_10_00>(v), top);
            let d = &mut out[x..x + 32];
            // SAFETY: `d` holds 32 bytes, the 32 written.
            unsafe { _mm256_storeu_si256(d.as_mut_ptr().cast(), v) };
            x += 32;
        }
        if x + 16 <= n {
            // SAFETY: x + 16 <= n, and every row holds n samples (checked above).
            let [a] = unsafe { sums::<1>(src, offs, pairs, x) };
            let v = to_words(a);
            let v = _mm256_permute4x64_epi64::<0b10_00>(_mm256_packus_epi16(v, v));
            let v = _mm_min_epu8(_mm256_castsi256_si128(v), _mm256_castsi256_si128(top));
            let d = &mut out[x..x + 16];
            // SAFETY: `d` holds 16 bytes, the 16 written.
            unsafe { _mm_storeu_si128(d.as_mut_ptr().cast(), v) };
            x += 16;
        }
        for (x, d) in out.iter_mut().enumerate().skip(x) {
            *d = dot_at(src, offs, w, max, x);
        }
    }
}

#[cfg(test)]
#[path = "resize_int_tests.rs"]
mod tests;
