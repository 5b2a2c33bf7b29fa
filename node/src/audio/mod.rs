//! Audio enhancement: loudness normalisation (EBU R128, true-peak limited), speech denoising
//! (RNNoise, or DeepFilterNet3 where its model is installed) and synchronisation of an external recording (GCC-PHAT). Stages run on interleaved
//! float samples between the decoder's filter graph and the encoder (see `media::audio`).

pub mod denoise;
pub mod dfn;
pub mod loudness;
pub mod sync;
pub mod truepeak;

use thiserror::Error;

/// Refuses a block of interleaved samples that is not whole frames of `channels`.
fn check_interleaved(samples: &[f32], channels: usize) -> Result<(), AudioError> {
    if samples.len().is_multiple_of(channels) {
        return Ok(());
    }
    Err(AudioError::Denoise(format!(
        "{} samples do not divide into {channels} channels",
        samples.len()
    )))
}

/// One audio stage in the chain. It sees interleaved samples block by block, in order, and returns
/// the same number of samples; its output is its input delayed by `delay()` samples (look-ahead or
/// frame buffering), which the caller takes off the timestamps so the audio stays in sync.
pub trait AudioStage: Send {
    /// Samples (per channel) the output lags the input.
    fn delay(&self) -> usize;
    /// Processes interleaved samples in place.
    fn process(&mut self, samples: &mut [f32]) -> Result<(), AudioError>;
}

/// Stages run one after another; the delays add up.
#[derive(Default)]
pub struct Chain {
    stages: Vec<Box<dyn AudioStage>>,
}

impl Chain {
    pub fn new() -> Self {
        Chain::default()
    }
    pub fn push(&mut self, stage: Box<dyn AudioStage>) {
        self.stages.push(stage);
    }
    pub fn is_empty(&self) -> bool {
        self.stages.is_empty()
    }
}

impl AudioStage for Chain {
    fn delay(&self) -> usize {
        self.stages.iter().map(|s| s.delay()).sum()
    }
    fn process(&mut self, samples: &mut [f32]) -> Result<(), AudioError> {
        for s in &mut self.stages {
            s.process(samples)?;
        }
        Ok(())
    }
}

impl AudioStage for loudness::Limiter {
    fn delay(&self) -> usize {
        loudness::Limiter::delay(self)
    }
    fn process(&mut self, samples: &mut [f32]) -> Result<(), AudioError> {
        loudness::Limiter::process(self, samples);
        Ok(())
    }
}

/// Why an audio stage could not run; each renders as one line a user can act on.
#[derive(Debug, Error)]
pub enum AudioError {
    #[error("audio sync: the video has no audio stream, so the external recording's offset cannot be found (sync needs the camera's own sound as the reference)")]
    NoReferenceAudio,
    #[error("audio sync: the external recording {0} has no audio stream")]
    TrackHasNoAudio(String),
    #[error("audio sync: the external recording {path} cannot be read: {reason}")]
    TrackUnreadable { path: String, reason: String },
    #[error("audio sync: the {0} is silent, so no offset can be found")]
    Silent(&'static str),
    #[error("audio sync: the {what} is too short ({seconds:.2} s; at least {min:.1} s of sound is needed)")]
    TooShort {
        what: &'static str,
        seconds: f64,
        min: f64,
    },
    #[error("audio denoise: {0}")]
    Denoise(String),
}
