//! Lookup tables standing in for `pow`/`exp` on the per-pixel path: a read and a linear
//! interpolation are basic IEEE arithmetic, so native and wasm32 give the same bits, and they are
//! far cheaper than the functions they replace.

use super::lanes::{clamp_sel, lanes, round_to_u32, Lanes, LANES, ROUND_MAGIC};

const UNIFORM_STEPS: usize = 4096;

/// A table over [0, 1] at uniform spacing, for inputs that are already perceptual signals.
pub(super) struct Uniform {
    t: Box<[f32; UNIFORM_STEPS + 1]>,
}

impl Uniform {
    pub(super) fn new(f: impl Fn(f64) -> f64) -> Uniform {
        let mut t = Box::new([0f32; UNIFORM_STEPS + 1]);
        for (i, v) in t.iter_mut().enumerate() {
            *v = f(i as f64 / UNIFORM_STEPS as f64) as f32;
        }
        Uniform { t }
    }

    #[inline(always)]
    pub(super) fn eval(&self, x: &Lanes) -> Lanes {
        const N: f32 = UNIFORM_STEPS as f32;
        let p: Lanes = lanes(|j| clamp_sel(x[j], 0.0, 1.0) * N);
        // floor(p) as a float (a tie rounding up lands on the next segment's start: same value),
        // capped so that p = N reads the last segment at its end.
        let fl: Lanes = lanes(|j| {
            let r = (p[j] - 0.5 + ROUND_MAGIC) - ROUND_MAGIC;
            if r < N - 1.0 {
                r
            } else {
                N - 1.0
            }
        });
        // The mask changes nothing (fl <= N - 1) but proves the reads in bounds.
        let i: [usize; LANES] = lanes(|j| round_to_u32(fl[j]) as usize & (UNIFORM_STEPS - 1));
        let a: Lanes = lanes(|j| self.t[i[j]]);
        let b: Lanes = lanes(|j| self.t[i[j] + 1]);
        lanes(|j| a[j] + (b[j] - a[j]) * (p[j] - fl[j]))
    }
}

/// Entries per octave (log2) and octaves covered below 1.0 by a [`LogTable`].
const LOG_STEPS: u32 = 6;
const LOG_OCTAVES: u32 = 32;
const LOG_SHIFT: u32 = 23 - LOG_STEPS;
const LOG_BASE: u32 = (127 - LOG_OCTAVES) << LOG_STEPS;
/// Segments in a [`LogTable`]: a power of two, so masking proves the index in bounds.
const LOG_SEGMENTS: usize = (LOG_OCTAVES << LOG_STEPS) as usize;
const LOG_FRAC: f32 = 1.0 / (1u32 << LOG_SHIFT) as f32;
/// The bottom of a [`LogTable`]: smaller inputs read its first entry. 2^-32 of full scale is
/// below half a code value at 10 bits for every curve here (PQ, the steepest, gives 0.17).
const LOG_MIN: f32 = 1.0 / (1u64 << LOG_OCTAVES) as f32;
/// The largest f32 below 1: inputs stop here so they stay inside the last segment.
const ONE_BELOW: f32 = 1.0 - 1.0 / (1u32 << 24) as f32;

/// A table over [0, 1] spaced evenly per octave and indexed by the float's bits (exponent and top
/// mantissa bits), for linear-light inputs: power laws near black stay accurate to ~1e-5 over 32
/// octaves where a uniform table would be coarse exactly where the eye is most sensitive.
pub(super) struct LogTable {
    t: Box<[f32; LOG_SEGMENTS + 1]>,
}

impl LogTable {
    pub(super) fn new(f: impl Fn(f64) -> f64) -> LogTable {
        let mut t = Box::new([0f32; LOG_SEGMENTS + 1]);
        for (i, v) in t.iter_mut().enumerate() {
            *v = f(f32::from_bits((i as u32 + LOG_BASE) << LOG_SHIFT) as f64) as f32;
        }
        LogTable { t }
    }

    /// Branch-free so that it vectorises (a select here turns into per-lane branches).
    #[inline(always)]
    pub(super) fn eval(&self, x: &Lanes) -> Lanes {
        // Selects, not `max`: -0.0 must not reach `to_bits`.
        let x: Lanes = lanes(|j| clamp_sel(x[j], LOG_MIN, ONE_BELOW));
        // The mask changes nothing but proves the reads in bounds.
        let i: [usize; LANES] =
            lanes(|j| ((x[j].to_bits() >> LOG_SHIFT) - LOG_BASE) as usize & (LOG_SEGMENTS - 1));
        let a: Lanes = lanes(|j| self.t[i[j]]);
        let b: Lanes = lanes(|j| self.t[i[j] + 1]);
        lanes(|j| {
            let f = (x[j].to_bits() & ((1 << LOG_SHIFT) - 1)) as i32 as f32 * LOG_FRAC;
            a[j] + (b[j] - a[j]) * f
        })
    }
}
