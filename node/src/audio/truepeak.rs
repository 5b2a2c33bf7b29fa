//! True peak as BS.1770 defines it: the peak of the signal between its samples, found by
//! oversampling. The `ebur128` crate oversamples 4× whatever the rate, which is 32 kHz for 8 kHz
//! speech and misses the peaks a codec's reconstruction shows; FFmpeg's meter oversamples to
//! 192 kHz, and so does this one (factor ⌈192 kHz / rate⌉) so a ceiling means the same thing here
//! and in the meter users check with.

/// Rate the signal is oversampled to (at least).
pub const OVERSAMPLED_RATE: u32 = 192_000;
/// Input samples each side of an interpolated point that the filter reads.
pub const HALF_TAPS: usize = 16;

/// Polyphase windowed-sinc interpolator: for each gap between two samples, the largest magnitude
/// of the band-limited signal in it (the samples themselves included).
#[derive(Clone)]
pub struct Oversampler {
    /// `coef[phase][i]`: weight of sample `p - HALF_TAPS + 1 + i` at position `p + phase / factor`.
    coef: Vec<[f32; 2 * HALF_TAPS]>,
}

impl Oversampler {
    pub fn new(rate: u32) -> Oversampler {
        let factor = OVERSAMPLED_RATE.div_ceil(rate.max(1)).max(1) as usize;
        let kaiser = |x: f64| {
            // Kaiser window (β = 8) over ±HALF_TAPS, as resamplers use for a flat passband.
            let beta = 8.0;
            let r = x / HALF_TAPS as f64;
            if r.abs() >= 1.0 {
                0.0
            } else {
                bessel_i0(beta * (1.0 - r * r).sqrt()) / bessel_i0(beta)
            }
        };
        let coef = (0..factor)
            .map(|phase| {
                let frac = phase as f64 / factor as f64;
                let mut c = [0f32; 2 * HALF_TAPS];
                let mut w = [0f64; 2 * HALF_TAPS];
                for (i, w) in w.iter_mut().enumerate() {
                    let x = frac - (i as f64 - (HALF_TAPS as f64 - 1.0));
                    let sinc = if x.abs() < 1e-12 {
                        1.0
                    } else {
                        (std::f64::consts::PI * x).sin() / (std::f64::consts::PI * x)
                    };
                    *w = sinc * kaiser(x);
                }
                let sum: f64 = w.iter().sum();
                for (c, w) in c.iter_mut().zip(w) {
                    *c = (w / sum) as f32;
                }
                c
            })
            .collect();
        Oversampler { coef }
    }

    /// Largest magnitude on `[p, p + 1)` where `window` holds samples `p - HALF_TAPS + 1 ..=
    /// p + HALF_TAPS` of one channel.
    pub fn gap_peak(&self, window: &[f32]) -> f32 {
        let mut peak = 0f32;
        for c in &self.coef {
            let y: f32 = c.iter().zip(window).map(|(c, x)| c * x).sum();
            peak = peak.max(y.abs());
        }
        peak
    }
}

fn bessel_i0(x: f64) -> f64 {
    let (mut sum, mut term) = (1.0, 1.0);
    for k in 1..50 {
        term *= (x / (2.0 * k as f64)).powi(2);
        sum += term;
        if term < 1e-12 * sum {
            break;
        }
    }
    sum
}

/// Streaming true-peak detector for interleaved samples: `push` takes one sample instant (all
/// channels) and returns, `HALF_TAPS` instants later, the largest magnitude over the channels in
/// the gap that starts at that instant.
pub struct GapPeaks {
    over: Oversampler,
    channels: usize,
    /// Last `2 * HALF_TAPS` samples per channel (oldest first), zeros before the signal.
    history: Vec<Vec<f32>>,
}

impl GapPeaks {
    pub fn new(channels: usize, rate: u32) -> GapPeaks {
        let channels = channels.max(1);
        GapPeaks {
            over: Oversampler::new(rate),
            channels,
            history: vec![vec![0.0; 2 * HALF_TAPS]; channels],
        }
    }

    /// Instants between a sample going in and its gap's peak coming out.
    pub const fn delay() -> usize {
        HALF_TAPS
    }

    /// Adds one instant; returns the peak of the gap starting `delay()` instants earlier.
    pub fn push(&mut self, frame: &[f32]) -> f32 {
        let mut peak = 0f32;
        for (h, &x) in self.history.iter_mut().zip(frame).take(self.channels) {
            h.rotate_left(1);
            if let Some(last) = h.last_mut() {
                *last = x;
            }
            peak = peak.max(self.over.gap_peak(h));
        }
        peak
    }
}

/// Measures the true peak of interleaved samples, as a linear magnitude.
pub struct TruePeakMeter {
    gaps: GapPeaks,
    peak: f32,
}

impl TruePeakMeter {
    pub fn new(channels: usize, rate: u32) -> TruePeakMeter {
        TruePeakMeter {
            gaps: GapPeaks::new(channels, rate),
            peak: 0.0,
        }
    }

    pub fn add_interleaved(&mut self, samples: &[f32]) {
        for frame in samples.chunks_exact(self.gaps.channels) {
            self.peak = self.peak.max(self.gaps.push(frame));
        }
    }

    /// The peak in dBTP, once the last samples' gaps are flushed with silence.
    pub fn finish(mut self) -> f64 {
        let zeros = vec![0f32; self.gaps.channels];
        for _ in 0..GapPeaks::delay() {
            self.peak = self.peak.max(self.gaps.push(&zeros));
        }
        20.0 * (self.peak.max(1e-9) as f64).log10()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(rate: u32, hz: f64, phase: f64, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| {
                (2.0 * std::f64::consts::PI * hz * i as f64 / rate as f64 + phase).sin() as f32
            })
            .collect()
    }

    #[test]
    fn finds_the_peak_between_samples() {
        // fs/4 with a 45° phase: every sample is ±0.707 but the wave reaches 1.0 (-3 dB missed by
        // a sample-peak meter); at 8 kHz a 3 kHz tone has peaks as far from its samples.
        for (rate, hz) in [(48_000, 12_000.0), (8_000, 2_000.0), (8_000, 3_000.0)] {
            let x = sine(rate, hz, std::f64::consts::FRAC_PI_4, rate as usize);
            let sample_peak = x.iter().fold(0f32, |m, v| m.max(v.abs()));
            // Away from the ends (a tone that starts abruptly overshoots there, truly).
            let mut g = GapPeaks::new(1, rate);
            let peaks: Vec<f32> = x.iter().map(|v| g.push(&[*v])).collect();
            let tp = peaks[200..peaks.len() - 200]
                .iter()
                .fold(0f32, |m, &v| m.max(v));
            let tp = 20.0 * (tp as f64).log10();
            assert!(tp.abs() < 0.02, "{rate} Hz, {hz}: {tp} dBTP");
            if hz == 12_000.0 {
                assert!((20.0 * (sample_peak as f64).log10() + 3.01).abs() < 0.05);
            }
        }
    }

    #[test]
    fn samples_pass_through_and_channels_are_linked() {
        let over = Oversampler::new(48_000);
        let mut w = [0f32; 2 * HALF_TAPS];
        w[HALF_TAPS - 1] = 0.5;
        // A lone sample: its own value is the peak of its gap's start.
        assert!((over.gap_peak(&w) - 0.5).abs() < 1e-6);
        let mut g = GapPeaks::new(2, 48_000);
        let mut out = Vec::new();
        for i in 0..40 {
            let v = if i == 3 { 0.8 } else { 0.0 };
            out.push(g.push(&[0.0, v]));
        }
        let at = out.iter().position(|&p| (p - 0.8).abs() < 1e-6);
        assert_eq!(at, Some(3 + GapPeaks::delay()));
    }
}
