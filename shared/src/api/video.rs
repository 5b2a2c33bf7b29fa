//! Video stage settings: scale, colour, denoise, sharpen, HDR, stabilise.

use super::*;
use serde::{Deserialize, Serialize};

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
    pub(crate) fn is_square(&self) -> bool {
        *self == PixelAspect::Square
    }
}

pub(super) fn is_zero(v: &f32) -> bool {
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
    /// SPAN (ch48; the NTIRE 2024 efficient super-resolution winner), trained for fidelity: the
    /// most faithful to the source (2–5 dB above bicubic on photos), for camera footage and photos.
    Span,
    /// `span` for filmed video and photos, `fast` for drawn pictures (animation, cartoons, screen
    /// content), decided once per job from frames spread over the input (see
    /// `kernels::content`); the report's `model_choice` section says which and why.
    Auto,
}

impl SrModel {
    /// The networks this choice may run: both candidates for `auto`.
    pub fn candidates(self) -> &'static [SrModel] {
        match self {
            SrModel::Fast => &[SrModel::Fast],
            SrModel::Quality => &[SrModel::Quality],
            SrModel::Small => &[SrModel::Small],
            SrModel::Span => &[SrModel::Span],
            SrModel::Auto => &[SrModel::Span, SrModel::Fast],
        }
    }

    /// What `auto` becomes for a drawn or a filmed input; other models stay as they are.
    pub fn resolve(self, drawn: bool) -> SrModel {
        match (self, drawn) {
            (SrModel::Auto, true) => SrModel::Fast,
            (SrModel::Auto, false) => SrModel::Span,
            (m, _) => m,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            SrModel::Fast => "fast",
            SrModel::Quality => "quality",
            SrModel::Small => "small",
            SrModel::Span => "span",
            SrModel::Auto => "auto",
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

    /// The pixel aspect ratio of the output for an input whose pixels are `input`.
    pub fn output_sar(&self, input: Sar) -> Sar {
        match self.pixels {
            PixelAspect::Square => Sar::SQUARE,
            PixelAspect::Keep => input,
        }
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
        let fw = match self.pixels {
            PixelAspect::Square => fw,
            PixelAspect::Keep => fw / r,
        };
        let out_sar = self.output_sar(sar);
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

    pub(crate) fn validate(&self) -> Result<(), SpecError> {
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

pub(super) fn one() -> f32 {
    1.0
}

/// 2 s: the handheld test clip's residual jitter is lowest there (1 s: 6.9 px, 2 s: 5.9 px, 3 s:
/// 7.2 px from 8.7 px; wider windows push the path against the crop bound more often).
pub(super) fn default_smoothing() -> f32 {
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

    pub(crate) fn validate(&self) -> Result<(), SpecError> {
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
pub(super) fn in_range(field: &str, v: f32, lo: f32, hi: f32) -> Result<(), SpecError> {
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

pub(super) fn default_sigma() -> f32 {
    10.0
}
pub(super) fn default_radius() -> u32 {
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
    pub(crate) fn validate(&self) -> Result<(), SpecError> {
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

pub(super) fn default_amount() -> f32 {
    0.8
}
pub(super) fn default_sharpen_radius() -> f32 {
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
    pub(crate) fn validate(&self) -> Result<(), SpecError> {
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
    pub(crate) fn validate(&self) -> Result<(), SpecError> {
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

pub(super) fn default_max_zoom() -> f32 {
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
    pub(crate) fn validate(&self) -> Result<(), SpecError> {
        in_range(
            "stages.stabilize.smoothing_seconds",
            self.smoothing_seconds,
            0.1,
            10.0,
        )?;
        in_range("stages.stabilize.max_zoom", self.max_zoom, 1.0, 2.0)
    }
}

/// How interlaced video is handled.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum DeinterlaceMode {
    /// Deinterlace (as `frame`) when the picture is interlaced; progressive video is left alone.
    #[default]
    Auto,
    /// Always deinterlace, one frame per interlaced frame (fields in the order detected, top first
    /// when undetermined).
    Frame,
    /// Always deinterlace, one frame per field: twice the frame rate (50i → 50p), each field at
    /// its own moment, so motion stays as smooth as the camera recorded it.
    Field,
    /// Never deinterlace (the output stays combed where the source is interlaced).
    Off,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct DeinterlaceParams {
    #[serde(default)]
    pub mode: DeinterlaceMode,
}
