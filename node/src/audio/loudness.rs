//! EBU R128 loudness: a measuring pass (integrated loudness, true peak) with the `ebur128` crate, then
//! a gain and a look-ahead peak limiter so the result meets both the target and the ceiling.

use crate::audio::truepeak::{GapPeaks, TruePeakMeter};
use ebur128::{EbuR128, Mode};
use std::collections::VecDeque;

/// What the measuring pass found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measurement {
    /// Integrated loudness, LUFS (`-inf` for silence).
    pub integrated_lufs: f64,
    /// Loudness range (EBU Tech 3342), LU.
    pub loudness_range_lu: f64,
    /// Highest true peak over the channels, dBTP (oversampled to 192 kHz, see `truepeak`).
    pub true_peak_db: f64,
}

/// Accumulates interleaved f32 samples.
pub struct Meter {
    inner: EbuR128,
    peak: TruePeakMeter,
}

impl Meter {
    pub fn new(channels: u32, rate: u32) -> Result<Self, String> {
        let inner = EbuR128::new(channels, rate, Mode::I | Mode::LRA).map_err(|e| e.to_string())?;
        Ok(Meter {
            inner,
            peak: TruePeakMeter::new(channels as usize, rate),
        })
    }

    pub fn add_interleaved(&mut self, samples: &[f32]) -> Result<(), String> {
        self.peak.add_interleaved(samples);
        self.inner
            .add_frames_f32(samples)
            .map_err(|e| e.to_string())
    }

    pub fn finish(self) -> Measurement {
        Measurement {
            integrated_lufs: self.inner.loudness_global().unwrap_or(f64::NEG_INFINITY),
            loudness_range_lu: self.inner.loudness_range().unwrap_or(0.0),
            true_peak_db: self.peak.finish(),
        }
    }
}

/// Gain in dB that brings `m` to `target_lufs` (0 for silence).
pub fn gain_db(m: &Measurement, target_lufs: f64) -> f64 {
    if m.integrated_lufs.is_finite() {
        target_lufs - m.integrated_lufs
    } else {
        0.0
    }
}

/// Linked look-ahead true-peak limiter on interleaved samples. Each instant needs the gain that
/// keeps it and the band-limited signal on both sides of it (oversampled as BS.1770 asks, see
/// `truepeak`) under the threshold; the gain applied is the mean, over the look-ahead, of the
/// smallest need in a window that always contains the instant itself, so the gain has reached its
/// value by the time the peak passes: no overshoot between samples and no clicks. Output is
/// delayed by `delay()` samples, which the caller takes off the timestamps.
pub struct Limiter {
    channels: usize,
    lookahead: usize,
    threshold: f32,
    gain: f32,
    release: f32,
    gaps: GapPeaks,
    /// Peak of the gap before the instant whose need comes next.
    last_gap: f32,
    /// Delayed scaled input, interleaved.
    delay: VecDeque<f32>,
    /// Monotonic queue (index, need) for the sliding minimum of the needed gains.
    minq: VecDeque<(usize, f32)>,
    /// Last `lookahead` smoothed targets and their sum.
    mean: VecDeque<f32>,
    mean_sum: f64,
    n: usize,
}

impl Limiter {
    /// `gain_db` applied before limiting; true peaks kept under `ceiling_db` (dBTP) at sample
    /// `rate`, with `lookahead` samples of anticipation and a release of `release_samples`.
    pub fn new(
        channels: usize,
        rate: u32,
        gain_db: f64,
        ceiling_db: f64,
        lookahead: usize,
        release_samples: usize,
    ) -> Limiter {
        let channels = channels.max(1);
        Limiter {
            channels,
            lookahead: lookahead.max(1),
            threshold: 10f64.powf(ceiling_db / 20.0) as f32,
            gain: 10f64.powf(gain_db / 20.0) as f32,
            release: 1.0 / release_samples.max(1) as f32,
            gaps: GapPeaks::new(channels, rate),
            last_gap: 0.0,
            delay: VecDeque::new(),
            minq: VecDeque::new(),
            mean: VecDeque::new(),
            mean_sum: 0.0,
            n: 0,
        }
    }

    /// The limiter loudness stages use at `rate`: 5 ms of look-ahead, 50 ms of release.
    pub fn standard(channels: usize, rate: u32, gain_db: f64, ceiling_db: f64) -> Limiter {
        Limiter::new(
            channels,
            rate,
            gain_db,
            ceiling_db,
            rate as usize / 200,
            rate as usize / 20,
        )
    }

    /// Samples of delay the limiter adds: the look-ahead and the true-peak detector's.
    pub fn delay(&self) -> usize {
        self.lookahead + GapPeaks::delay()
    }

    /// Processes interleaved samples in place (output is the input of `delay()` samples earlier).
    pub fn process(&mut self, samples: &mut [f32]) {
        let ch = self.channels;
        let total = self.delay() * ch;
        let mut scaled = vec![0f32; ch];
        for frame in samples.chunks_exact_mut(ch) {
            for (s, x) in scaled.iter_mut().zip(frame.iter()) {
                *s = x * self.gain;
            }
            self.delay.extend(scaled.iter().copied());
            // The gap after instant `idx - GapPeaks::delay()` is known now; with the gap before
            // it, so is that instant's peak (needs and their windows are indexed by `idx`).
            let gap = self.gaps.push(&scaled);
            let peak = gap.max(self.last_gap);
            self.last_gap = gap;
            let need = if peak > self.threshold {
                self.threshold / peak
            } else {
                1.0
            };
            let idx = self.n;
            self.n += 1;
            while self.minq.back().is_some_and(|&(_, v)| v >= need) {
                self.minq.pop_back();
            }
            self.minq.push_back((idx, need));
            while self
                .minq
                .front()
                .is_some_and(|&(i, _)| i + self.lookahead < idx)
            {
                self.minq.pop_front();
            }
            let window_min = self.minq.front().map(|&(_, v)| v).unwrap_or(1.0);
            // Release: rise slowly back towards 1.
            let last = self.mean.back().copied().unwrap_or(1.0);
            let target = window_min.min(last + self.release);
            self.mean.push_back(target);
            self.mean_sum += target as f64;
            if self.mean.len() > self.lookahead {
                self.mean_sum -= self.mean.pop_front().unwrap_or(1.0) as f64;
            }
            let g = (self.mean_sum / self.mean.len() as f64) as f32;
            if self.delay.len() > total {
                for o in frame.iter_mut() {
                    let s = self.delay.pop_front().unwrap_or(0.0);
                    *o = (s * g).clamp(-self.threshold, self.threshold);
                }
            } else {
                frame.iter_mut().for_each(|o| *o = 0.0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_holds_the_ceiling_and_keeps_quiet_parts() {
        let rate = 48_000;
        let mut x: Vec<f32> = (0..rate).map(|i| 0.1 * (i as f32 * 0.05).sin()).collect();
        for v in &mut x[20_000..20_100] {
            *v *= 9.0; // a 0.9 burst
        }
        let mut l = Limiter::new(1, rate as u32, 0.0, -6.0, 240, 4800);
        let d = l.delay();
        let mut y = x.clone();
        l.process(&mut y);
        let ceiling = 10f32.powf(-6.0 / 20.0);
        assert!(y.iter().all(|v| v.abs() <= ceiling + 1e-6));
        // Away from the burst, output is the input delayed by the look-ahead.
        for i in 1000..2000 {
            assert!((y[i + d] - x[i]).abs() < 1e-6);
        }
    }

    #[test]
    fn meter_reads_a_known_sine() {
        // A 997 Hz sine at -20 dBFS in both channels of a stereo signal reads about -20 LUFS.
        let rate = 48_000;
        let mut m = Meter::new(2, rate).unwrap();
        let a = 10f32.powf(-20.0 / 20.0);
        let s: Vec<f32> = (0..rate * 5)
            .flat_map(|i| {
                let v = a * (2.0 * std::f32::consts::PI * 997.0 * i as f32 / rate as f32).sin();
                [v, v]
            })
            .collect();
        m.add_interleaved(&s).unwrap();
        let r = m.finish();
        assert!((r.integrated_lufs - (-20.0)).abs() < 0.3, "{r:?}");
        assert!((gain_db(&r, -16.0) - 4.0).abs() < 0.3);
    }
}
