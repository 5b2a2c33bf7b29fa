//! Audio stage settings: loudness, speech denoise, external-recording sync.

use super::*;
use serde::{Deserialize, Serialize};

/// The speech denoiser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AudioDenoiseEngine {
    /// RNNoise (Valin 2018) through the `nnnoiseless` crate: a small recurrent network, 48 kHz.
    #[default]
    Rnnoise,
    /// DeepFilterNet3 (Schröter et al. 2023): ERB gains plus deep filtering of the low bins, 48 kHz,
    /// run by ONNX Runtime from the models folder (`scripts/models.sh`). Stronger than RNNoise
    /// (BENCHMARKS.md); where its model is not installed the stage runs RNNoise and says so.
    #[serde(rename = "deepfilternet")]
    DeepFilterNet,
}

impl AudioDenoiseEngine {
    /// The name used in job specs and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            AudioDenoiseEngine::Rnnoise => "rnnoise",
            AudioDenoiseEngine::DeepFilterNet => "deepfilternet",
        }
    }
}

/// Speech noise reduction, each channel on its own.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AudioDenoiseParams {
    #[serde(default)]
    pub engine: AudioDenoiseEngine,
    /// Share of the denoised signal, 0…1 (1 = fully denoised; lower keeps some of the original).
    #[serde(default = "default_mix")]
    pub mix: f64,
}

pub(super) fn default_mix() -> f64 {
    1.0
}

impl Default for AudioDenoiseParams {
    fn default() -> Self {
        AudioDenoiseParams {
            engine: AudioDenoiseEngine::Rnnoise,
            mix: default_mix(),
        }
    }
}

impl AudioDenoiseParams {
    pub(crate) fn validate(&self) -> Result<(), SpecError> {
        in_range_f64("audio_stages.denoise.mix", self.mix, 0.0, 1.0)
    }
}

/// What the synchronised external recording does to the video's audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SyncMode {
    /// The external recording replaces the audio (silence where it does not reach).
    #[default]
    Replace,
    /// `level` of the external recording plus `1 - level` of the original.
    Mix,
}

/// An external recording (a separate microphone or recorder) to put in sync with the video.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SyncParams {
    /// The recording: a path on the node (CLI) or a finished upload's id (service).
    pub track: String,
    #[serde(default)]
    pub mode: SyncMode,
    /// In `mix` mode, the external recording's share, 0…1.
    #[serde(default = "default_sync_level")]
    pub level: f64,
    /// Largest offset searched either way, seconds (0.01…600).
    #[serde(default = "default_max_offset")]
    pub max_offset_seconds: f64,
}

pub(super) fn default_sync_level() -> f64 {
    0.5
}
pub(super) fn default_max_offset() -> f64 {
    10.0
}

impl SyncParams {
    pub(crate) fn validate(&self) -> Result<(), SpecError> {
        if self.track.trim().is_empty() {
            return Err(SpecError::new(
                "audio_stages.sync.track",
                "must name the external recording",
            ));
        }
        in_range_f64("audio_stages.sync.level", self.level, 0.0, 1.0)?;
        in_range_f64(
            "audio_stages.sync.max_offset_seconds",
            self.max_offset_seconds,
            0.01,
            600.0,
        )
    }
}

pub(super) fn in_range_f64(field: &str, v: f64, lo: f64, hi: f64) -> Result<(), SpecError> {
    if v.is_finite() && v >= lo && v <= hi {
        Ok(())
    } else {
        Err(SpecError::new(
            field,
            format!("must be between {lo} and {hi}, got {v}"),
        ))
    }
}

/// Presets: −14 LUFS (streaming platforms), −16 (podcasts), −23 (EBU R128 broadcast).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LoudnessParams {
    /// Integrated loudness target, LUFS (−70…−5).
    #[serde(default = "default_lufs")]
    pub target_lufs: f64,
    /// True-peak ceiling, dBTP (−9…0).
    #[serde(default = "default_true_peak")]
    pub true_peak_db: f64,
}

pub(super) fn default_lufs() -> f64 {
    -16.0
}
pub(super) fn default_true_peak() -> f64 {
    -1.0
}

impl Default for LoudnessParams {
    fn default() -> Self {
        LoudnessParams {
            target_lufs: default_lufs(),
            true_peak_db: default_true_peak(),
        }
    }
}

impl LoudnessParams {
    pub(crate) fn validate(&self) -> Result<(), SpecError> {
        if !(self.target_lufs.is_finite() && (-70.0..=-5.0).contains(&self.target_lufs)) {
            return Err(SpecError::new(
                "audio_stages.loudness.target_lufs",
                format!("must be between -70 and -5 LUFS, got {}", self.target_lufs),
            ));
        }
        if !(self.true_peak_db.is_finite() && (-9.0..=0.0).contains(&self.true_peak_db)) {
            return Err(SpecError::new(
                "audio_stages.loudness.true_peak_db",
                format!("must be between -9 and 0 dBTP, got {}", self.true_peak_db),
            ));
        }
        Ok(())
    }
}
