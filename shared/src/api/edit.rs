//! Auto-edit settings: which black, frozen and silent stretches are cut.

use super::*;
use serde::{Deserialize, Serialize};

/// Auto-edit: what to cut (black, frozen, silent stretches). The rules follow FFmpeg's `blackdetect`,
/// `freezedetect` and `silencedetect` with their defaults (see `kino_node::edit::detect`).
/// How the detections combine into cuts.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Combine {
    /// Cut where any enabled detection fires (black or silent or frozen).
    #[default]
    Any,
    /// Cut only where every enabled detection that has input agrees (e.g. black *and* silent), so
    /// narration over black or a still picture is kept.
    All,
}

/// Auto-edit settings. Defaults follow FFmpeg's detection filters (see the module documentation).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutoEditParams {
    /// Cut black parts.
    #[serde(default = "yes")]
    pub black: bool,
    /// Luma at or below which a pixel counts as black, as a fraction of the nominal range, 0…1.
    #[serde(default = "default_black_pixel")]
    pub black_pixel_threshold: f64,
    /// Fraction of black pixels at or above which a frame is black, 0…1.
    #[serde(default = "default_black_ratio")]
    pub black_ratio_threshold: f64,
    /// Shortest black run cut, seconds (0…3600).
    #[serde(default = "default_min_duration")]
    pub black_min_duration: f64,
    /// Cut frozen parts (off by default: a still slide with narration is content).
    #[serde(default)]
    pub frozen: bool,
    /// Mean absolute frame difference (fraction of full scale) at or below which a frame is frozen,
    /// 0…1.
    #[serde(default = "default_freeze_noise")]
    pub freeze_noise: f64,
    /// Shortest frozen run cut, seconds (0…3600).
    #[serde(default = "default_min_duration")]
    pub freeze_min_duration: f64,
    /// Cut silent parts.
    #[serde(default = "yes")]
    pub silence: bool,
    /// RMS level at or below which a window is silent, dBFS (−120…0).
    #[serde(default = "default_silence_db")]
    pub silence_threshold_db: f64,
    /// Shortest silent run cut, seconds (0…3600).
    #[serde(default = "default_min_duration")]
    pub silence_min_duration: f64,
    #[serde(default)]
    pub combine: Combine,
    /// Seconds of each cut kept on both sides as padding around kept content (0…60).
    #[serde(default = "default_margin")]
    pub margin: f64,
}

pub(super) fn default_black_pixel() -> f64 {
    0.10
}
pub(super) fn default_black_ratio() -> f64 {
    0.98
}
pub(super) fn default_min_duration() -> f64 {
    2.0
}
pub(super) fn default_freeze_noise() -> f64 {
    0.001
}
pub(super) fn default_silence_db() -> f64 {
    -60.0
}
pub(super) fn default_margin() -> f64 {
    0.2
}

impl Default for AutoEditParams {
    fn default() -> Self {
        AutoEditParams {
            black: true,
            black_pixel_threshold: default_black_pixel(),
            black_ratio_threshold: default_black_ratio(),
            black_min_duration: default_min_duration(),
            frozen: false,
            freeze_noise: default_freeze_noise(),
            freeze_min_duration: default_min_duration(),
            silence: true,
            silence_threshold_db: default_silence_db(),
            silence_min_duration: default_min_duration(),
            combine: Combine::Any,
            margin: default_margin(),
        }
    }
}

impl AutoEditParams {
    /// Every value finite and in range, and at least one detection enabled.
    pub fn validate(&self) -> Result<(), SpecError> {
        let checks = [
            (
                "black_pixel_threshold",
                self.black_pixel_threshold,
                0.0,
                1.0,
            ),
            (
                "black_ratio_threshold",
                self.black_ratio_threshold,
                0.0,
                1.0,
            ),
            ("black_min_duration", self.black_min_duration, 0.0, 3600.0),
            ("freeze_noise", self.freeze_noise, 0.0, 1.0),
            ("freeze_min_duration", self.freeze_min_duration, 0.0, 3600.0),
            (
                "silence_threshold_db",
                self.silence_threshold_db,
                -120.0,
                0.0,
            ),
            (
                "silence_min_duration",
                self.silence_min_duration,
                0.0,
                3600.0,
            ),
            ("margin", self.margin, 0.0, 60.0),
        ];
        for (name, v, lo, hi) in checks {
            if !(v.is_finite() && v >= lo && v <= hi) {
                return Err(SpecError::new(
                    format!("auto_edit.{name}"),
                    format!("must be between {lo} and {hi}, got {v}"),
                ));
            }
        }
        if !(self.black || self.frozen || self.silence) {
            return Err(SpecError::new(
                "auto_edit",
                "enable at least one of black, frozen, silence",
            ));
        }
        Ok(())
    }
}
