//! Batch helpers for the per-pixel path. Everything is spelled out lane by lane, with selects
//! rather than branches or `f32::clamp`, so that LLVM vectorises it while every lane still does the
//! same IEEE operations in the same order: vectorised, scalar and wasm32 builds agree bit for bit.

/// Pixels per batch. The per-pixel maths is written lane-wise over arrays of this many so that
/// LLVM vectorises it; only the table reads stay scalar. Every lane does the same IEEE operations
/// in the same order, so vectorised and scalar builds agree bit for bit.
pub(super) const LANES: usize = 8;
pub(super) type Lanes = [f32; LANES];

/// `[f(0), f(1), …]` for one batch. A plain loop rather than `std::array::from_fn`, whose
/// machinery LLVM stops inlining at this nesting depth, which costs a third of the time.
#[inline(always)]
pub(super) fn lanes<T: Copy + Default>(f: impl Fn(usize) -> T) -> [T; LANES] {
    let mut o = [T::default(); LANES];
    for (j, v) in o.iter_mut().enumerate() {
        *v = f(j);
    }
    o
}

/// `f` on each of three channels.
#[inline(always)]
pub(super) fn map3(c: &[Lanes; 3], f: impl Fn(&Lanes) -> Lanes) -> [Lanes; 3] {
    [f(&c[0]), f(&c[1]), f(&c[2])]
}

/// A 3×3 matrix on linear RGB.
#[inline(always)]
pub(super) fn mat(m: &[[f32; 3]; 3], [r, g, b]: &[Lanes; 3]) -> [Lanes; 3] {
    let row = |i: usize| lanes(|j| m[i][0] * r[j] + m[i][1] * g[j] + m[i][2] * b[j]);
    [row(0), row(1), row(2)]
}

#[inline(always)]
pub(super) fn clamp01(x: f32) -> f32 {
    clamp_sel(x, 0.0, 1.0)
}

/// 1.5 · 2^23: adding it to a float below 2^22 in magnitude leaves the value rounded to an
/// integer in the low mantissa bits. Cheaper than `as`, which must saturate.
pub(super) const ROUND_MAGIC: f32 = 12_582_912.0;

/// Round to nearest (ties to even) for `-0.5 <= x < 2^22`.
#[inline(always)]
pub(super) fn round_to_u32(x: f32) -> u32 {
    (x + ROUND_MAGIC)
        .to_bits()
        .wrapping_sub(ROUND_MAGIC.to_bits())
}

#[inline(always)]
pub(super) fn max3(a: f32, b: f32, c: f32) -> f32 {
    let m = if a > b { a } else { b };
    if m > c {
        m
    } else {
        c
    }
}

#[inline(always)]
pub(super) fn min3(a: f32, b: f32, c: f32) -> f32 {
    let m = if a < b { a } else { b };
    if m < c {
        m
    } else {
        c
    }
}

/// Clamp as two selects, which compile to `maxss`/`minss` (or their packed forms). NaN and -0.0
/// come out as `lo`, so the bit tricks in the tables only ever see plain values; `f32::clamp`
/// would keep NaN, and `max`/`min` may return either zero.
#[inline(always)]
pub(super) fn clamp_sel(x: f32, lo: f32, hi: f32) -> f32 {
    let x = if x > lo { x } else { lo };
    if x < hi {
        x
    } else {
        hi
    }
}
