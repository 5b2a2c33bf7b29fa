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

/// Accumulates interleaved f32 samples. The loudness range is computed here from short-term
/// loudness taken every 100 ms once 3 s are in (EBU Tech 3342, as FFmpeg's meter does): the
/// `ebur128` crate takes it once a second, which on a clip of seconds gives a different figure.
pub struct Meter {
    inner: EbuR128,
    peak: TruePeakMeter,
    channels: usize,
    /// Samples per channel in 100 ms, and how many are in so far.
    step: usize,
    fed: usize,
    rate: usize,
    short_term: Vec<f64>,
}

impl Meter {
    pub fn new(channels: u32, rate: u32) -> Result<Self, String> {
        let inner = EbuR128::new(channels, rate, Mode::I | Mode::S).map_err(|e| e.to_string())?;
        Ok(Meter {
            inner,
            peak: TruePeakMeter::new(channels as usize, rate),
            channels: channels.max(1) as usize,
            step: (rate as usize / 10).max(1),
            fed: 0,
            rate: rate as usize,
            short_term: Vec::new(),
        })
    }

    pub fn add_interleaved(&mut self, samples: &[f32]) -> Result<(), String> {
        self.peak.add_interleaved(samples);
        let mut rest = samples;
        while !rest.is_empty() {
            let to_step = self.step - self.fed % self.step;
            let n = (to_step * self.channels).min(rest.len());
            let (now, later) = rest.split_at(n);
            self.inner.add_frames_f32(now).map_err(|e| e.to_string())?;
            self.fed += n / self.channels;
            rest = later;
            if self.fed.is_multiple_of(self.step) && self.fed >= 3 * self.rate {
                if let Ok(l) = self.inner.loudness_shortterm() {
                    if l >= LRA_ABSOLUTE_GATE {
                        self.short_term.push(l);
                    }
                }
            }
        }
        Ok(())
    }

    pub fn finish(self) -> Measurement {
        Measurement {
            integrated_lufs: self.inner.loudness_global().unwrap_or(f64::NEG_INFINITY),
            loudness_range_lu: loudness_range(self.short_term),
            true_peak_db: self.peak.finish(),
        }
    }
}

/// Short-term loudness under this (LUFS) is silence for the loudness range.
const LRA_ABSOLUTE_GATE: f64 = -70.0;

/// EBU Tech 3342: of the short-term values within 20 LU of their power mean, the spread between
/// the 10th and 95th percentiles (ranks rounded as FFmpeg's meter rounds them).
fn loudness_range(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mean = values.iter().map(|l| 10f64.powf(l / 10.0)).sum::<f64>() / values.len() as f64;
    let gate = 10.0 * mean.log10() - 20.0;
    values.retain(|&l| l >= gate);
    values.sort_by(f64::total_cmp);
    let n = values.len() as f64;
    let rank = |p: f64| ((p * n + 0.5) as usize).clamp(1, values.len()) - 1;
    values[rank(0.95)] - values[rank(0.10)]
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
