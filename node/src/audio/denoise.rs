//! Speech denoising with RNNoise (the `nnnoiseless` port): 480-sample frames at 48 kHz, samples in
//! the 16-bit range. Each channel has its own network state; channels run in parallel.

use super::{AudioError, AudioStage};
use nnnoiseless::DenoiseState;
use rayon::prelude::*;
use std::collections::VecDeque;

/// The only rate RNNoise works at.
pub const RATE: u32 = 48_000;
/// RNNoise's frame (10 ms at 48 kHz).
pub const FRAME: usize = DenoiseState::FRAME_SIZE;
/// Output lag: one frame of buffering here plus one frame of overlap-add inside RNNoise.
pub const DELAY: usize = 2 * FRAME;

const SCALE: f32 = 32_768.0;

struct Channel {
    state: Box<DenoiseState<'static>>,
    /// Input not yet a whole frame.
    pending: Vec<f32>,
    /// Denoised samples waiting to go out (starts with one frame of silence).
    ready: VecDeque<f32>,
    /// The input delayed by `DELAY`, for the dry part of the mix.
    dry: VecDeque<f32>,
    vad_sum: f64,
    frames: u64,
}

impl Channel {
    fn new() -> Self {
        Channel {
            state: DenoiseState::new(),
            pending: Vec::with_capacity(FRAME),
            ready: std::iter::repeat_n(0.0, FRAME).collect(),
            dry: std::iter::repeat_n(0.0, DELAY).collect(),
            vad_sum: 0.0,
            frames: 0,
        }
    }

    /// Denoises `x` (one channel, in place) with a wet share of `mix`.
    fn run(&mut self, x: &mut [f32], mix: f32) {
        let mut out = [0f32; FRAME];
        for v in x.iter_mut() {
            self.pending.push(*v * SCALE);
            if self.pending.len() == FRAME {
                let vad = self.state.process_frame(&mut out, &self.pending);
                self.vad_sum += vad as f64;
                self.frames += 1;
                self.pending.clear();
                self.ready.extend(out.iter().map(|s| s / SCALE));
            }
            self.dry.push_back(*v);
            let dry = self.dry.pop_front().unwrap_or(0.0);
            // `ready` holds at least one sample: it starts a frame ahead of the input.
            let wet = self.ready.pop_front().unwrap_or(0.0);
            *v = mix * wet + (1.0 - mix) * dry;
        }
    }
}

/// RNNoise on every channel of interleaved 48 kHz samples.
pub struct Denoiser {
    channels: Vec<Channel>,
    mix: f32,
    planes: Vec<Vec<f32>>,
}

impl Denoiser {
    /// `mix` is the share of the denoised signal (1 = fully denoised).
    pub fn new(channels: usize, mix: f64) -> Self {
        let n = channels.max(1);
        Denoiser {
            channels: (0..n).map(|_| Channel::new()).collect(),
            mix: mix.clamp(0.0, 1.0) as f32,
            planes: vec![Vec::new(); n],
        }
    }

    /// Mean voice-activity probability RNNoise saw, over all channels and frames.
    pub fn voice_activity(&self) -> f64 {
        let (sum, n) = self
            .channels
            .iter()
            .fold((0.0, 0u64), |(s, n), c| (s + c.vad_sum, n + c.frames));
        if n == 0 {
            0.0
        } else {
            sum / n as f64
        }
    }
}

impl AudioStage for Denoiser {
    fn delay(&self) -> usize {
        DELAY
    }

    fn process(&mut self, samples: &mut [f32]) -> Result<(), AudioError> {
        let ch = self.channels.len();
        super::check_interleaved(samples, ch)?;
        let n = samples.len() / ch;
        for (c, plane) in self.planes.iter_mut().enumerate() {
            plane.clear();
            plane.extend(samples.iter().skip(c).step_by(ch));
        }
        let mix = self.mix;
        if ch > 1 && n >= FRAME {
            self.channels
                .par_iter_mut()
                .zip(self.planes.par_iter_mut())
                .for_each(|(c, p)| c.run(p, mix));
        } else {
            for (c, p) in self.channels.iter_mut().zip(self.planes.iter_mut()) {
                c.run(p, mix);
            }
        }
        for (c, plane) in self.planes.iter().enumerate() {
            for (i, v) in plane.iter().enumerate() {
                samples[i * ch + c] = *v;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A voiced, syllable-modulated tone with noise on top: speech-like enough for RNNoise to keep.
    fn voiced(n: usize, noise: f32, seed: u64) -> (Vec<f32>, Vec<f32>) {
        let mut rng = seed;
        let mut clean = Vec::with_capacity(n);
        let mut noisy = Vec::with_capacity(n);
        for i in 0..n {
            let t = i as f32 / RATE as f32;
            let f0 = 140.0 + 20.0 * (2.0 * std::f32::consts::PI * 0.7 * t).sin();
            let mut v = 0.0;
            for h in 1..12 {
                v += (2.0 * std::f32::consts::PI * f0 * h as f32 * t).sin() / h as f32;
            }
            v *= 0.15 * (2.0 * std::f32::consts::PI * 3.0 * t).sin().abs();
            rng = rng
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let u = ((rng >> 33) as f32 / (1u64 << 31) as f32) - 0.5;
            clean.push(v);
            noisy.push(v + noise * u);
        }
        (clean, noisy)
    }

    fn lag_of(out: &[f32], reference: &[f32], max: usize) -> usize {
        (0..max)
            .max_by(|&a, &b| {
                let c = |l: usize| -> f64 {
                    reference
                        .iter()
                        .zip(&out[l..])
                        .map(|(x, y)| (*x as f64) * (*y as f64))
                        .sum()
                };
                c(a).total_cmp(&c(b))
            })
            .unwrap_or(0)
    }

    #[test]
    fn output_lags_by_the_declared_delay_and_noise_drops() {
        let n = RATE as usize * 2;
        let (clean, _) = voiced(n, 0.0, 7);
        let mut d = Denoiser::new(1, 1.0);
        let mut y = clean.clone();
        // Odd block sizes: the frame buffering must not care.
        for block in y.chunks_mut(1000) {
            d.process(block).unwrap();
        }
        // RNNoise's input high-pass leads low harmonics by a fraction of a sample.
        let lag = lag_of(&y, &clean[..n - 2000], 2000);
        assert!(lag.abs_diff(DELAY) <= 1, "lag {lag}");
        // Steady noise alone is turned down (white noise is the hardest case for RNNoise, trained
        // on real noises: about −6 dB here; speech in real noise is measured in tests/tests/audio/).
        let (_, noise) = voiced(n, 0.1, 9);
        let noise: Vec<f32> = noise.iter().zip(&clean).map(|(a, b)| a - b).collect();
        let mut d = Denoiser::new(1, 1.0);
        let mut y = noise.clone();
        d.process(&mut y).unwrap();
        let energy = |s: &[f32]| s.iter().map(|v| (*v as f64).powi(2)).sum::<f64>();
        let (before, after) = (energy(&noise[n / 2..]), energy(&y[n / 2..]));
        assert!(after < before * 0.5, "noise energy {before} → {after}");
    }

    #[test]
    fn channels_are_independent_and_mix_zero_is_a_pure_delay() {
        let n = RATE as usize / 2;
        let (_, a) = voiced(n, 0.05, 1);
        let mut x = Vec::with_capacity(2 * n);
        for v in &a {
            x.extend([*v, 0.0]);
        }
        let mut d = Denoiser::new(2, 0.0);
        let mut y = x.clone();
        d.process(&mut y).unwrap();
        for i in 0..n - DELAY {
            assert_eq!(y[2 * (i + DELAY)], a[i]);
            assert_eq!(y[2 * (i + DELAY) + 1], 0.0);
        }
        let mut wet = Denoiser::new(2, 1.0);
        let mut y = x.clone();
        wet.process(&mut y).unwrap();
        assert!(y.iter().skip(1).step_by(2).all(|v| *v == 0.0));
        assert!(wet.process(&mut [0.0; 3]).is_err());
    }
}
