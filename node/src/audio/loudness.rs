//! EBU R128 loudness: a measuring pass (integrated loudness, true peak) with the `ebur128` crate, then
//! a gain and a look-ahead peak limiter so the result meets both the target and the ceiling.

use ebur128::{EbuR128, Mode};
use std::collections::VecDeque;

/// What the measuring pass found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measurement {
    /// Integrated loudness, LUFS (`-inf` for silence).
    pub integrated_lufs: f64,
    /// Highest true peak over the channels, dBTP.
    pub true_peak_db: f64,
}

/// Accumulates interleaved f32 samples.
pub struct Meter {
    inner: EbuR128,
    channels: u32,
}

impl Meter {
    pub fn new(channels: u32, rate: u32) -> Result<Self, String> {
        let inner =
            EbuR128::new(channels, rate, Mode::I | Mode::TRUE_PEAK).map_err(|e| e.to_string())?;
        Ok(Meter { inner, channels })
    }

    pub fn add_interleaved(&mut self, samples: &[f32]) -> Result<(), String> {
        self.inner
            .add_frames_f32(samples)
            .map_err(|e| e.to_string())
    }

    pub fn finish(&self) -> Measurement {
        let integrated_lufs = self.inner.loudness_global().unwrap_or(f64::NEG_INFINITY);
        let peak = (0..self.channels)
            .filter_map(|c| self.inner.true_peak(c).ok())
            .fold(0.0f64, f64::max);
        Measurement {
            integrated_lufs,
            true_peak_db: 20.0 * peak.max(1e-12).log10(),
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

/// Linked look-ahead peak limiter on interleaved samples. The gain at every sample is the mean,
/// over the look-ahead window, of the smallest gain any sample in the next window needs, so it has
/// reached its value by the time the peak passes: no overshoot and no clicks. Output is delayed by
/// the look-ahead (`delay()` samples), which the caller takes off the timestamps.
pub struct Limiter {
    channels: usize,
    lookahead: usize,
    threshold: f32,
    gain: f32,
    release: f32,
    /// Delayed input frames (one entry per sample instant, all channels).
    delay: VecDeque<Vec<f32>>,
    /// Needed gains of the samples in the window, with a monotonic queue for their minimum.
    needed: VecDeque<f32>,
    minq: VecDeque<(usize, f32)>,
    /// Running mean of the windowed minimum.
    mean: VecDeque<f32>,
    mean_sum: f64,
    n: usize,
}

impl Limiter {
    /// `gain_db` applied before limiting; peaks kept under `ceiling_db` (sample peak) with
    /// `lookahead` samples of anticipation and a release of `release_samples`.
    pub fn new(
        channels: usize,
        gain_db: f64,
        ceiling_db: f64,
        lookahead: usize,
        release_samples: usize,
    ) -> Limiter {
        Limiter {
            channels: channels.max(1),
            lookahead: lookahead.max(1),
            threshold: 10f64.powf(ceiling_db / 20.0) as f32,
            gain: 10f64.powf(gain_db / 20.0) as f32,
            release: 1.0 / release_samples.max(1) as f32,
            delay: VecDeque::new(),
            needed: VecDeque::new(),
            minq: VecDeque::new(),
            mean: VecDeque::new(),
            mean_sum: 0.0,
            n: 0,
        }
    }

    /// Samples of delay the limiter adds.
    pub fn delay(&self) -> usize {
        self.lookahead
    }

    /// Processes interleaved samples in place (output is the input of `delay()` samples earlier).
    pub fn process(&mut self, samples: &mut [f32]) {
        let ch = self.channels;
        let mut last_smoothed = self.mean.back().copied().unwrap_or(1.0);
        for frame in samples.chunks_exact_mut(ch) {
            let scaled: Vec<f32> = frame.iter().map(|s| s * self.gain).collect();
            let peak = scaled.iter().fold(0.0f32, |m, s| m.max(s.abs()));
            let need = if peak > self.threshold {
                self.threshold / peak
            } else {
                1.0
            };
            // Sliding minimum of the needed gain over the next `lookahead` samples.
            let idx = self.n;
            self.n += 1;
            while self.minq.back().is_some_and(|&(_, v)| v >= need) {
                self.minq.pop_back();
            }
            self.minq.push_back((idx, need));
            while self
                .minq
                .front()
                .is_some_and(|&(i, _)| i + self.lookahead <= idx)
            {
                self.minq.pop_front();
            }
            let window_min = self.minq.front().map(|&(_, v)| v).unwrap_or(1.0);
            // Release: rise slowly back towards 1.
            let target = window_min.min(last_smoothed + self.release);
            last_smoothed = target;
            self.mean.push_back(target);
            self.mean_sum += target as f64;
            if self.mean.len() > self.lookahead {
                self.mean_sum -= self.mean.pop_front().unwrap_or(1.0) as f64;
            }
            let g = (self.mean_sum / self.mean.len() as f64) as f32;
            self.needed.push_back(need);
            self.delay.push_back(scaled);
            let out = if self.delay.len() > self.lookahead {
                self.needed.pop_front();
                self.delay.pop_front()
            } else {
                None
            };
            match out {
                Some(d) => {
                    for (o, s) in frame.iter_mut().zip(d) {
                        *o = (s * g).clamp(-self.threshold, self.threshold);
                    }
                }
                None => frame.iter_mut().for_each(|o| *o = 0.0),
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
        let mut l = Limiter::new(1, 0.0, -6.0, 240, 4800);
        let mut y = x.clone();
        l.process(&mut y);
        let ceiling = 10f32.powf(-6.0 / 20.0);
        assert!(y.iter().all(|v| v.abs() <= ceiling + 1e-6));
        // Away from the burst, output is the input delayed by the look-ahead.
        for i in 1000..2000 {
            assert!((y[i + 240] - x[i]).abs() < 1e-6);
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
