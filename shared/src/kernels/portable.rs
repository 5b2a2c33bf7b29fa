//! Portable f64 maths: basic IEEE operations only (+ − × ÷, `sqrt`, `round`, bit casts), so every
//! target computes bit-identical results (relative error around 1e-15). The platform functions
//! (`sin`, `exp`, `ln`, `atan2`, `hypot`, `powf`…: glibc natively, Rust's libm on wasm32) differ in
//! the last bit for a few percent of arguments, which is enough to change output pixels.

use std::f64::consts::{FRAC_2_PI, FRAC_PI_2, LN_2, LOG2_E, PI, SQRT_2};

/// `x = 2^e · m` with `m` in [√½, √2], and `atanh(s)` for `s = (m − 1)/(m + 1)`, so that
/// `ln m = 2 atanh(s)`. `x` positive and finite.
fn reduce_log(x: f64) -> (i64, f64) {
    let mut bits = x.to_bits();
    let mut e = ((bits >> 52) & 0x7ff) as i64 - 1023;
    if e == -1023 {
        // Subnormal: scale into the normal range first (by 2^64).
        bits = (x * 18_446_744_073_709_551_616.0).to_bits();
        e = ((bits >> 52) & 0x7ff) as i64 - 1023 - 64;
    }
    let mut m = f64::from_bits((bits & ((1u64 << 52) - 1)) | (1023u64 << 52));
    if m > SQRT_2 {
        m *= 0.5;
        e += 1;
    }
    // |s| <= 0.172: the series converges fast.
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let (mut term, mut sum, mut k) = (s, 0.0, 1.0);
    for _ in 0..14 {
        sum += term / k;
        term *= s2;
        k += 2.0;
    }
    (e, sum)
}

/// log2 of a positive finite `x`.
pub fn log2(x: f64) -> f64 {
    let (e, sum) = reduce_log(x);
    e as f64 + 2.0 * LOG2_E * sum
}

/// Natural log of a positive finite `x`.
pub fn ln(x: f64) -> f64 {
    let (e, sum) = reduce_log(x);
    e as f64 * LN_2 + 2.0 * sum
}

pub fn exp2(x: f64) -> f64 {
    if x < -1022.0 {
        return 0.0;
    }
    if x > 1023.0 {
        return f64::INFINITY;
    }
    let n = x.round();
    let y = (x - n) * LN_2;
    let (mut term, mut sum) = (1.0, 1.0);
    for k in 1..=18 {
        term *= y / k as f64;
        sum += term;
    }
    sum * f64::from_bits(((n as i64 + 1023) as u64) << 52)
}

/// `x^y` for `x >= 0` (0 for `x <= 0`).
pub fn pow(x: f64, y: f64) -> f64 {
    if x > 0.0 {
        exp2(y * log2(x))
    } else {
        0.0
    }
}

pub fn exp(x: f64) -> f64 {
    exp2(x * LOG2_E)
}

/// `(sin x, cos x)` for finite `x`; accurate for |x| up to about 10^5 (the reduction by π/2 is
/// exact while `x / (π/2)` fits in 20 bits), deterministic beyond.
pub fn sin_cos(x: f64) -> (f64, f64) {
    // π/2 in three parts (fdlibm's pio2_1, pio2_2, pio2_2t): k·part is exact for |k| < 2^20.
    const P1: f64 = f64::from_bits(0x3ff9_21fb_5440_0000);
    const P2: f64 = f64::from_bits(0x3dd0_b461_1a60_0000);
    const P3: f64 = f64::from_bits(0x3ba3_198a_2e03_7073);
    let k = (x * FRAC_2_PI).round();
    let r = ((x - k * P1) - k * P2) - k * P3;
    // |r| <= π/4: Taylor series to r^19 / r^20 (last terms below 1e-17).
    let r2 = r * r;
    let (mut s, mut ts) = (r, r);
    let (mut c, mut tc) = (1.0, 1.0);
    for i in 1..=9 {
        let n = (2 * i) as f64;
        ts *= -r2 / (n * (n + 1.0));
        s += ts;
        tc *= -r2 / ((n - 1.0) * n);
        c += tc;
    }
    tc *= -r2 / (19.0 * 20.0);
    c += tc;
    match (k as i64) & 3 {
        0 => (s, c),
        1 => (c, -s),
        2 => (-s, -c),
        _ => (-c, s),
    }
}

pub fn sin(x: f64) -> f64 {
    sin_cos(x).0
}

/// atan of `z` in [0, 1].
fn atan01(z: f64) -> f64 {
    // atan z = 2 atan(z / (1 + √(1 + z²))), three times: |u| <= tan(π/32) < 0.1.
    let mut u = z;
    for _ in 0..3 {
        u /= 1.0 + (1.0 + u * u).sqrt();
    }
    // Series to u^19 (last term below 1e-20).
    let u2 = u * u;
    let (mut term, mut sum) = (u, 0.0);
    for k in 0..10 {
        sum += term / (2 * k + 1) as f64;
        term *= -u2;
    }
    8.0 * sum
}

/// The angle of `(x, y)` in (−π, π], as `f64::atan2` for finite arguments.
pub fn atan2(y: f64, x: f64) -> f64 {
    let (ay, ax) = (y.abs(), x.abs());
    let base = if ay == 0.0 {
        0.0
    } else if ay <= ax {
        atan01(ay / ax)
    } else {
        FRAC_PI_2 - atan01(ax / ay)
    };
    let base = if x.is_sign_negative() {
        PI - base
    } else {
        base
    };
    base.copysign(y)
}

/// √(x² + y²) for moderate `x`, `y` (no rescaling against overflow).
pub fn hypot(x: f64, y: f64) -> f64 {
    (x * x + y * y).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * b.abs().max(1e-300)
    }

    #[test]
    fn exp_matches_std() {
        // pow is checked with the tone-mapping tables it builds (tonemap tests).
        for i in -200..=200 {
            let x = i as f64 * 0.05;
            assert!(close(exp(x), x.exp(), 1e-14), "exp {x}");
        }
    }

    #[test]
    fn ln_matches_std() {
        for &x in &[1e-300, 1e-5, 0.5, 0.75, 0.999, 1.0, 1.001, 1.33, 2.0, 1e7] {
            assert!(
                (ln(x) - x.ln()).abs() < 1e-15 * x.ln().abs().max(1.0),
                "ln {x}"
            );
        }
        assert_eq!(ln(1.0), 0.0);
    }

    #[test]
    fn trigonometry_matches_std() {
        for i in -4000..=4000 {
            let x = i as f64 * 0.0123;
            let (s, c) = sin_cos(x);
            assert!((s - x.sin()).abs() < 4e-16, "sin {x}: {s} vs {}", x.sin());
            assert!((c - x.cos()).abs() < 4e-16, "cos {x}: {c} vs {}", x.cos());
            assert_eq!(sin(x), s);
        }
        assert_eq!(sin_cos(0.0), (0.0, 1.0));
        for i in -50..=50 {
            for j in -50..=50 {
                let (y, x) = (i as f64 * 0.37, j as f64 * 0.29);
                let (a, b) = (atan2(y, x), y.atan2(x));
                assert!((a - b).abs() < 1e-15, "atan2({y}, {x}): {a} vs {b}");
                assert!(close(hypot(x, y), x.hypot(y), 1e-15));
            }
        }
        assert_eq!(atan2(0.0, 1.0), 0.0);
        assert_eq!(atan2(0.0, -1.0), PI);
        assert_eq!(atan2(-0.0, -1.0), -PI);
    }
}
