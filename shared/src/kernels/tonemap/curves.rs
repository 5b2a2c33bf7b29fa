//! The transfer functions and tone curves, in f64. They only run while a mapper builds its tables,
//! so they are written for exactness and readability, never for speed.

use super::lanes::{lanes, map3, max3, Lanes};
use super::tables::LogTable;
use crate::kernels::portable;

/// BT.2100 HLG nominal display peak the OOTF renders for.
pub(super) const HLG_PEAK: f64 = 1000.0;

const PQ_M1: f64 = 2610.0 / 16384.0;
const PQ_M2: f64 = 2523.0 / 4096.0 * 128.0;
const PQ_C1: f64 = 3424.0 / 4096.0;
const PQ_C2: f64 = 2413.0 / 4096.0 * 32.0;
const PQ_C3: f64 = 2392.0 / 4096.0 * 32.0;

/// SMPTE ST 2084 EOTF: signal → linear light, 1.0 = 10 000 cd/m².
pub(super) fn pq_eotf(e: f64) -> f64 {
    let p = portable::pow(e.clamp(0.0, 1.0), 1.0 / PQ_M2);
    portable::pow((p - PQ_C1).max(0.0) / (PQ_C2 - PQ_C3 * p), 1.0 / PQ_M1)
}

/// SMPTE ST 2084 inverse EOTF: linear light (1.0 = 10 000 cd/m²) → signal.
pub(super) fn pq_inverse_eotf(y: f64) -> f64 {
    let ym = portable::pow(y.clamp(0.0, 1.0), PQ_M1);
    portable::pow((PQ_C1 + PQ_C2 * ym) / (1.0 + PQ_C3 * ym), PQ_M2)
}

/// BT.2100 HLG inverse OETF: signal → normalised scene light.
pub(super) fn hlg_inverse_oetf(e: f64) -> f64 {
    const A: f64 = 0.178_832_77;
    const B: f64 = 1.0 - 4.0 * A;
    const C: f64 = 0.559_910_73;
    let e = e.clamp(0.0, 1.0);
    if e <= 0.5 {
        e * e / 3.0
    } else {
        (portable::exp((e - C) / A) + B) / 12.0
    }
}

/// The BT.2390 EETF in the PQ domain, with source and target black at 0.
pub(super) struct Eetf {
    /// PQ signal of the source peak (everything is normalised by it).
    src: f64,
    max_lum: f64,
    /// Knee start, normalised.
    ks: f64,
    /// Spline tangent at the knee (1 except for extreme ratios, see `new`).
    m0: f64,
}

impl Eetf {
    pub(super) fn new(source_nits: f64, target_nits: f64) -> Eetf {
        let src = pq_inverse_eotf(source_nits / 10_000.0);
        let max_lum = pq_inverse_eotf(target_nits / 10_000.0) / src;
        let ks = 1.5 * max_lum - 0.5;
        // Below max_lum = 1/3 the standard knee would be negative: pin it at 0 and lower the start
        // tangent to the Fritsch–Carlson bound so the spline cannot turn back down.
        let (ks, m0) = if ks < 0.0 {
            (0.0, 3.0 * max_lum)
        } else {
            (ks, 1.0)
        };
        Eetf {
            src,
            max_lum,
            ks,
            m0,
        }
    }

    /// Absolute PQ signal below which the EETF is the identity.
    fn knee(&self) -> f64 {
        self.ks.min(1.0) * self.src
    }

    /// Maps an absolute PQ signal; content above the source peak is held at the target peak.
    fn apply(&self, e: f64) -> f64 {
        let e1 = (e / self.src).min(1.0);
        if self.max_lum >= 1.0 || e1 < self.ks {
            return e1 * self.src;
        }
        let t = (e1 - self.ks) / (1.0 - self.ks);
        let (t2, t3) = (t * t, t * t * t);
        let e2 = (2.0 * t3 - 3.0 * t2 + 1.0) * self.ks
            + (t3 - 2.0 * t2 + t) * (1.0 - self.ks) * self.m0
            + (-2.0 * t3 + 3.0 * t2) * self.max_lum;
        e2 * self.src
    }
}

/// The EETF as a curve on linear light (/10 000 cd/m² in, target peak = 1 out). Exactly linear
/// below the knee, so shadows and mid-tones keep their absolute level. Tabulating the curve
/// rather than the gain keeps it monotonic through interpolation and lands the peak exactly.
pub(super) fn tone_curve(eetf: &Eetf, target_nits: f64) -> LogTable {
    let scale = 10_000.0 / target_nits;
    LogTable::new(|x| {
        let e = pq_inverse_eotf(x);
        let out = eetf.apply(e);
        if out == e {
            x * scale
        } else {
            pq_eotf(out) * scale
        }
    })
}

/// The expansion curve documented on [`InverseToneMapper`](super::InverseToneMapper): SDR linear
/// in, linear / 10 000 cd/m² out.
pub(super) fn expand_curve(white: f64, peak: f64) -> LogTable {
    let scale = white / 10_000.0;
    if peak <= white {
        return LogTable::new(|m| m * scale);
    }
    let eetf = Eetf::new(peak, white);
    let (ek, ew, ep) = (eetf.knee(), pq_inverse_eotf(scale), eetf.src);
    let a = (ep - ew) / ((ew - ek) * (ew - ek));
    LogTable::new(|m| {
        let e = pq_inverse_eotf(m * scale);
        if e <= ek {
            return m * scale;
        }
        let d = e - ek;
        pq_eotf(ek + d + a * d * d)
    })
}

/// Scales each pixel so that its max(R, G, B) lands on `curve(max)`: one factor for all three
/// channels keeps their ratios.
#[inline(always)]
pub(super) fn apply_curve(curve: &LogTable, rgb: &[Lanes; 3]) -> [Lanes; 3] {
    let [r, g, b] = rgb;
    let mx: Lanes = lanes(|j| max3(r[j], g[j], b[j]));
    let c = curve.eval(&mx);
    let k: Lanes = lanes(|j| if mx[j] > 0.0 { c[j] / mx[j] } else { 0.0 });
    map3(rgb, |ch| lanes(|j| ch[j] * k[j]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::tonemap::lanes::LANES;
    use crate::kernels::tonemap::{
        InverseToneMapParams, InverseToneMapper, ToneMapParams, ToneMapper,
    };

    #[test]
    fn portable_maths_matches_std() {
        for &x in &[1e-300, 1e-12, 0.001, 0.3, 1.0, 1.7, 2.0, 123.456, 1e10] {
            for &y in &[0.2, 1.0 / 2.4, 2.4, PQ_M1, PQ_M2, 1.0 / PQ_M1] {
                let (a, b) = (portable::pow(x, y), x.powf(y));
                if b > 1e-300 && b < 1e300 {
                    assert!(((a - b) / b).abs() < 1e-12, "{x}^{y}: {a} vs {b}");
                }
            }
        }
        assert_eq!(portable::pow(1.0, 7.3), 1.0);
        assert!((portable::exp(1.0) - std::f64::consts::E).abs() < 1e-14);
    }

    #[test]
    fn pq_round_trips() {
        let m = InverseToneMapper::new(&InverseToneMapParams::default());
        let t = ToneMapper::new(&ToneMapParams::default());
        for nits in [0.01, 1.0, 100.0, 1000.0, 10_000.0] {
            let exact = pq_eotf(pq_inverse_eotf(nits / 10_000.0)) * 10_000.0;
            assert!((exact / nits - 1.0).abs() < 1e-9, "{nits}: {exact}");
            // Through the tables the pixel path uses.
            let e = m.pq.eval(&[(nits / 10_000.0) as f32; LANES]);
            let lut = t.pq_eotf.eval(&e)[0] as f64 * 10_000.0;
            assert!((lut / nits - 1.0).abs() < 1e-3, "{nits}: {lut}");
        }
        // Known signal values: 100 cd/m² ≈ 0.508, 1000 cd/m² ≈ 0.752.
        assert!((pq_inverse_eotf(0.01) - 0.5081).abs() < 1e-3);
        assert!((pq_inverse_eotf(0.1) - 0.7518).abs() < 1e-3);
    }

    #[test]
    fn eetf_is_monotonic_hits_target_and_spares_shadows() {
        for (src, dst) in [
            (1000.0, 100.0),
            (4000.0, 100.0),
            (10_000.0, 203.0),
            (1000.0, 5.0),
        ] {
            let e = Eetf::new(src, dst);
            let mut last = 0.0;
            for i in 0..=2000 {
                let out = e.apply(i as f64 / 2000.0);
                assert!(out >= last, "{src}->{dst} not monotonic at {i}");
                last = out;
            }
            let peak = pq_eotf(e.apply(pq_inverse_eotf(src / 10_000.0))) * 10_000.0;
            assert!((peak / dst - 1.0).abs() < 1e-9, "{src}->{dst}: {peak}");
        }
        // The table the pixel path uses, in cd/m².
        let p = ToneMapParams::default();
        let t = ToneMapper::new(&p);
        let out = |nits: f32| t.pq_curve.eval(&[nits / 10_000.0; LANES])[0] * p.target_peak_nits;
        let mut last = 0.0;
        for i in 0..=10_000 {
            let v = out(i as f32);
            assert!(v >= last, "table not monotonic at {i}: {v} < {last}");
            last = v;
        }
        assert!((out(1000.0) / 100.0 - 1.0).abs() < 1e-4, "{}", out(1000.0));
        assert!(
            (out(5000.0) / 100.0 - 1.0).abs() < 1e-4,
            "above the source peak holds"
        );
        let knee = pq_eotf(Eetf::new(1000.0, 100.0).knee()) * 10_000.0;
        assert!(knee > 20.0 && knee < 40.0, "knee at {knee} cd/m²");
        for nits in [0.05, 1.0, 5.0, 10.0, 20.0] {
            assert!(
                (out(nits) / nits - 1.0).abs() < 1e-4,
                "{nits}: {}",
                out(nits)
            );
        }
    }
}
