//! Synchronising an external recording with the video's own audio.
//!
//! The offset is found by GCC-PHAT (generalised cross-correlation with phase transform): the cross
//! spectrum of the two signals is whitened so that every frequency votes equally and the correlation
//! collapses to a sharp peak at the delay, whatever the microphones' colouring. A coarse search at a
//! low rate covers the whole allowed range; a second pass at full rate around the coarse answer,
//! with parabolic interpolation of the peak, gives a sub-sample offset. Windows near the start and
//! the end of the video give two offsets: their difference over the time between them is the drift
//! of the recorder's clock against the camera's.
//!
//! Convention: `offset` is how much later a sound appears in the external recording than in the
//! video's audio (`external[t] = video[t - offset]`); a recorder started after the camera has a
//! negative offset. Output sample `i` of the synchronised audio is `external[i + offset]`.

use super::{AudioError, AudioStage};
use kino_shared::SyncMode;
use realfft::num_complex::Complex;
use realfft::RealFftPlanner;
use serde::{Deserialize, Serialize};
use std::ops::Range;

/// Rate of the coarse search (speech carries well below 4 kHz).
pub const COARSE_RATE: u32 = 8_000;
/// Rate of the fine search.
pub const FINE_RATE: u32 = 48_000;
/// Longest window correlated in the coarse pass, seconds (long enough to be unambiguous, short
/// enough that a drifting clock does not smear the peak: 100 ppm is 1 ms over 10 s).
const WINDOW_SECONDS: f64 = 10.0;
/// Windows refined in the fine pass, seconds: a few per coarse window, so that the offsets along
/// the video give the drift.
const FINE_WINDOW_SECONDS: f64 = 2.0;
/// Most fine windows per coarse window.
const FINE_WINDOWS: usize = 4;
/// Search either side of the coarse offset in the fine pass, seconds.
const FINE_MARGIN_SECONDS: f64 = 0.005;
/// Least sound (seconds) an offset can be found from.
pub const MIN_SECONDS: f64 = 1.0;
/// Peaks closer than this to the best one count as the same peak when judging confidence, seconds.
const PEAK_EXCLUSION_SECONDS: f64 = 0.005;
/// Below this ratio of the best correlation peak to the next best, the match is doubtful (measured:
/// the same speech through another microphone 9–20, with a 500 ppm clock drift 2.8–3.4, an
/// unrelated recording 1.06).
pub const LOW_CONFIDENCE: f64 = 2.0;
/// Drift over the whole video above which a warning is given, ms (lip sync is noticed from ~40 ms).
pub const DRIFT_WARN_MS: f64 = 20.0;
/// Sample peak under which a signal counts as silent (−80 dBFS).
const SILENCE: f32 = 1e-4;

/// The best lag of a cross-correlation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Match {
    /// Lag in samples with sub-sample interpolation: `y[t + lag] ≈ x[t]`.
    pub lag: f64,
    /// Height of the peak over the next best peak outside the exclusion zone.
    pub peak_ratio: f64,
}

/// GCC-PHAT of `x` against `y` over lags `0..=lags`: the lag where `y[t + lag]` best matches
/// `x[t]`. Peaks within `exclude` samples of the best are ignored when measuring the runner-up.
/// `None` when either signal carries nothing.
pub fn gcc_phat(x: &[f32], y: &[f32], lags: usize, exclude: usize) -> Option<Match> {
    if x.is_empty() || y.is_empty() {
        return None;
    }
    let n = (x.len() + y.len()).next_power_of_two();
    let mut planner = RealFftPlanner::<f32>::new();
    let fwd = planner.plan_fft_forward(n);
    let inv = planner.plan_fft_inverse(n);
    let mut buf = fwd.make_input_vec();
    let mut xs = fwd.make_output_vec();
    let mut ys = fwd.make_output_vec();
    buf[..x.len()].copy_from_slice(x);
    fwd.process(&mut buf, &mut xs).ok()?;
    buf.iter_mut().for_each(|v| *v = 0.0);
    buf[..y.len()].copy_from_slice(y);
    fwd.process(&mut buf, &mut ys).ok()?;
    // Cross spectrum, whitened. Bins with (next to) no energy in either signal, such as those above
    // the band of a low-rate source, are kept from being blown up by a small regularisation.
    let mut cross: Vec<Complex<f32>> = xs.iter().zip(&ys).map(|(a, b)| a.conj() * b).collect();
    let mean = cross.iter().map(|c| c.norm() as f64).sum::<f64>() / cross.len() as f64;
    if mean.is_nan() || mean <= 0.0 {
        return None;
    }
    let floor = (mean * 1e-3) as f32;
    for c in &mut cross {
        *c /= c.norm() + floor;
    }
    if let Some(c) = cross.first_mut() {
        c.im = 0.0;
    }
    if let Some(c) = cross.last_mut() {
        c.im = 0.0;
    }
    inv.process(&mut cross, &mut buf).ok()?;
    let lags = lags.min(n - 1);
    let r = &buf[..=lags];
    let (best, peak) = r
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(i, v)| (i, *v))?;
    if peak.is_nan() || peak <= 0.0 {
        return None;
    }
    let runner_up = r
        .iter()
        .enumerate()
        .filter(|(i, _)| i.abs_diff(best) > exclude)
        .map(|(_, v)| *v)
        .fold(0.0f32, f32::max);
    let frac = if best > 0 && best < lags {
        let (a, b, c) = (r[best - 1] as f64, peak as f64, r[best + 1] as f64);
        let d = a - 2.0 * b + c;
        if d < 0.0 {
            (0.5 * (a - c) / d).clamp(-0.5, 0.5)
        } else {
            0.0
        }
    } else {
        0.0
    };
    Some(Match {
        lag: best as f64 + frac,
        peak_ratio: peak as f64 / (runner_up as f64).max(peak as f64 * 1e-6),
    })
}

/// `len` samples of `signal` from `start` (which may be negative), zero outside it.
pub fn excerpt(signal: &[f32], start: i64, len: usize) -> Vec<f32> {
    let mut out = vec![0f32; len];
    for (i, o) in out.iter_mut().enumerate() {
        let j = start + i as i64;
        if j >= 0 {
            if let Some(v) = signal.get(j as usize) {
                *o = *v;
            }
        }
    }
    out
}

fn energy(s: &[f32]) -> f64 {
    s.iter().map(|v| (*v as f64) * (*v as f64)).sum()
}

/// Whether a signal is silent (every sample under −80 dBFS).
pub fn is_silent(s: &[f32]) -> bool {
    s.iter().all(|v| v.abs() < SILENCE)
}

/// The windows (in samples of `video`, at `rate`) to correlate: the loudest one in the first half
/// and the loudest one in the second half (one window for short clips).
pub fn windows(video: &[f32], rate: u32) -> Result<Vec<Range<usize>>, AudioError> {
    let len = video.len();
    let seconds = len as f64 / rate as f64;
    if seconds < MIN_SECONDS {
        return Err(AudioError::TooShort {
            what: "video's audio",
            seconds,
            min: MIN_SECONDS,
        });
    }
    if seconds < 2.0 * MIN_SECONDS {
        #[allow(clippy::single_range_in_vec_init)]
        return Ok(vec![0..len]);
    }
    let w = ((WINDOW_SECONDS * rate as f64) as usize).min(len / 2);
    let step = (w / 4).max(1);
    let loudest = |from: usize, to: usize| -> Range<usize> {
        let mut best = (from, -1.0);
        let mut s = from;
        while s + w <= to {
            let e = energy(&video[s..s + w]);
            if e > best.1 {
                best = (s, e);
            }
            s += step;
        }
        best.0..best.0 + w
    };
    Ok(vec![loudest(0, len / 2 + w / 2), loudest(len / 2, len)])
}

/// What one window found.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WindowResult {
    /// Middle of the window in the video's audio, seconds.
    pub at_seconds: f64,
    pub offset_ms: f64,
    /// Best correlation peak over the runner-up (coarse pass): high is certain, near 1 is a guess.
    pub peak_ratio: f64,
}

/// The coarse offset (in samples of `rate`) of `window` of `video` in `external`, searched over
/// ±`max_lag` samples.
pub fn coarse_offset(
    video: &[f32],
    external: &[f32],
    window: &Range<usize>,
    max_lag: usize,
    rate: u32,
) -> Option<Match> {
    let x = &video[window.clone()];
    let start = window.start as i64 - max_lag as i64;
    let y = excerpt(external, start, x.len() + 2 * max_lag);
    if is_silent(&y) {
        return None;
    }
    let exclude = (PEAK_EXCLUSION_SECONDS * rate as f64) as usize;
    gcc_phat(x, &y, 2 * max_lag, exclude).map(|m| Match {
        lag: m.lag - max_lag as f64,
        peak_ratio: m.peak_ratio,
    })
}

/// The parts of a coarse window to refine at the fine rate: up to four 2 s windows spread over it,
/// as (start, length) in fine samples.
pub fn fine_windows(window: &Range<usize>, coarse_rate: u32, fine_rate: u32) -> Vec<(i64, usize)> {
    let k = fine_rate as f64 / coarse_rate as f64;
    let len_c = window.len() as f64 * k;
    let sub = (FINE_WINDOW_SECONDS * fine_rate as f64).min(len_c);
    let count = ((len_c / sub).floor() as usize).clamp(1, FINE_WINDOWS);
    (0..count)
        .map(|i| {
            let mid = window.start as f64 * k + (i as f64 + 0.5) * len_c / count as f64;
            ((mid - sub / 2.0).max(0.0) as i64, sub as usize)
        })
        .collect()
}

/// Search either side of the coarse offset in the fine pass, in fine samples.
pub fn fine_margin(fine_rate: u32) -> usize {
    (FINE_MARGIN_SECONDS * fine_rate as f64).ceil() as usize
}

/// Refines a coarse offset: `x` is the video's audio at the fine rate, `y` the external recording's
/// from `margin` samples before where the coarse offset puts `x`; returns the offset correction in
/// fine samples (−margin…margin).
pub fn fine_correction(x: &[f32], y: &[f32], margin: usize) -> Option<f64> {
    gcc_phat(x, y, 2 * margin, 1).map(|m| m.lag - margin as f64)
}

/// The result of synchronisation, as stored in the job report (`audio_sync`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SyncReport {
    pub track: String,
    pub mode: SyncMode,
    /// Offset applied: how much later the recording's sound comes than the video's, ms (at the
    /// middle of the video when the clocks drift).
    pub offset_ms: f64,
    /// The smallest peak ratio of the windows used (see `WindowResult::peak_ratio`).
    pub confidence: f64,
    pub low_confidence: bool,
    /// Change of offset between the first and the last window used, ms (`None` when they span
    /// less than 2 s).
    pub drift_ms: Option<f64>,
    /// The same as a clock-rate difference, parts per million.
    pub drift_ppm: Option<f64>,
    /// Drift extrapolated over the whole video, ms.
    pub drift_over_video_ms: Option<f64>,
    pub windows: Vec<WindowResult>,
    pub video_audio_seconds: f64,
    pub track_seconds: f64,
    pub max_offset_seconds: f64,
    /// Rate the offset was refined at.
    pub rate: u32,
    /// Time the measurement took (decoding both recordings twice, the correlations), seconds.
    pub measure_seconds: f64,
}

impl crate::store::ReportSection for SyncReport {
    const NAME: &'static str = "audio_sync";
}

impl SyncReport {
    /// Warnings for the job's event stream: doubtful match, large drift.
    pub fn warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        if self.low_confidence {
            w.push(format!(
                "audio sync: low confidence ({:.2}; below {LOW_CONFIDENCE} is doubtful): the external recording may not contain the video's sound, or the offset exceeds ±{} s; applied offset {:+.1} ms",
                self.confidence, self.max_offset_seconds, self.offset_ms
            ));
        }
        if let (Some(total), Some(ppm)) = (self.drift_over_video_ms, self.drift_ppm) {
            if total.abs() > DRIFT_WARN_MS {
                w.push(format!(
                    "audio sync: the recording drifts {total:+.1} ms over the video ({ppm:+.0} ppm clock difference); the offset applied is the mean, so the ends are off by about {:.1} ms",
                    total.abs() / 2.0
                ));
            }
        }
        w
    }
}

/// What the windows say together.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// Offset at `at_seconds` on the straight line through the windows' offsets, ms.
    pub offset_ms: f64,
    pub confidence: f64,
    /// Change of offset from the first window used to the last, ms, and as a clock difference in
    /// parts per million (`None` when the windows span less than 2 s).
    pub drift: Option<(f64, f64)>,
}

/// Fits a straight line through the offsets of the windows trusted (peak ratio over
/// `LOW_CONFIDENCE`, or the best window's when none is), leaving out those more than 1 ms off it,
/// and reads it at `at_seconds` (the middle of the video: with drift, the ends are off by half of
/// it each, the least a single offset can do). The slope is the drift.
pub fn summarise(windows: &[WindowResult], at_seconds: f64) -> Summary {
    let best = windows
        .iter()
        .map(|w| w.peak_ratio)
        .fold(f64::NEG_INFINITY, f64::max);
    let trusted = |w: &&WindowResult| {
        w.peak_ratio >= LOW_CONFIDENCE || (best < LOW_CONFIDENCE && w.peak_ratio == best)
    };
    let mut used: Vec<&WindowResult> = windows.iter().filter(trusted).collect();
    let mut line = fit(&used);
    if let Some((a, b)) = line {
        used.retain(|w| (a + b * w.at_seconds - w.offset_ms).abs() <= 1.0);
        line = fit(&used).or(line);
    }
    let confidence = used
        .iter()
        .map(|w| w.peak_ratio)
        .fold(f64::INFINITY, f64::min);
    let span = used
        .iter()
        .map(|w| w.at_seconds)
        .fold(f64::NEG_INFINITY, f64::max)
        - used
            .iter()
            .map(|w| w.at_seconds)
            .fold(f64::INFINITY, f64::min);
    match line {
        Some((a, b)) => Summary {
            offset_ms: a + b * at_seconds,
            confidence,
            drift: (span >= 2.0).then_some((b * span, b * 1000.0)),
        },
        None => Summary {
            offset_ms: 0.0,
            confidence: 0.0,
            drift: None,
        },
    }
}

/// Least-squares line `offset = a + b·t` (b = 0 when all windows are at one time).
fn fit(points: &[&WindowResult]) -> Option<(f64, f64)> {
    if points.is_empty() {
        return None;
    }
    let n = points.len() as f64;
    let mt = points.iter().map(|w| w.at_seconds).sum::<f64>() / n;
    let mo = points.iter().map(|w| w.offset_ms).sum::<f64>() / n;
    let stt: f64 = points.iter().map(|w| (w.at_seconds - mt).powi(2)).sum();
    let sto: f64 = points
        .iter()
        .map(|w| (w.at_seconds - mt) * (w.offset_ms - mo))
        .sum();
    let b = if stt > 1e-9 { sto / stt } else { 0.0 };
    Some((mo - b * mt, b))
}

/// Where the synchronised samples come from: interleaved samples of the external recording at the
/// processing rate and channel layout.
pub trait SampleSource: Send {
    /// Fills `out` from the start; returns how many samples (values, not frames) were written, fewer
    /// only at the end of the recording.
    fn read(&mut self, out: &mut [f32]) -> Result<usize, AudioError>;
}

/// Replaces (or mixes into) the audio the external recording shifted by the offset: silence where
/// the recording does not reach, the recording's excess cut off.
pub struct SyncStage<S: SampleSource> {
    source: S,
    channels: usize,
    mode: SyncMode,
    level: f32,
    /// Recording frame that goes with the next input frame (negative: before the recording starts).
    next: i64,
    /// Recording frames read from the source so far.
    consumed: i64,
    ended: bool,
    buf: Vec<f32>,
}

impl<S: SampleSource> SyncStage<S> {
    /// `offset` in frames at the processing rate; `delay_before` is the delay the stages before this
    /// one add (their output is late by that much, so the recording must be too).
    pub fn new(
        source: S,
        channels: usize,
        offset: i64,
        delay_before: usize,
        mode: SyncMode,
        level: f64,
    ) -> Self {
        SyncStage {
            source,
            channels: channels.max(1),
            mode,
            level: level.clamp(0.0, 1.0) as f32,
            next: offset - delay_before as i64,
            consumed: 0,
            ended: false,
            buf: Vec::new(),
        }
    }

    /// Reads frames into `out` (interleaved); zeros after the end.
    fn pull(&mut self, out: &mut [f32]) -> Result<(), AudioError> {
        let mut filled = 0;
        while filled < out.len() && !self.ended {
            let n = self.source.read(&mut out[filled..])?;
            if n == 0 {
                self.ended = true;
            }
            filled += n;
        }
        out[filled..].iter_mut().for_each(|v| *v = 0.0);
        Ok(())
    }
}

impl<S: SampleSource> AudioStage for SyncStage<S> {
    fn delay(&self) -> usize {
        0
    }

    fn process(&mut self, samples: &mut [f32]) -> Result<(), AudioError> {
        let ch = self.channels;
        let frames = (samples.len() / ch) as i64;
        // Skip recording frames before the wanted position.
        while self.consumed < self.next && !self.ended {
            let n = (self.next - self.consumed).min(65_536) as usize;
            self.buf.resize(n * ch, 0.0);
            let mut tmp = std::mem::take(&mut self.buf);
            self.pull(&mut tmp)?;
            self.buf = tmp;
            self.consumed += n as i64;
        }
        let lead = (-self.next).clamp(0, frames) as usize;
        self.buf.clear();
        self.buf.resize(samples.len(), 0.0);
        let mut tmp = std::mem::take(&mut self.buf);
        self.pull(&mut tmp[lead * ch..])?;
        self.consumed += frames - lead as i64;
        self.next += frames;
        match self.mode {
            SyncMode::Replace => samples.copy_from_slice(&tmp),
            SyncMode::Mix => {
                for (s, e) in samples.iter_mut().zip(&tmp) {
                    *s = (1.0 - self.level) * *s + self.level * e;
                }
            }
        }
        self.buf = tmp;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Noise-excited "speech": bursts of filtered noise, deterministic.
    fn bursts(n: usize, seed: u64) -> Vec<f32> {
        let mut rng = seed;
        let mut lp = 0.0f32;
        (0..n)
            .map(|i| {
                rng = rng
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let u = ((rng >> 33) as f32 / (1u64 << 31) as f32) - 0.5;
                lp = 0.7 * lp + 0.3 * u;
                let env = ((i as f32 / 2000.0).sin()).max(0.0);
                lp * env
            })
            .collect()
    }

    #[test]
    fn gcc_phat_finds_a_known_lag_with_a_clear_peak() {
        let v = bursts(40_000, 3);
        let lag = 1234;
        // y[t + lag] = x[t]
        let mut y = vec![0.0; lag];
        y.extend_from_slice(&v);
        let m = gcc_phat(&v[..20_000], &y, 3000, 40).unwrap();
        assert!((m.lag - lag as f64).abs() < 0.01, "{m:?}");
        assert!(m.peak_ratio > 5.0, "{m:?}");
        // Unrelated signals: no clear peak.
        let other = bursts(40_000, 99);
        let m = gcc_phat(&v[..20_000], &other, 3000, 40).unwrap();
        assert!(m.peak_ratio < LOW_CONFIDENCE, "{m:?}");
        assert!(gcc_phat(&v, &vec![0.0; 100], 50, 4).is_none());
    }

    #[test]
    fn sub_sample_lags_are_interpolated() {
        // A half-sample delay made by averaging neighbours of a 2x-oversampled signal.
        let hi = bursts(80_000, 5);
        let x: Vec<f32> = hi.iter().step_by(2).copied().collect();
        let y: Vec<f32> = std::iter::repeat_n(0.0, 10)
            .chain(hi.iter().skip(1).step_by(2).copied())
            .collect();
        let m = gcc_phat(&x[..20_000], &y, 40, 2).unwrap();
        assert!((m.lag - 9.5).abs() < 0.1, "{m:?}");
    }

    #[test]
    fn coarse_offset_signs_follow_the_convention() {
        let v = bursts(8_000 * 12, 11);
        for off in [-3000i64, 320, 2500] {
            // external[t] = video[t - off]
            let ext: Vec<f32> = (0..v.len() as i64)
                .map(|t| *v.get((t - off) as usize).unwrap_or(&0.0))
                .collect();
            let w = windows(&v, 8_000).unwrap();
            assert_eq!(w.len(), 2);
            for win in &w {
                let m = coarse_offset(&v, &ext, win, 8_000, 8_000).unwrap();
                assert!((m.lag - off as f64).abs() < 0.01, "{off}: {m:?}");
            }
        }
        assert!(matches!(
            windows(&v[..4000], 8_000),
            Err(AudioError::TooShort { .. })
        ));
    }

    #[test]
    fn drift_is_the_slope_of_the_offsets() {
        // 100 ppm: +0.1 ms per second, 100 ms at t = 0.
        let w: Vec<WindowResult> = [5.0, 7.0, 9.0, 105.0, 107.0, 109.0]
            .iter()
            .map(|&t| WindowResult {
                at_seconds: t,
                offset_ms: 100.0 + 0.1 * t,
                peak_ratio: 10.0,
            })
            .collect();
        let s = summarise(&w, 60.0);
        assert!((s.offset_ms - 106.0).abs() < 1e-9, "{s:?}");
        assert_eq!(s.confidence, 10.0);
        let (ms, ppm) = s.drift.unwrap();
        assert!(
            (ms - 10.4).abs() < 1e-9 && (ppm - 100.0).abs() < 1e-6,
            "{s:?}"
        );
        // A doubtful window and an outlier are left out.
        let mut w2 = w.clone();
        w2[3].peak_ratio = 1.2;
        w2[4].offset_ms += 3.0;
        let s = summarise(&w2, 60.0);
        assert!((s.offset_ms - 106.0).abs() < 1e-6, "{s:?}");
        // Nothing trusted: the best guess, flagged by its confidence.
        let w3: Vec<WindowResult> = w
            .iter()
            .map(|x| WindowResult {
                peak_ratio: 1.1,
                ..x.clone()
            })
            .collect();
        assert!(summarise(&w3, 60.0).confidence < LOW_CONFIDENCE);
        assert!(fine_windows(&(0..80_000), 8_000, 48_000).len() == 4);
        assert!(fine_windows(&(0..8_000), 8_000, 48_000).len() == 1);
    }

    struct Ramp(i64, i64);
    impl SampleSource for Ramp {
        fn read(&mut self, out: &mut [f32]) -> Result<usize, AudioError> {
            let n = out.len().min((self.1 - self.0).max(0) as usize);
            for o in &mut out[..n] {
                *o = self.0 as f32;
                self.0 += 1;
            }
            Ok(n)
        }
    }

    #[test]
    fn sync_stage_shifts_pads_and_trims() {
        // Recording frames 0..100 (mono); offset +30: output i = recording[i + 30].
        let mut s = SyncStage::new(Ramp(0, 100), 1, 30, 0, SyncMode::Replace, 0.5);
        let mut x = [9.0; 50];
        s.process(&mut x[..20]).unwrap();
        s.process(&mut x[20..]).unwrap();
        assert!((0..50).all(|i| x[i] == (i + 30) as f32));
        let mut y = vec![9.0; 40];
        s.process(&mut y).unwrap();
        assert_eq!(y[19], 99.0);
        assert!(y[20..].iter().all(|v| *v == 0.0));
        // Offset −10 after stages delaying by 5: 15 frames of silence, then the recording.
        let mut s = SyncStage::new(Ramp(0, 100), 1, -10, 5, SyncMode::Mix, 0.25);
        let mut x = vec![4.0; 30];
        s.process(&mut x).unwrap();
        assert!(x[..15].iter().all(|v| *v == 3.0));
        assert_eq!(x[15], 3.0);
        assert_eq!(x[16], 3.25);
    }
}
