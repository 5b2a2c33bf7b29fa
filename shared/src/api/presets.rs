//! Presets: named job settings (everything of a `JobSpec` but its input), built in or the user's,
//! and the versioned file they are exported to and imported from.

use super::*;
use serde::{Deserialize, Serialize};

/// A job's settings without its input: what a preset keeps.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PresetSettings {
    #[serde(default)]
    pub stages: Vec<StageSpec>,
    #[serde(default)]
    pub audio_stages: Vec<AudioStageSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenes: Option<SceneParams>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_edit: Option<AutoEditParams>,
    #[serde(default)]
    pub output: OutputSpec,
    #[serde(default = "spec::default_chunk_seconds")]
    pub chunk_seconds: f64,
}

impl Default for PresetSettings {
    fn default() -> Self {
        PresetSettings::from_spec(&JobSpec {
            input: String::new(),
            stages: vec![],
            audio_stages: vec![],
            scenes: None,
            auto_edit: None,
            keep: Vec::new(),
            analyse_only: false,
            output: OutputSpec::default(),
            chunk_seconds: spec::default_chunk_seconds(),
        })
    }
}

impl PresetSettings {
    /// The settings of a job.
    pub fn from_spec(spec: &JobSpec) -> Self {
        let s = spec.clone();
        PresetSettings {
            stages: s.stages,
            audio_stages: s.audio_stages,
            scenes: s.scenes,
            auto_edit: s.auto_edit,
            output: s.output,
            chunk_seconds: s.chunk_seconds,
        }
    }

    /// A job of these settings on `input`.
    pub fn to_spec(&self, input: &str) -> JobSpec {
        let s = self.clone();
        JobSpec {
            input: input.to_owned(),
            stages: s.stages,
            audio_stages: s.audio_stages,
            scenes: s.scenes,
            auto_edit: s.auto_edit,
            keep: Vec::new(),
            analyse_only: false,
            output: s.output,
            chunk_seconds: s.chunk_seconds,
        }
    }

    /// The checks a job of these settings must pass (its input aside).
    pub fn validate(&self) -> Result<(), SpecError> {
        self.to_spec("preset").validate()
    }
}

/// A named preset.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preset {
    pub name: String,
    /// Built into Kino: read-only (it cannot be replaced, renamed or deleted).
    #[serde(default)]
    pub builtin: bool,
    pub settings: PresetSettings,
}

/// The editor's named starting points, in the order shown.
pub fn builtin_presets() -> Vec<Preset> {
    let color = |contrast, saturation, vibrance, auto_white_balance| {
        StageSpec::Color(ColorParams {
            contrast,
            saturation,
            vibrance,
            auto_white_balance,
            ..ColorParams::default()
        })
    };
    let sharpen = |amount| {
        StageSpec::Sharpen(SharpenParams {
            amount,
            radius: 1.2,
            threshold: None,
        })
    };
    let up2 = StageSpec::Scale(ScaleParams {
        factor: Some(2.0),
        ..ScaleParams::default()
    });
    let preset = |name: &str, stages| Preset {
        name: name.into(),
        builtin: true,
        settings: PresetSettings {
            stages,
            ..PresetSettings::default()
        },
    };
    vec![
        preset("Natural", vec![color(1.05, 1.1, 0.2, true)]),
        preset("Vivid", vec![color(1.15, 1.4, 0.3, false)]),
        preset("Crisp", vec![color(1.0, 1.0, 0.0, false), sharpen(1.2)]),
        preset("Upscale ×2", vec![sharpen(0.6), up2]),
        preset("Original", vec![]),
    ]
}

/// What a preset file's `format` says.
pub const PRESETS_FORMAT: &str = "kino-presets";
/// The presets file version this build writes and the newest it reads.
pub const PRESETS_VERSION: u32 = 1;

/// Presets as exported and imported: a versioned file.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PresetFile {
    /// Always `kino-presets`.
    pub format: String,
    pub version: u32,
    pub presets: Vec<Preset>,
}

impl PresetFile {
    pub fn new(presets: Vec<Preset>) -> Self {
        PresetFile {
            format: PRESETS_FORMAT.into(),
            version: PRESETS_VERSION,
            presets,
        }
    }

    /// Reads an exported file: its format and version first (a file from a newer Kino is refused
    /// by name, not as a field it does not know), then each preset's name and settings.
    pub fn parse(text: &str) -> Result<PresetFile, FileError> {
        check_format(text, PRESETS_FORMAT, PRESETS_VERSION)?;
        let file: PresetFile = serde_json::from_str(text)
            .map_err(|e| SpecError::new("presets", format!("not a valid presets file: {e}")))?;
        for (i, p) in file.presets.iter().enumerate() {
            check_preset_name(&p.name)
                .map_err(|e| SpecError::new(format!("presets.{i}.name"), e.message))?;
            p.settings.validate().map_err(|e| {
                SpecError::new(
                    format!("presets.{i}.settings.{}", e.field),
                    format!("preset '{}': {}", p.name, e.message),
                )
            })?;
        }
        Ok(file)
    }
}

/// Why an exported file was refused.
#[derive(Debug, Clone, PartialEq)]
pub struct FileError {
    /// The file comes from a newer Kino (its version is above what this build reads).
    pub newer: bool,
    pub error: SpecError,
}

impl From<SpecError> for FileError {
    fn from(error: SpecError) -> Self {
        FileError {
            newer: false,
            error,
        }
    }
}

/// Checks that `text` is a JSON object whose `format` is `format` and whose `version` this build
/// reads (1 to `newest`).
pub fn check_format(text: &str, format: &str, newest: u32) -> Result<(), FileError> {
    #[derive(Deserialize)]
    struct Head {
        format: Option<String>,
        version: Option<u64>,
    }
    let head: Head = serde_json::from_str(text)
        .map_err(|e| SpecError::new("format", format!("not a {format} file: {e}")))?;
    if head.format.as_deref() != Some(format) {
        return Err(FileError::from(SpecError::new(
            "format",
            format!(
                "not a {format} file (its format is {})",
                head.format.as_deref().unwrap_or("missing")
            ),
        )));
    }
    match head.version {
        Some(v) if v > newest as u64 => Err(FileError {
            newer: true,
            error: SpecError::new(
                "version",
                format!(
                    "this {format} file is version {v}, from a newer Kino; this node reads \
                     versions up to {newest}: update the node to import it"
                ),
            ),
        }),
        Some(v) if v >= 1 => Ok(()),
        _ => Err(SpecError::new("version", "missing or invalid version").into()),
    }
}

/// A preset's name: 1–64 characters, no control characters, not only spaces.
pub fn check_preset_name(name: &str) -> Result<(), SpecError> {
    let n = name.chars().count();
    if name.trim().is_empty() || n > 64 || name.chars().any(char::is_control) {
        return Err(SpecError::new(
            "name",
            "a preset's name is 1 to 64 characters, not blank, without control characters",
        ));
    }
    if name.trim() != name {
        return Err(SpecError::new(
            "name",
            "a preset's name does not start or end with spaces",
        ));
    }
    Ok(())
}

/// Whether `name` is a built-in preset's (read-only) name.
pub fn is_builtin_preset(name: &str) -> bool {
    builtin_presets().iter().any(|p| p.name == name)
}
