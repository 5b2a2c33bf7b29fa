//! Moving linear light between the BT.709 and BT.2020 primaries, and back inside the target gamut.
//! The matrices are derived from the primaries' chromaticities in f64 once per mapper, so both
//! directions come from the same numbers rather than from separately rounded published tables.

use super::lanes::{clamp01, lanes, map3, max3, min3, Lanes};

/// Brings linear RGB into [0, 1] by mixing it with grey of its own luminance, just enough that no
/// channel is negative or above 1. Mixing with grey in linear light moves the colour straight
/// toward the white point, so luminance and hue are kept and only saturation is given up, where a
/// per-channel clip would shift both.
#[inline(always)]
pub(super) fn into_gamut(rgb: [Lanes; 3], lum: [f32; 3]) -> [Lanes; 3] {
    let [r, g, b] = &rgb;
    let y: Lanes = lanes(|j| clamp01(lum[0] * r[j] + lum[1] * g[j] + lum[2] * b[j]));
    // Branch-free (both divisions always run) so that the batch vectorises.
    let t: Lanes = lanes(|j| {
        let (lo, hi) = (min3(r[j], g[j], b[j]), max3(r[j], g[j], b[j]));
        let t_lo = if lo < 0.0 { y[j] / (y[j] - lo) } else { 1.0 };
        let t_hi = if hi > 1.0 {
            (1.0 - y[j]) / (hi - y[j])
        } else {
            1.0
        };
        if t_lo < t_hi {
            t_lo
        } else {
            t_hi
        }
    });
    map3(&rgb, |c| lanes(|j| clamp01(y[j] + t[j] * (c[j] - y[j]))))
}

const D65: [f64; 2] = [0.3127, 0.3290];
pub(super) const PRIMARIES_709: [[f64; 2]; 3] = [[0.64, 0.33], [0.30, 0.60], [0.15, 0.06]];
pub(super) const PRIMARIES_2020: [[f64; 2]; 3] = [[0.708, 0.292], [0.170, 0.797], [0.131, 0.046]];
/// BT.2020 luminance row, for the HLG OOTF.
pub(super) const KRKB_2020_ROW: [f32; 3] = [0.2627, 0.6780, 0.0593];

type M3 = [[f64; 3]; 3];

/// Linear RGB → CIE XYZ for primaries given as (x, y) chromaticities, with D65 white.
pub(super) fn rgb_to_xyz(p: [[f64; 2]; 3]) -> M3 {
    let xyz = |[x, y]: [f64; 2]| [x / y, 1.0, (1.0 - x - y) / y];
    let (r, g, b) = (xyz(p[0]), xyz(p[1]), xyz(p[2]));
    let m = [[r[0], g[0], b[0]], [r[1], g[1], b[1]], [r[2], g[2], b[2]]];
    let w = xyz(D65);
    let inv = invert(&m);
    let s = inv.map(|row| row[0] * w[0] + row[1] * w[1] + row[2] * w[2]);
    m.map(|row| [row[0] * s[0], row[1] * s[1], row[2] * s[2]])
}

pub(super) fn invert(m: &M3) -> M3 {
    let c =
        |r0: usize, c0: usize, r1: usize, c1: usize| m[r0][c0] * m[r1][c1] - m[r0][c1] * m[r1][c0];
    let adj = [
        [c(1, 1, 2, 2), -c(0, 1, 2, 2), c(0, 1, 1, 2)],
        [-c(1, 0, 2, 2), c(0, 0, 2, 2), -c(0, 0, 1, 2)],
        [c(1, 0, 2, 1), -c(0, 0, 2, 1), c(0, 0, 1, 1)],
    ];
    let det = m[0][0] * adj[0][0] + m[0][1] * adj[1][0] + m[0][2] * adj[2][0];
    adj.map(|row| row.map(|v| v / det))
}

pub(super) fn mul(a: &M3, b: &M3) -> M3 {
    let mut o = [[0.0; 3]; 3];
    for (i, row) in o.iter_mut().enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            *v = a[i][0] * b[0][j] + a[i][1] * b[1][j] + a[i][2] * b[2][j];
        }
    }
    o
}

pub(super) fn to_f32(m: M3) -> [[f32; 3]; 3] {
    m.map(|row| row.map(|v| v as f32))
}
