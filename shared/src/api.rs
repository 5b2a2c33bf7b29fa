//! Every type that crosses the wire between the editor, the node and the CLI.

use serde::{Deserialize, Serialize};
use thiserror::Error;

pub use crate::frame::Sar;

/// Largest width or height a stage may produce (16K).
pub const MAX_DIMENSION: u32 = 16_384;

/// What to render: an input, the ordered enhancement stages, and how to encode the result.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobSpec {
    /// Input file: a path on the node (CLI) or an upload id (service).
    pub input: String,
    /// Stages, applied in order to every frame.
    #[serde(default)]
    pub stages: Vec<StageSpec>,
    /// Audio stages, applied in order to every audio stream (the audio is then re-encoded).
    #[serde(default)]
    pub audio_stages: Vec<AudioStageSpec>,
    /// Detect scene cuts (hard cuts, dissolves, fades): scene list and thumbnails in the report,
    /// chapters in the output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenes: Option<SceneParams>,
    /// Cut black, frozen and silent stretches out of the output; the cut list is exported for
    /// editors (EDL, FCPXML, OpenTimelineIO) with the report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_edit: Option<AutoEditParams>,
    #[serde(default)]
    pub output: OutputSpec,
    /// Target chunk length in seconds; chunks start at keyframes. 0 renders the video as one chunk.
    #[serde(default = "default_chunk_seconds")]
    pub chunk_seconds: f64,
}

fn default_chunk_seconds() -> f64 {
    4.0
}

/// One enhancement stage with its settings.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum StageSpec {
    /// Classic resize (Lanczos-3 or bicubic), per plane with correct chroma siting.
    Scale(ScaleParams),
    /// Colour: automatic white balance and levels (smoothed per scene), vibrance, saturation, and
    /// manual brightness, contrast, gamma, temperature and tint.
    Color(ColorParams),
    /// Motion-compensated temporal + spatial denoising, with the noise level estimated or given.
    Denoise(DenoiseParams),
    /// Adaptive unsharp masking that leaves noise alone.
    Sharpen(SharpenParams),
    /// HDR→SDR tone mapping (BT.2390 EETF, BT.2020→BT.709) or SDR→HDR10 expansion.
    Hdr(HdrParams),
    /// Global-motion stabilisation smoothed over the whole video, or locked ("tripod").
    Stabilize(StabilizeParams),
    /// Object (COCO-80, NanoDet-m) and face (CenterFace) detection every few frames, tracked across
    /// the whole video: tracks in the report (JSON, MOT CSV); optionally boxes drawn and chosen
    /// classes blurred in the output.
    Detect(DetectParams),
}

impl StageSpec {
    pub fn name(&self) -> &'static str {
        match self {
            StageSpec::Scale(_) => "scale",
            StageSpec::Color(_) => "color",
            StageSpec::Denoise(_) => "denoise",
            StageSpec::Sharpen(_) => "sharpen",
            StageSpec::Hdr(_) => "hdr",
            StageSpec::Stabilize(_) => "stabilize",
            StageSpec::Detect(_) => "detect",
        }
    }
}

/// One audio stage with its settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum AudioStageSpec {
    /// EBU R128 two-pass loudness normalisation with a true-peak ceiling.
    Loudness(LoudnessParams),
    /// Speech noise reduction (RNNoise); the audio is processed at 48 kHz.
    Denoise(AudioDenoiseParams),
    /// Replaces (or mixes in) an external recording, aligned to the video's own audio by
    /// cross-correlation; the offset and clock drift found go to the job report (`audio_sync`).
    Sync(SyncParams),
}

impl AudioStageSpec {
    pub fn name(&self) -> &'static str {
        match self {
            AudioStageSpec::Loudness(_) => "loudness",
            AudioStageSpec::Denoise(_) => "denoise",
            AudioStageSpec::Sync(_) => "sync",
        }
    }
    /// The loudness settings, when this is the loudness stage.
    pub fn loudness(&self) -> Option<LoudnessParams> {
        match self {
            AudioStageSpec::Loudness(p) => Some(*p),
            _ => None,
        }
    }
    /// The sync settings, when this is the sync stage.
    pub fn sync(&self) -> Option<&SyncParams> {
        match self {
            AudioStageSpec::Sync(p) => Some(p),
            _ => None,
        }
    }
    fn validate(&self) -> Result<(), SpecError> {
        match self {
            AudioStageSpec::Loudness(p) => p.validate(),
            AudioStageSpec::Denoise(p) => p.validate(),
            AudioStageSpec::Sync(p) => p.validate(),
        }
    }
}

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

fn default_mix() -> f64 {
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
    fn validate(&self) -> Result<(), SpecError> {
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

fn default_sync_level() -> f64 {
    0.5
}
fn default_max_offset() -> f64 {
    10.0
}

impl SyncParams {
    fn validate(&self) -> Result<(), SpecError> {
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

fn in_range_f64(field: &str, v: f64, lo: f64, hi: f64) -> Result<(), SpecError> {
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

fn default_lufs() -> f64 {
    -16.0
}
fn default_true_peak() -> f64 {
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
    fn validate(&self) -> Result<(), SpecError> {
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

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ResizeFilter {
    #[default]
    Lanczos3,
    Bicubic,
}

/// Target size: `width` and/or `height` in pixels, or a `factor`. With one side given the other keeps
/// the aspect ratio.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ScaleParams {
    #[serde(default)]
    pub width: Option<u32>,
    #[serde(default)]
    pub height: Option<u32>,
    #[serde(default)]
    pub factor: Option<f64>,
    #[serde(default)]
    pub filter: ResizeFilter,
    /// Neural super-resolution (×2 or ×4, whichever reaches the target; `filter` then finishes any
    /// remaining resize). Without the model files the stage falls back to `filter` with a warning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<SrModel>,
    /// Share of the classic (`filter`) result mixed into the neural one, 0 (neural only) … 1.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub blend: f32,
    /// Tile side in input pixels for neural inference (memory per tile is bounded by it); default
    /// per model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tile: Option<u32>,
    /// What happens to non-square pixels (anamorphic DV, DVD, HDV): `square` (default) resamples
    /// to square pixels at the source's display shape, `keep` scales the stored picture and keeps
    /// its pixel aspect ratio. Either way `width`/`height` are the display size.
    #[serde(default, skip_serializing_if = "PixelAspect::is_square")]
    pub pixels: PixelAspect,
}

/// How `scale` treats the pixel aspect ratio of its input.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PixelAspect {
    /// Resample to square pixels: the output is stored as it is shown (what every player and
    /// editor handles, and what the browser preview shows).
    #[default]
    Square,
    /// Keep the source's pixel aspect ratio (the output stays anamorphic, tagged as the source).
    Keep,
}

impl PixelAspect {
    fn is_square(&self) -> bool {
        *self == PixelAspect::Square
    }
}

fn is_zero(v: &f32) -> bool {
    *v == 0.0
}

/// The super-resolution networks Kino ships (converted from registry packages by the set-up).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SrModel {
    /// Real-ESRGAN animevideov3 (SRVGGNetCompact): video and animation, the fastest.
    Fast,
    /// Real-ESRGAN x4plus (RRDBNet, 16.7 M parameters): photos, best detail, slow on CPU (×4 only;
    /// ×2 is ×4 then a classic downscale).
    Quality,
    /// UpscalerJS esrgan-slim (a small RDN).
    Small,
}

impl SrModel {
    pub fn name(self) -> &'static str {
        match self {
            SrModel::Fast => "fast",
            SrModel::Quality => "quality",
            SrModel::Small => "small",
        }
    }
}

impl ScaleParams {
    /// Output size for a square-pixel input of `w`×`h`, rounded to a multiple of `align` (2 for
    /// 4:2:0 video).
    pub fn target_size(&self, w: u32, h: u32, align: u32) -> Result<(u32, u32), SpecError> {
        self.target(w, h, Sar::SQUARE, align)
            .map(|(w, h, _)| (w, h))
    }

    /// Stored output size and pixel aspect ratio for a `w`×`h` input whose pixels are `sar`.
    /// Sizes and factors apply to the display size (`w`·sar × `h`), so a 176×144 picture at
    /// 128:117 (shown 193×144) becomes 386×288 square pixels at `factor=2`.
    pub fn target(
        &self,
        w: u32,
        h: u32,
        sar: Sar,
        align: u32,
    ) -> Result<(u32, u32, Sar), SpecError> {
        let r = sar.ratio();
        let (dw, dh) = (w as f64 * r, h as f64);
        let (fw, fh) = match (self.width, self.height, self.factor) {
            (Some(tw), Some(th), None) => (tw as f64, th as f64),
            (Some(tw), None, None) => (tw as f64, tw as f64 * dh / dw),
            (None, Some(th), None) => (th as f64 * dw / dh, th as f64),
            (None, None, Some(f)) => (dw * f, dh * f),
            _ => {
                return Err(SpecError::new(
                    "stages.scale",
                    "give width and/or height, or factor (not both)",
                ))
            }
        };
        let (fw, out_sar) = match self.pixels {
            PixelAspect::Square => (fw, Sar::SQUARE),
            PixelAspect::Keep => (fw / r, sar),
        };
        let align = align.max(1) as f64;
        let round = |v: f64| ((v / align).round() * align).max(align) as u32;
        let (ow, oh) = (round(fw), round(fh));
        if ow > MAX_DIMENSION || oh > MAX_DIMENSION {
            return Err(SpecError::new(
                "stages.scale",
                format!("target {ow}x{oh} exceeds the {MAX_DIMENSION} pixel limit"),
            ));
        }
        Ok((ow, oh, out_sar))
    }

    fn validate(&self) -> Result<(), SpecError> {
        for (name, v) in [("width", self.width), ("height", self.height)] {
            if let Some(v) = v {
                if v == 0 || v > MAX_DIMENSION {
                    return Err(SpecError::new(
                        format!("stages.scale.{name}"),
                        format!("must be between 1 and {MAX_DIMENSION}, got {v}"),
                    ));
                }
            }
        }
        if let Some(f) = self.factor {
            if !(f.is_finite() && f > 0.0 && f <= 16.0) {
                return Err(SpecError::new(
                    "stages.scale.factor",
                    format!("must be in (0, 16], got {f}"),
                ));
            }
        }
        if !(0.0..=1.0).contains(&self.blend) {
            return Err(SpecError::new(
                "stages.scale.blend",
                format!("must be between 0 and 1, got {}", self.blend),
            ));
        }
        if let Some(t) = self.tile {
            if !(32..=4096).contains(&t) {
                return Err(SpecError::new(
                    "stages.scale.tile",
                    format!("must be between 32 and 4096 pixels, got {t}"),
                ));
            }
        }
        // Reject ambiguous combinations early, with a representative size.
        self.target_size(1920, 1080, 1).map(|_| ())
    }
}

/// Manual colour adjustment. The identity is brightness 0, contrast 1, saturation 1, gamma 1.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColorParams {
    /// Added to normalised luma, −1…1.
    #[serde(default)]
    pub brightness: f32,
    /// Luma contrast around mid-grey, 0…4.
    #[serde(default = "one")]
    pub contrast: f32,
    /// Chroma gain, 0 (grey) … 4.
    #[serde(default = "one")]
    pub saturation: f32,
    /// Luma gamma, 0.1…10 (>1 brightens mid-tones).
    #[serde(default = "one")]
    pub gamma: f32,
    /// Saturation boost that favours dull colours over already saturated ones, −1…1.
    #[serde(default)]
    pub vibrance: f32,
    /// Warmer (positive) or cooler (negative), −1…1.
    #[serde(default)]
    pub temperature: f32,
    /// Magenta (positive) or green (negative), −1…1.
    #[serde(default)]
    pub tint: f32,
    /// Neutralise colour casts (grey-world on near-neutral pixels), smoothed per scene.
    #[serde(default)]
    pub auto_white_balance: bool,
    /// Stretch the luma range to the legal black and white, smoothed per scene.
    #[serde(default)]
    pub auto_levels: bool,
}

fn one() -> f32 {
    1.0
}

/// 2 s: the handheld test clip's residual jitter is lowest there (1 s: 6.9 px, 2 s: 5.9 px, 3 s:
/// 7.2 px from 8.7 px; wider windows push the path against the crop bound more often).
fn default_smoothing() -> f32 {
    2.0
}

impl Default for ColorParams {
    fn default() -> Self {
        ColorParams {
            brightness: 0.0,
            contrast: 1.0,
            saturation: 1.0,
            gamma: 1.0,
            vibrance: 0.0,
            temperature: 0.0,
            tint: 0.0,
            auto_white_balance: false,
            auto_levels: false,
        }
    }
}

impl ColorParams {
    /// Whether the stage needs per-frame statistics from the analysis pass.
    pub fn is_auto(&self) -> bool {
        self.auto_white_balance || self.auto_levels
    }

    fn validate(&self) -> Result<(), SpecError> {
        let checks = [
            ("brightness", self.brightness, -1.0, 1.0),
            ("contrast", self.contrast, 0.0, 4.0),
            ("saturation", self.saturation, 0.0, 4.0),
            ("gamma", self.gamma, 0.1, 10.0),
            ("vibrance", self.vibrance, -1.0, 1.0),
            ("temperature", self.temperature, -1.0, 1.0),
            ("tint", self.tint, -1.0, 1.0),
        ];
        for (name, v, lo, hi) in checks {
            in_range(&format!("stages.color.{name}"), v, lo, hi)?;
        }
        Ok(())
    }
}

/// Checks that `v` is finite and within `lo..=hi`, naming the field otherwise.
fn in_range(field: &str, v: f32, lo: f32, hi: f32) -> Result<(), SpecError> {
    if v.is_finite() && v >= lo && v <= hi {
        Ok(())
    } else {
        Err(SpecError::new(
            field,
            format!("must be between {lo} and {hi}, got {v}"),
        ))
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum DenoiseMode {
    /// Estimate the noise level of every frame (Immerkær's method on luma).
    #[default]
    Auto,
    /// Use `sigma` as the noise level.
    Manual,
}

/// Denoising. Defaults: auto noise level, strength 1, two frames either side.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DenoiseParams {
    #[serde(default)]
    pub mode: DenoiseMode,
    /// Noise standard deviation in 8-bit code values (manual mode), 0.5…50.
    #[serde(default = "default_sigma")]
    pub sigma: f32,
    /// How hard to filter relative to the noise level, 0 (off) … 3.
    #[serde(default = "one")]
    pub strength: f32,
    /// Frames used either side of each frame, 0 (spatial only) … 3.
    #[serde(default = "default_radius")]
    pub temporal_radius: u32,
}

fn default_sigma() -> f32 {
    10.0
}
fn default_radius() -> u32 {
    2
}

impl Default for DenoiseParams {
    fn default() -> Self {
        DenoiseParams {
            mode: DenoiseMode::Auto,
            sigma: default_sigma(),
            strength: 1.0,
            temporal_radius: default_radius(),
        }
    }
}

impl DenoiseParams {
    fn validate(&self) -> Result<(), SpecError> {
        in_range("stages.denoise.sigma", self.sigma, 0.5, 50.0)?;
        in_range("stages.denoise.strength", self.strength, 0.0, 3.0)?;
        if self.temporal_radius > 3 {
            return Err(SpecError::new(
                "stages.denoise.temporal_radius",
                format!("must be 0..=3, got {}", self.temporal_radius),
            ));
        }
        Ok(())
    }
}

/// Sharpening. Defaults: amount 0.8, radius 1.2 px, threshold from the estimated noise.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SharpenParams {
    /// Gain on fine detail, 0…5.
    #[serde(default = "default_amount")]
    pub amount: f32,
    /// Size of the detail sharpened (Gaussian σ in pixels), 0.3…5.
    #[serde(default = "default_sharpen_radius")]
    pub radius: f32,
    /// Detail below this (8-bit code values) counts as noise, 0…50; absent: twice the estimated noise.
    #[serde(default)]
    pub threshold: Option<f32>,
}

fn default_amount() -> f32 {
    0.8
}
fn default_sharpen_radius() -> f32 {
    1.2
}

impl Default for SharpenParams {
    fn default() -> Self {
        SharpenParams {
            amount: default_amount(),
            radius: default_sharpen_radius(),
            threshold: None,
        }
    }
}

impl SharpenParams {
    fn validate(&self) -> Result<(), SpecError> {
        in_range("stages.sharpen.amount", self.amount, 0.0, 5.0)?;
        in_range("stages.sharpen.radius", self.radius, 0.3, 5.0)?;
        if let Some(t) = self.threshold {
            in_range("stages.sharpen.threshold", t, 0.0, 50.0)?;
        }
        Ok(())
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HdrMode {
    /// PQ or HLG input → SDR BT.709, 8-bit.
    ToSdr,
    /// SDR input → HDR10 (PQ, BT.2020, 10-bit) with mastering metadata.
    ToHdr,
}

/// HDR conversion.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HdrParams {
    pub mode: HdrMode,
    /// to_sdr: the source's peak (absent: its MaxCLL or mastering peak, else 1000);
    /// to_hdr: the output's peak (absent: 1000). 100…10000 cd/m².
    #[serde(default)]
    pub peak_nits: Option<f32>,
}

impl HdrParams {
    fn validate(&self) -> Result<(), SpecError> {
        if let Some(p) = self.peak_nits {
            in_range("stages.hdr.peak_nits", p, 100.0, 10_000.0)?;
        }
        Ok(())
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum StabilizeMode {
    /// Follow the intended camera path, smoothed over `smoothing_seconds`.
    #[default]
    Smooth,
    /// Hold the camera still, as on a tripod.
    Tripod,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum EdgeFill {
    /// Uncovered borders are black.
    #[default]
    Black,
    /// Uncovered borders repeat the nearest edge pixels.
    Clamp,
}

/// Stabilisation. Defaults: smooth over 1 s, zoom in up to 1.15× so no border shows.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StabilizeParams {
    #[serde(default)]
    pub mode: StabilizeMode,
    /// Half-width of the trajectory smoothing window, 0.1…10 s.
    #[serde(default = "default_smoothing")]
    pub smoothing_seconds: f32,
    /// Largest zoom used to hide borders, 1 (no zoom) … 2.
    #[serde(default = "default_max_zoom")]
    pub max_zoom: f32,
    /// What fills borders the zoom does not hide.
    #[serde(default)]
    pub edge: EdgeFill,
}

fn default_max_zoom() -> f32 {
    1.15
}

impl Default for StabilizeParams {
    fn default() -> Self {
        StabilizeParams {
            mode: StabilizeMode::Smooth,
            smoothing_seconds: default_smoothing(),
            max_zoom: default_max_zoom(),
            edge: EdgeFill::Black,
        }
    }
}

impl StabilizeParams {
    fn validate(&self) -> Result<(), SpecError> {
        in_range(
            "stages.stabilize.smoothing_seconds",
            self.smoothing_seconds,
            0.1,
            10.0,
        )?;
        in_range("stages.stabilize.max_zoom", self.max_zoom, 1.0, 2.0)
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum VideoCodec {
    #[default]
    H264,
    H265,
    Av1,
    Vp9,
}

impl VideoCodec {
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "h264" | "avc" | "x264" => Some(Self::H264),
            "h265" | "hevc" | "x265" => Some(Self::H265),
            "av1" => Some(Self::Av1),
            "vp9" => Some(Self::Vp9),
            _ => None,
        }
    }
}

/// What happens to the input's audio.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AudioMode {
    /// Copy when the container accepts the codec, else re-encode (AAC, or Opus for WebM).
    #[default]
    Auto,
    Copy,
    Aac,
    Opus,
    /// Drop audio.
    None,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSpec {
    #[serde(default)]
    pub codec: VideoCodec,
    /// Constant-quality factor (0 = lossless for x264/x265).
    #[serde(default = "default_crf")]
    pub crf: u8,
    /// Encoder speed preset (x264/x265 names; mapped for AV1/VP9).
    #[serde(default = "default_preset")]
    pub preset: String,
    #[serde(default)]
    pub audio: AudioMode,
    /// Container of the rendered file (the CLI takes it from the output extension).
    #[serde(default)]
    pub container: Container,
}

/// Output container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Container {
    #[default]
    Mp4,
    Mov,
    Mkv,
    Webm,
}

impl Container {
    pub fn extension(self) -> &'static str {
        match self {
            Container::Mp4 => "mp4",
            Container::Mov => "mov",
            Container::Mkv => "mkv",
            Container::Webm => "webm",
        }
    }
    pub fn from_extension(ext: &str) -> Option<Self> {
        Some(match ext.to_ascii_lowercase().as_str() {
            "mp4" | "m4v" => Container::Mp4,
            "mov" => Container::Mov,
            "mkv" => Container::Mkv,
            "webm" => Container::Webm,
            _ => return None,
        })
    }
}

fn default_crf() -> u8 {
    20
}
fn default_preset() -> String {
    "medium".into()
}

impl Default for OutputSpec {
    fn default() -> Self {
        OutputSpec {
            codec: VideoCodec::H264,
            crf: default_crf(),
            preset: default_preset(),
            audio: AudioMode::Auto,
            container: Container::Mp4,
        }
    }
}

/// x264/x265 preset names, fastest first.
pub const PRESETS: [&str; 10] = [
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
    "placebo",
];

impl OutputSpec {
    pub fn validate(&self) -> Result<(), SpecError> {
        let max_crf = match self.codec {
            VideoCodec::H264 | VideoCodec::H265 => 51,
            VideoCodec::Av1 | VideoCodec::Vp9 => 63,
        };
        if self.crf > max_crf {
            return Err(SpecError::new(
                "output.crf",
                format!(
                    "must be 0..={max_crf} for {:?}, got {}",
                    self.codec, self.crf
                ),
            ));
        }
        if self.container == Container::Webm
            && !matches!(self.codec, VideoCodec::Vp9 | VideoCodec::Av1)
        {
            return Err(SpecError::new(
                "output.container",
                "WebM needs codec vp9 or av1",
            ));
        }
        if !PRESETS.contains(&self.preset.as_str()) {
            return Err(SpecError::new(
                "output.preset",
                format!(
                    "unknown preset '{}': one of {}",
                    self.preset,
                    PRESETS.join(", ")
                ),
            ));
        }
        Ok(())
    }
}

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

fn default_black_pixel() -> f64 {
    0.10
}
fn default_black_ratio() -> f64 {
    0.98
}
fn default_min_duration() -> f64 {
    2.0
}
fn default_freeze_noise() -> f64 {
    0.001
}
fn default_silence_db() -> f64 {
    -60.0
}
fn default_margin() -> f64 {
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

impl JobSpec {
    /// Checks every parameter; the error names the offending field.
    pub fn validate(&self) -> Result<(), SpecError> {
        if self.input.trim().is_empty() {
            return Err(SpecError::new("input", "must not be empty"));
        }
        if !(self.chunk_seconds.is_finite() && (0.0..=3600.0).contains(&self.chunk_seconds)) {
            return Err(SpecError::new(
                "chunk_seconds",
                format!("must be between 0 and 3600, got {}", self.chunk_seconds),
            ));
        }
        for stage in &self.stages {
            match stage {
                StageSpec::Scale(p) => p.validate()?,
                StageSpec::Color(p) => p.validate()?,
                StageSpec::Denoise(p) => p.validate()?,
                StageSpec::Sharpen(p) => p.validate()?,
                StageSpec::Hdr(p) => p.validate()?,
                StageSpec::Stabilize(p) => p.validate()?,
                StageSpec::Detect(p) => p.validate()?,
            }
        }
        let position = |name: &str| self.stages.iter().position(|s| s.name() == name);
        if self.stages.iter().filter(|s| s.name() == "detect").count() > 1 {
            return Err(SpecError::new("stages.detect", "may be given once"));
        }
        if let (Some(d), Some(s)) = (position("detect"), position("stabilize")) {
            if d > s {
                return Err(SpecError::new(
                    "stages.detect",
                    "must come before stabilize (boxes are found on the source frames)",
                ));
            }
        }
        if let Some(p) = &self.scenes {
            p.validate()?;
        }
        if let Some(p) = &self.auto_edit {
            p.validate()?;
        }
        for stage in &self.audio_stages {
            stage.validate()?;
        }
        for kind in ["loudness", "sync"] {
            if self
                .audio_stages
                .iter()
                .filter(|s| s.name() == kind)
                .count()
                > 1
            {
                return Err(SpecError::new(
                    format!("audio_stages.{kind}"),
                    "may be given once",
                ));
            }
        }
        // The sync stage reads the recording in step with the samples it is given; auto-edit joins
        // the kept parts before the stages, so every part after a cut would meet the wrong stretch
        // of the recording.
        if self.auto_edit.is_some() && self.audio_stages.iter().any(|s| s.name() == "sync") {
            return Err(SpecError::new(
                "audio_stages.sync",
                "cannot be combined with auto_edit (the cut would move the recording against the picture): render with sync first, then auto-edit that output",
            ));
        }
        if !self.audio_stages.is_empty()
            && matches!(self.output.audio, AudioMode::Copy | AudioMode::None)
        {
            return Err(SpecError::new(
                "output.audio",
                "audio stages need the audio re-encoded (auto, aac or opus)",
            ));
        }
        self.output.validate()
    }
}

/// The 80 COCO classes NanoDet-m detects, in its output order.
pub const COCO_CLASSES: [&str; 80] = [
    "person",
    "bicycle",
    "car",
    "motorcycle",
    "airplane",
    "bus",
    "train",
    "truck",
    "boat",
    "traffic light",
    "fire hydrant",
    "stop sign",
    "parking meter",
    "bench",
    "bird",
    "cat",
    "dog",
    "horse",
    "sheep",
    "cow",
    "elephant",
    "bear",
    "zebra",
    "giraffe",
    "backpack",
    "umbrella",
    "handbag",
    "tie",
    "suitcase",
    "frisbee",
    "skis",
    "snowboard",
    "sports ball",
    "kite",
    "baseball bat",
    "baseball glove",
    "skateboard",
    "surfboard",
    "tennis racket",
    "bottle",
    "wine glass",
    "cup",
    "fork",
    "knife",
    "spoon",
    "bowl",
    "banana",
    "apple",
    "sandwich",
    "orange",
    "broccoli",
    "carrot",
    "hot dog",
    "pizza",
    "donut",
    "cake",
    "chair",
    "couch",
    "potted plant",
    "bed",
    "dining table",
    "toilet",
    "tv",
    "laptop",
    "mouse",
    "remote",
    "keyboard",
    "cell phone",
    "microwave",
    "oven",
    "toaster",
    "sink",
    "refrigerator",
    "book",
    "clock",
    "vase",
    "scissors",
    "teddy bear",
    "hair drier",
    "toothbrush",
];

/// The class id of faces (after the 80 COCO classes).
pub const FACE_CLASS: u8 = 80;

/// A detection class by name: a COCO class, or `face`.
pub fn class_id(name: &str) -> Option<u8> {
    let name = name.trim();
    if name == "face" {
        return Some(FACE_CLASS);
    }
    COCO_CLASSES
        .iter()
        .position(|c| *c == name)
        .map(|i| i as u8)
}

/// A class id's name (`face` for [`FACE_CLASS`]).
pub fn class_name(id: u8) -> &'static str {
    COCO_CLASSES.get(id as usize).copied().unwrap_or("face")
}

/// Detection and tracking. Defaults: every 5th frame, all 80 classes, no faces, score ≥ 0.4.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectParams {
    /// Run the detectors on every N-th frame (1…300); tracks carry boxes across the frames between.
    #[serde(default = "default_detect_every")]
    pub every: u32,
    /// Classes to detect and track (COCO names such as `person`, `car`, and `face`); empty = the 80
    /// COCO classes. A list, or one string joined with `+` (`person+car`).
    #[serde(default, deserialize_with = "names")]
    pub classes: Vec<String>,
    /// Also find faces (class `face`, CenterFace); implied by `face` in `classes` or `blur`.
    #[serde(default)]
    pub faces: bool,
    /// Lowest score a detection needs to start or confirm a track (0.05…0.95); detections down to
    /// half of it can still continue a track (ByteTrack's second association).
    #[serde(default = "default_min_score")]
    pub min_score: f32,
    /// Draw each tracked box with its class and track id into the output.
    #[serde(default)]
    pub draw: bool,
    /// Classes whose boxes are blurred in the output on every frame (privacy), e.g. `face` or
    /// `face+person`.
    #[serde(default, deserialize_with = "names")]
    pub blur: Vec<String>,
    /// Margin added around blurred boxes, as a share of the box's size (0…1).
    #[serde(default = "default_blur_padding")]
    pub blur_padding: f32,
}

fn default_detect_every() -> u32 {
    5
}
fn default_min_score() -> f32 {
    0.4
}
fn default_blur_padding() -> f32 {
    0.2
}

/// A list of names, or one string of names joined with `+` (what the CLI's `key=value` gives).
fn names<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => s
            .split('+')
            .map(|p| p.trim().to_owned())
            .filter(|p| !p.is_empty())
            .collect(),
        OneOrMany::Many(v) => v,
    })
}

impl Default for DetectParams {
    fn default() -> Self {
        DetectParams {
            every: default_detect_every(),
            classes: Vec::new(),
            faces: false,
            min_score: default_min_score(),
            draw: false,
            blur: Vec::new(),
            blur_padding: default_blur_padding(),
        }
    }
}

impl DetectParams {
    pub fn validate(&self) -> Result<(), SpecError> {
        if !(1..=300).contains(&self.every) {
            return Err(SpecError::new(
                "stages.detect.every",
                format!("must be between 1 and 300 frames, got {}", self.every),
            ));
        }
        in_range("stages.detect.min_score", self.min_score, 0.05, 0.95)?;
        in_range("stages.detect.blur_padding", self.blur_padding, 0.0, 1.0)?;
        for (field, list) in [("classes", &self.classes), ("blur", &self.blur)] {
            for name in list {
                if class_id(name).is_none() {
                    return Err(SpecError::new(
                        format!("stages.detect.{field}"),
                        format!("unknown class '{name}' (a COCO class such as person, car, dog; or face)"),
                    ));
                }
            }
        }
        if !self.classes.is_empty() {
            if let Some(b) = self.blur.iter().find(|b| !self.classes.contains(b)) {
                return Err(SpecError::new(
                    "stages.detect.blur",
                    format!("'{b}' is blurred but not among the detected classes"),
                ));
            }
        }
        Ok(())
    }

    /// Whether the face detector runs.
    pub fn wants_faces(&self) -> bool {
        self.faces
            || self.classes.iter().any(|c| c.trim() == "face")
            || self.blur.iter().any(|c| c.trim() == "face")
    }

    /// Whether any COCO class is detected (the object detector runs).
    pub fn wants_objects(&self) -> bool {
        self.classes.is_empty() || self.classes.iter().any(|c| c.trim() != "face")
    }

    /// The detected classes as a bit set (bit = class id; COCO 0…79, face 80).
    pub fn class_mask(&self) -> u128 {
        let mut m: u128 = if self.classes.is_empty() {
            (1u128 << 80) - 1
        } else {
            self.classes
                .iter()
                .filter_map(|c| class_id(c))
                .fold(0, |m, id| m | 1u128 << id)
        };
        if self.wants_faces() {
            m |= 1u128 << FACE_CLASS;
        }
        m
    }

    /// The blurred classes as a bit set.
    pub fn blur_mask(&self) -> u128 {
        self.blur
            .iter()
            .filter_map(|c| class_id(c))
            .fold(0, |m, id| m | 1u128 << id)
    }
}

/// Scene detection settings.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SceneParams {
    /// Shortest scene in seconds (0…60); of two cuts closer than this, the stronger is kept.
    #[serde(default = "default_min_scene")]
    pub min_scene_seconds: f32,
    /// Also find gradual transitions (dissolves, fades through black).
    #[serde(default = "yes")]
    pub gradual: bool,
    /// One JPEG thumbnail per scene, served with the report.
    #[serde(default = "yes")]
    pub thumbnails: bool,
    /// Write one chapter per scene into the output (MP4, MOV, MKV).
    #[serde(default = "yes")]
    pub chapters: bool,
}

fn default_min_scene() -> f32 {
    0.6
}
fn yes() -> bool {
    true
}

impl Default for SceneParams {
    fn default() -> Self {
        SceneParams {
            min_scene_seconds: default_min_scene(),
            gradual: true,
            thumbnails: true,
            chapters: true,
        }
    }
}

impl SceneParams {
    pub fn validate(&self) -> Result<(), SpecError> {
        in_range(
            "scenes.min_scene_seconds",
            self.min_scene_seconds,
            0.0,
            60.0,
        )
    }
}

/// A parameter that is out of range or inconsistent, with the field it concerns.
#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize, Deserialize)]
#[error("{field}: {message}")]
pub struct SpecError {
    pub field: String,
    pub message: String,
}

impl SpecError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        SpecError {
            field: field.into(),
            message: message.into(),
        }
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Queued,
    /// Whole-video analysis (motion, colour statistics) before rendering.
    Analysing,
    Rendering,
    Assembling,
    Done,
    Failed,
    Cancelled,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Analysing => "analysing",
            JobState::Rendering => "rendering",
            JobState::Assembling => "assembling",
            JobState::Done => "done",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "queued" => JobState::Queued,
            "analysing" => JobState::Analysing,
            "rendering" => JobState::Rendering,
            "assembling" => JobState::Assembling,
            "done" => JobState::Done,
            "failed" => JobState::Failed,
            "cancelled" => JobState::Cancelled,
            _ => return None,
        })
    }
    pub fn is_final(self) -> bool {
        matches!(
            self,
            JobState::Done | JobState::Failed | JobState::Cancelled
        )
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChunkState {
    Pending,
    Running,
    Done,
    Failed,
}

impl ChunkState {
    pub fn as_str(self) -> &'static str {
        match self {
            ChunkState::Pending => "pending",
            ChunkState::Running => "running",
            ChunkState::Done => "done",
            ChunkState::Failed => "failed",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => ChunkState::Pending,
            "running" => ChunkState::Running,
            "done" => ChunkState::Done,
            "failed" => ChunkState::Failed,
            _ => return None,
        })
    }
}

/// One chunk of a job: frames with presentation timestamps in `[start_pts, end_pts)`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChunkStatus {
    pub index: u32,
    pub state: ChunkState,
    /// First presentation timestamp (stream time base); absent for the first chunk, which starts
    /// with the stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_pts: Option<i64>,
    /// End of the chunk (exclusive); absent for the last chunk, which runs to the stream's end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_pts: Option<i64>,
    pub frames: u64,
    pub attempts: u32,
    pub worker: Option<String>,
    pub error: Option<String>,
}

/// A job as the node reports it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobStatus {
    pub id: String,
    pub state: JobState,
    pub spec: JobSpec,
    pub frames_total: u64,
    pub frames_done: u64,
    pub chunks_total: u32,
    pub chunks_done: u32,
    pub error: Option<String>,
    pub output: Option<String>,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// Live progress, in order, as the node emits it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ProgressEvent {
    /// The current state of a job, sent first to every new listener.
    Snapshot {
        job: String,
        status: Box<JobStatus>,
        chunks: Vec<ChunkStatus>,
    },
    JobState {
        job: String,
        state: JobState,
    },
    /// The job was planned; `resumed` chunks were already done by an earlier run.
    Planned {
        job: String,
        chunks: u32,
        frames: u64,
        resumed: u32,
    },
    ChunkClaimed {
        job: String,
        chunk: u32,
        worker: String,
    },
    ChunkDone {
        job: String,
        chunk: u32,
        frames: u64,
    },
    /// The analysis pass finished a chunk (`done` of `total` analysed).
    Analysed {
        job: String,
        chunk: u32,
        done: u32,
        total: u32,
    },
    ChunkFailed {
        job: String,
        chunk: u32,
        attempt: u32,
        error: String,
    },
    Frames {
        job: String,
        frames_done: u64,
        frames_total: u64,
        fps: f64,
        eta_seconds: Option<f64>,
    },
    Warning {
        job: String,
        message: String,
    },
    /// The job finished; `output` is where to get the result (a URL on the node, a path in the CLI).
    Done {
        job: String,
        output: String,
    },
    Failed {
        job: String,
        error: String,
    },
}

impl ProgressEvent {
    /// The job the event concerns.
    pub fn job(&self) -> &str {
        match self {
            ProgressEvent::Snapshot { job, .. }
            | ProgressEvent::JobState { job, .. }
            | ProgressEvent::Planned { job, .. }
            | ProgressEvent::ChunkClaimed { job, .. }
            | ProgressEvent::ChunkDone { job, .. }
            | ProgressEvent::Analysed { job, .. }
            | ProgressEvent::ChunkFailed { job, .. }
            | ProgressEvent::Frames { job, .. }
            | ProgressEvent::Warning { job, .. }
            | ProgressEvent::Done { job, .. }
            | ProgressEvent::Failed { job, .. } => job,
        }
    }
}

/// The JSON body of every error the node returns.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// Stable machine-readable code, e.g. `invalid_parameter`, `not_found`.
    pub code: String,
    pub message: String,
    /// The request field at fault, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl From<SpecError> for ApiError {
    fn from(e: SpecError) -> Self {
        ApiError {
            code: "invalid_parameter".into(),
            message: e.to_string(),
            field: Some(e.field),
        }
    }
}

/// What `probe` reports about a media file.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MediaInfo {
    pub format: String,
    pub duration_seconds: Option<f64>,
    pub size_bytes: u64,
    pub bit_rate: Option<u64>,
    pub video: Option<VideoInfo>,
    pub audio: Vec<AudioInfo>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VideoInfo {
    pub stream_index: usize,
    pub codec: String,
    /// Stored (coded visible) size in pixels.
    pub width: u32,
    pub height: u32,
    /// Pixel aspect ratio as `[num, den]`; `[1, 1]` for square pixels. The picture is shown
    /// `width · num / den` pixels wide.
    #[serde(default = "square_sar")]
    pub sample_aspect_ratio: [u32; 2],
    pub pixel_format: String,
    pub bit_depth: u8,
    /// Stream time base as `[num, den]`.
    pub time_base: [i32; 2],
    /// Average frame rate as `[num, den]`.
    pub avg_frame_rate: [i32; 2],
    pub fps: f64,
    /// True when frame durations differ (variable frame rate).
    pub variable_frame_rate: bool,
    pub frames: u64,
    pub keyframes: u64,
    pub duration_seconds: f64,
    pub start_seconds: f64,
    /// Display rotation in degrees (counter-clockwise), from the display matrix.
    pub rotation_degrees: f64,
    pub colour: ColourTags,
    pub hdr: HdrInfo,
}

fn square_sar() -> [u32; 2] {
    [1, 1]
}

impl VideoInfo {
    /// The pixel aspect ratio.
    pub fn sar(&self) -> Sar {
        Sar::new(
            self.sample_aspect_ratio[0] as i64,
            self.sample_aspect_ratio[1] as i64,
        )
    }
}

/// FFmpeg's names for the colour tags, `unknown` when untagged.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColourTags {
    pub matrix: String,
    pub transfer: String,
    pub primaries: String,
    pub range: String,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HdrInfo {
    /// `sdr`, `pq` (HDR10) or `hlg`.
    pub kind: String,
    pub mastering_display: bool,
    pub content_light_level: Option<[u32; 2]>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AudioInfo {
    pub stream_index: usize,
    pub codec: String,
    pub sample_rate: u32,
    pub channels: u32,
    pub duration_seconds: Option<f64>,
    pub language: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detect_fields_are_checked_by_name() {
        let spec = |stages: serde_json::Value| -> Result<(), SpecError> {
            let s: JobSpec =
                serde_json::from_value(serde_json::json!({"input": "x", "stages": stages}))
                    .map_err(|e| SpecError::new("json", e.to_string()))?;
            s.validate()
        };
        assert!(spec(serde_json::json!([{"kind": "detect"}])).is_ok());
        let field = |stages| spec(stages).unwrap_err().field;
        assert_eq!(
            field(serde_json::json!([{"kind": "detect", "every": 0}])),
            "stages.detect.every"
        );
        assert_eq!(
            field(serde_json::json!([{"kind": "detect", "classes": "person+unicorn"}])),
            "stages.detect.classes"
        );
        assert_eq!(
            field(serde_json::json!([{"kind": "detect", "classes": ["car"], "blur": "face"}])),
            "stages.detect.blur"
        );
        assert_eq!(
            field(serde_json::json!([{"kind": "stabilize"}, {"kind": "detect"}])),
            "stages.detect"
        );
        assert_eq!(
            field(serde_json::json!([{"kind": "detect"}, {"kind": "detect"}])),
            "stages.detect"
        );
        let p: DetectParams =
            serde_json::from_value(serde_json::json!({"classes": "person+car", "blur": ["face"]}))
                .unwrap();
        assert_eq!(p.classes, vec!["person", "car"]);
        assert!(p.wants_faces() && p.wants_objects());
        assert_eq!(p.class_mask(), 1 | 1 << 2 | 1 << FACE_CLASS);
        assert_eq!(p.blur_mask(), 1 << FACE_CLASS);
    }

    #[test]
    fn sync_is_refused_with_auto_edit_but_loudness_is_not() {
        let spec = |audio: serde_json::Value| -> Result<(), SpecError> {
            serde_json::from_value::<JobSpec>(serde_json::json!({
                "input": "x", "auto_edit": {}, "audio_stages": audio
            }))
            .map_err(|e| SpecError::new("json", e.to_string()))?
            .validate()
        };
        let e = spec(serde_json::json!([{"kind": "sync", "track": "mic.wav"}])).unwrap_err();
        assert_eq!(e.field, "audio_stages.sync");
        assert!(spec(serde_json::json!([{"kind": "loudness"}])).is_ok());
    }

    #[test]
    fn spec_round_trips_and_defaults() {
        let spec: JobSpec = serde_json::from_str(
            r#"{"input":"a.mp4","stages":[{"kind":"scale","width":1280},{"kind":"color","saturation":1.2}]}"#,
        )
        .unwrap();
        assert_eq!(spec.chunk_seconds, 4.0);
        assert_eq!(spec.output.crf, 20);
        assert_eq!(spec.stages.len(), 2);
        spec.validate().unwrap();
        let back: JobSpec = serde_json::from_str(&serde_json::to_string(&spec).unwrap()).unwrap();
        assert_eq!(back, spec);
    }

    #[test]
    fn unknown_stage_and_fields_are_rejected() {
        assert!(
            serde_json::from_str::<JobSpec>(r#"{"input":"a","stages":[{"kind":"warp"}]}"#).is_err()
        );
        assert!(serde_json::from_str::<JobSpec>(r#"{"input":"a","colour":1}"#).is_err());
    }

    #[test]
    fn out_of_range_parameters_name_the_field() {
        let mut spec = JobSpec {
            input: "a".into(),
            stages: vec![StageSpec::Scale(ScaleParams {
                width: Some(0),
                ..Default::default()
            })],
            audio_stages: vec![],
            scenes: None,
            auto_edit: None,
            output: OutputSpec::default(),
            chunk_seconds: 4.0,
        };
        assert_eq!(spec.validate().unwrap_err().field, "stages.scale.width");
        spec.stages = vec![StageSpec::Scale(ScaleParams {
            factor: Some(40.0),
            ..Default::default()
        })];
        assert_eq!(spec.validate().unwrap_err().field, "stages.scale.factor");
        spec.stages = vec![StageSpec::Color(ColorParams {
            contrast: -1.0,
            ..Default::default()
        })];
        assert_eq!(spec.validate().unwrap_err().field, "stages.color.contrast");
        spec.stages = vec![];
        spec.output.preset = "warp9".into();
        assert_eq!(spec.validate().unwrap_err().field, "output.preset");
    }

    #[test]
    fn scale_takes_a_neural_model() {
        let spec: JobSpec = serde_json::from_str(
            r#"{"input":"a.mp4","stages":[{"kind":"scale","factor":4,"model":"quality","blend":0.25}]}"#,
        )
        .unwrap();
        let StageSpec::Scale(p) = &spec.stages[0] else {
            panic!("not scale")
        };
        assert_eq!((p.model, p.blend), (Some(SrModel::Quality), 0.25));
        assert!(spec.validate().is_ok());
        // The classic stage's JSON is unchanged.
        let plain = serde_json::to_string(&ScaleParams::default()).unwrap();
        assert!(
            !plain.contains("model") && !plain.contains("blend"),
            "{plain}"
        );
        let bad = ScaleParams {
            factor: Some(2.0),
            blend: 1.5,
            ..Default::default()
        };
        assert_eq!(bad.validate().unwrap_err().field, "stages.scale.blend");
        let bad: Result<ScaleParams, _> = serde_json::from_str(r#"{"factor":2,"model":"huge"}"#);
        assert!(bad.is_err());
    }

    #[test]
    fn scale_keeps_aspect_and_alignment() {
        let p = ScaleParams {
            width: Some(1280),
            ..Default::default()
        };
        assert_eq!(p.target_size(1920, 1080, 2).unwrap(), (1280, 720));
        let p = ScaleParams {
            factor: Some(0.5),
            ..Default::default()
        };
        assert_eq!(p.target_size(765, 575, 2).unwrap(), (382, 288));
        let p = ScaleParams {
            factor: Some(16.0),
            ..Default::default()
        };
        assert!(p.target_size(1920, 1080, 2).is_err());
    }

    #[test]
    fn scale_sizes_are_display_sizes_for_anamorphic_input() {
        let cif = Sar::new(128, 117);
        let x2 = ScaleParams {
            factor: Some(2.0),
            ..Default::default()
        };
        // 176x144 at 128:117 shows as 192.6x144; twice that in square pixels.
        assert_eq!(
            x2.target(176, 144, cif, 2).unwrap(),
            (386, 288, Sar::SQUARE)
        );
        let keep = ScaleParams {
            pixels: PixelAspect::Keep,
            ..x2.clone()
        };
        assert_eq!(keep.target(176, 144, cif, 2).unwrap(), (352, 288, cif));
        // HDV: 1440x1080 at 4:3 is 1920x1080 on screen; width=1280 is the display width.
        let hdv = Sar::new(4, 3);
        let w = ScaleParams {
            width: Some(1280),
            ..Default::default()
        };
        assert_eq!(
            w.target(1440, 1080, hdv, 2).unwrap(),
            (1280, 720, Sar::SQUARE)
        );
        let w_keep = ScaleParams {
            pixels: PixelAspect::Keep,
            ..w
        };
        assert_eq!(w_keep.target(1440, 1080, hdv, 2).unwrap(), (960, 720, hdv));
        // Square pixels: unchanged from before.
        assert_eq!(
            x2.target(214, 160, Sar::SQUARE, 2).unwrap(),
            (428, 320, Sar::SQUARE)
        );
        assert_eq!(Sar::new(0, 1), Sar::SQUARE);
        assert_eq!(Sar::new(256, 234), cif);
        assert_eq!(cif.display_size(176, 144), (193, 144));
    }

    #[test]
    fn events_are_tagged() {
        let e = ProgressEvent::ChunkDone {
            job: "j".into(),
            chunk: 3,
            frames: 100,
        };
        let s = serde_json::to_string(&e).unwrap();
        assert!(s.contains(r#""type":"chunk_done""#), "{s}");
    }

    #[test]
    fn webm_needs_a_webm_codec() {
        let mut o = OutputSpec {
            container: Container::Webm,
            ..Default::default()
        };
        assert_eq!(o.validate().unwrap_err().field, "output.container");
        o.codec = VideoCodec::Vp9;
        o.validate().unwrap();
    }

    #[test]
    fn audio_stages_parse_with_defaults_and_are_checked() {
        let spec: JobSpec = serde_json::from_str(
            r#"{"input":"a","audio_stages":[{"kind":"denoise"},{"kind":"sync","track":"t.wav"},{"kind":"loudness"}]}"#,
        )
        .unwrap();
        spec.validate().unwrap();
        assert_eq!(
            spec.audio_stages[0],
            AudioStageSpec::Denoise(AudioDenoiseParams::default())
        );
        let sync = spec.audio_stages[1].sync().unwrap();
        assert_eq!(
            (sync.mode, sync.level, sync.max_offset_seconds),
            (SyncMode::Replace, 0.5, 10.0)
        );
        let field = |json: &str| {
            serde_json::from_str::<JobSpec>(json)
                .unwrap()
                .validate()
                .unwrap_err()
                .field
        };
        assert_eq!(
            field(r#"{"input":"a","audio_stages":[{"kind":"denoise","mix":1.5}]}"#),
            "audio_stages.denoise.mix"
        );
        assert_eq!(
            field(r#"{"input":"a","audio_stages":[{"kind":"sync","track":" "}]}"#),
            "audio_stages.sync.track"
        );
        assert_eq!(
            field(
                r#"{"input":"a","audio_stages":[{"kind":"sync","track":"t","max_offset_seconds":0}]}"#
            ),
            "audio_stages.sync.max_offset_seconds"
        );
        assert_eq!(
            field(
                r#"{"input":"a","audio_stages":[{"kind":"sync","track":"t"},{"kind":"sync","track":"u"}]}"#
            ),
            "audio_stages.sync"
        );
        let spec: JobSpec = serde_json::from_str(
            r#"{"input":"a","audio_stages":[{"kind":"denoise","engine":"deepfilternet","mix":0.9}]}"#,
        )
        .unwrap();
        assert_eq!(
            spec.audio_stages,
            vec![AudioStageSpec::Denoise(AudioDenoiseParams {
                engine: AudioDenoiseEngine::DeepFilterNet,
                mix: 0.9
            })]
        );
        assert_eq!(
            serde_json::to_value(AudioDenoiseEngine::DeepFilterNet).unwrap(),
            "deepfilternet"
        );
        assert!(serde_json::from_str::<JobSpec>(
            r#"{"input":"a","audio_stages":[{"kind":"denoise","engine":"dfn"}]}"#
        )
        .is_err());
    }
}
