//! The job spec: input, ordered stages, output settings, and the checks a spec must pass.

use super::*;
use serde::{Deserialize, Serialize};

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
    /// Trim: the parts of the source to keep, in order (empty keeps it all). With `auto_edit`, the
    /// output keeps what both keep.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keep: Vec<KeepRange>,
    #[serde(default)]
    pub output: OutputSpec,
    /// Only analyse (scenes, the auto-edit cut list; into the report) and render nothing: what an
    /// editor asks before it shows the cuts for the user to choose.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub analyse_only: bool,
    /// Target chunk length in seconds; chunks start at keyframes. 0 renders the video as one chunk.
    #[serde(default = "default_chunk_seconds")]
    pub chunk_seconds: f64,
}

pub(super) fn default_chunk_seconds() -> f64 {
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
    /// Interlaced sources are deinterlaced even without this stage (`auto`); it chooses the mode:
    /// `frame` (one progressive frame per interlaced frame, motion-adaptive) or `off`. It always
    /// runs first, on the decoded fields, wherever it is listed.
    Deinterlace(DeinterlaceParams),
    /// Frame interpolation (RIFE): a higher frame rate, or slow motion, without inventing frames
    /// across scene cuts or between duplicated frames.
    Interpolate(InterpolateParams),
}

impl StageSpec {
    /// Every stage kind, as `kind` names it (the CLI's help lists them).
    pub const KINDS: [&'static str; 9] = [
        "scale",
        "color",
        "denoise",
        "sharpen",
        "hdr",
        "stabilize",
        "detect",
        "deinterlace",
        "interpolate",
    ];

    pub fn name(&self) -> &'static str {
        match self {
            StageSpec::Scale(_) => "scale",
            StageSpec::Color(_) => "color",
            StageSpec::Denoise(_) => "denoise",
            StageSpec::Sharpen(_) => "sharpen",
            StageSpec::Hdr(_) => "hdr",
            StageSpec::Stabilize(_) => "stabilize",
            StageSpec::Detect(_) => "detect",
            StageSpec::Deinterlace(_) => "deinterlace",
            StageSpec::Interpolate(_) => "interpolate",
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
    /// Every audio stage kind.
    pub const KINDS: [&'static str; 3] = ["loudness", "denoise", "sync"];

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
    pub(crate) fn validate(&self) -> Result<(), SpecError> {
        match self {
            AudioStageSpec::Loudness(p) => p.validate(),
            AudioStageSpec::Denoise(p) => p.validate(),
            AudioStageSpec::Sync(p) => p.validate(),
        }
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
    /// Measure the output against the source (PSNR, SSIM, SSIMULACRA2) into the report's
    /// `quality` section.
    #[serde(default = "yes")]
    pub quality: bool,
    /// Search each chunk's CRF for this quality instead of using `crf`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_quality: Option<TargetQuality>,
}

fn yes() -> bool {
    true
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

pub(super) fn default_crf() -> u8 {
    20
}
pub(super) fn default_preset() -> String {
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
            quality: true,
            target_quality: None,
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
        if let Some(t) = &self.target_quality {
            t.validate(self.codec, max_crf)?;
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

/// Whether a `scale` stage leaves the network to `model=auto`.
pub fn has_auto_model(stages: &[StageSpec]) -> bool {
    stages
        .iter()
        .any(|s| matches!(s, StageSpec::Scale(p) if p.model == Some(SrModel::Auto)))
}

/// Replaces `model=auto` in every `scale` stage by the network for a drawn or filmed input.
pub fn resolve_auto_model(stages: &mut [StageSpec], drawn: bool) {
    for s in stages {
        if let StageSpec::Scale(p) = s {
            p.model = p.model.map(|m| m.resolve(drawn));
        }
    }
}

impl JobSpec {
    /// The deinterlacing mode the job asks for (`auto` without a deinterlace stage).
    pub fn deinterlace_mode(&self) -> DeinterlaceMode {
        self.stages
            .iter()
            .find_map(|s| match s {
                StageSpec::Deinterlace(p) => Some(p.mode),
                _ => None,
            })
            .unwrap_or_default()
    }

    /// Field-rate deinterlacing makes frames the source does not have: what the analysis pass
    /// measures per source frame (motion, colour, objects, the auto-edit cut) has no value for
    /// them, so those are refused rather than applied to half the frames.
    fn check_field_rate(&self) -> Result<(), SpecError> {
        if self.deinterlace_mode() != DeinterlaceMode::Field {
            return Ok(());
        }
        let clash = self.stages.iter().find_map(|s| match s {
            StageSpec::Stabilize(_) => Some("stabilize"),
            StageSpec::Detect(_) => Some("detect"),
            StageSpec::Color(p) if p.is_auto() => Some("automatic color"),
            _ => None,
        });
        let clash = clash.or(self.cut_name());
        match clash {
            Some(what) => Err(SpecError::new(
                "stages.deinterlace.mode",
                format!("field cannot be combined with {what} yet (it measures source frames, and field mode doubles them): use mode=frame, or render the 50p output again with {what}"),
            )),
            None => Ok(()),
        }
    }

    /// What cuts the timeline (`auto_edit` or `keep`), if anything does: such a job's output frames
    /// are not at the source's times.
    pub fn cut_name(&self) -> Option<&'static str> {
        if self.auto_edit.is_some() {
            Some("auto_edit")
        } else if !self.keep.is_empty() {
            Some("keep")
        } else {
            None
        }
    }

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
                StageSpec::Deinterlace(_) => {}
                StageSpec::Interpolate(p) => p.validate()?,
            }
        }
        if self
            .stages
            .iter()
            .filter(|s| s.name() == "deinterlace")
            .count()
            > 1
        {
            return Err(SpecError::new("stages.deinterlace", "may be given once"));
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
        self.check_field_rate()?;
        check_interpolation(self)?;
        if let Some(p) = &self.scenes {
            p.validate()?;
        }
        if let Some(p) = &self.auto_edit {
            p.validate()?;
        }
        validate_keep(&self.keep)?;
        if self.analyse_only && self.scenes.is_none() && self.auto_edit.is_none() {
            return Err(SpecError::new(
                "analyse_only",
                "needs scenes or auto_edit: there is nothing else to analyse",
            ));
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
        if let Some(cut) = self.cut_name() {
            if self.audio_stages.iter().any(|s| s.name() == "sync") {
                return Err(SpecError::new(
                    "audio_stages.sync",
                    format!("cannot be combined with {cut} (the cut would move the recording against the picture): render with sync first, then {cut} that output"),
                ));
            }
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
