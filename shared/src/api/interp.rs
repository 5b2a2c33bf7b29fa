//! Frame interpolation settings: a new frame rate (or a factor), smooth or slow motion, and what
//! happens where interpolation would blend two scenes.

use super::*;
use serde::{Deserialize, Serialize};

/// Highest output frame rate `interpolate` makes.
pub const MAX_FPS: f64 = 240.0;

/// `interpolate`: RIFE makes the frames between the source's. Give `fps` (a target rate) or
/// `factor` (2–8 times the source's average rate).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct InterpolateParams {
    /// Output frame rate, e.g. 60 or 59.94 (read as 60000/1001). Below the source's rate frames are
    /// dropped evenly instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fps: Option<f64>,
    /// Frames per source frame, 2–8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub factor: Option<u32>,
    #[serde(default)]
    pub mode: InterpMode,
    /// What fills the moments between the two sides of a scene cut (or the start or end of a
    /// dissolve or fade), where an invented frame would mix two scenes.
    #[serde(default)]
    pub at_cut: AtCut,
    /// Slow motion: the audio is dropped or slowed down with its pitch kept.
    #[serde(default)]
    pub audio: SlowmoAudio,
}

/// Smooth motion at a higher rate, or the same rate over a longer time.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum InterpMode {
    /// More frames per second, same duration.
    #[default]
    Smooth,
    /// The source's frame rate, `factor` times longer.
    Slowmo,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AtCut {
    /// The last frame before the cut is shown until the cut.
    #[default]
    Repeat,
    /// A plain cross-fade of the two frames (no motion estimated across the cut).
    Blend,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SlowmoAudio {
    #[default]
    Drop,
    /// Slowed with the pitch kept (FFmpeg's `atempo`).
    Stretch,
}

impl InterpolateParams {
    pub(crate) fn validate(&self) -> Result<(), SpecError> {
        match (self.fps, self.factor, self.mode) {
            (Some(_), Some(_), _) => Err(SpecError::new(
                "stages.interpolate",
                "give fps or factor, not both",
            )),
            (None, None, _) => Err(SpecError::new(
                "stages.interpolate",
                "needs fps (e.g. fps=60) or factor (2 to 8)",
            )),
            (Some(_), None, InterpMode::Slowmo) => Err(SpecError::new(
                "stages.interpolate.mode",
                "slowmo needs factor (2 to 8): the output keeps the source's frame rate",
            )),
            (Some(fps), None, _) if !(fps.is_finite() && fps > 0.0 && fps <= MAX_FPS) => {
                Err(SpecError::new(
                    "stages.interpolate.fps",
                    format!("must be above 0 and at most {MAX_FPS}, got {fps}"),
                ))
            }
            (None, Some(f), _) if !(2..=8).contains(&f) => Err(SpecError::new(
                "stages.interpolate.factor",
                format!("must be between 2 and 8, got {f}"),
            )),
            _ => Ok(()),
        }
    }

    /// The output frame rate as `[num, den]`, given the source's average rate. A decimal rate one
    /// NTSC step below a whole number (23.976, 29.97, 59.94, 119.88) is read as N·1000/1001;
    /// other decimals to a thousandth.
    pub fn output_rate(&self, source: [i32; 2]) -> [i32; 2] {
        let reduce = |n: i64, d: i64| {
            let g = gcd(n, d).max(1);
            [(n / g) as i32, (d / g) as i32]
        };
        match (self.fps, self.factor) {
            (Some(fps), _) => {
                let ntsc = (fps * 1.001).round();
                if (fps.fract()).abs() > 1e-9 && (ntsc * 1000.0 / 1001.0 - fps).abs() < 0.006 {
                    reduce(ntsc as i64 * 1000, 1001)
                } else {
                    reduce((fps * 1000.0).round() as i64, 1000)
                }
            }
            (None, Some(f)) => match self.mode {
                InterpMode::Smooth => reduce(source[0] as i64 * f as i64, source[1].max(1) as i64),
                InterpMode::Slowmo => reduce(source[0] as i64, source[1].max(1) as i64),
            },
            (None, None) => source,
        }
    }

    /// How many times longer the output is (slow motion), 1 otherwise.
    pub fn stretch(&self) -> u32 {
        match (self.mode, self.factor) {
            (InterpMode::Slowmo, Some(f)) => f,
            _ => 1,
        }
    }
}

/// Greatest common divisor.
pub fn gcd(a: i64, b: i64) -> i64 {
    let (mut a, mut b) = (a.abs(), b.abs());
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// The `interpolate` stage of a spec, if it has one.
pub fn interpolation(stages: &[StageSpec]) -> Option<&InterpolateParams> {
    stages.iter().find_map(|s| match s {
        StageSpec::Interpolate(p) => Some(p),
        _ => None,
    })
}

/// Checks a spec with `interpolate` against what cannot follow or accompany it: stages that read
/// the analysis of source frames come before it (it makes frames the analysis never saw); auto-edit
/// and field-rate deinterlacing retime the video themselves.
pub(crate) fn check_interpolation(spec: &JobSpec) -> Result<(), SpecError> {
    let stages = &spec.stages;
    let count = stages.iter().filter(|s| s.name() == "interpolate").count();
    if count > 1 {
        return Err(SpecError::new("stages.interpolate", "may be given once"));
    }
    let Some(at) = stages.iter().position(|s| s.name() == "interpolate") else {
        return Ok(());
    };
    for s in &stages[at + 1..] {
        let reads_analysis = match s {
            StageSpec::Stabilize(_) | StageSpec::Detect(_) => true,
            StageSpec::Color(p) => p.is_auto(),
            _ => false,
        };
        if reads_analysis {
            return Err(SpecError::new(
                format!("stages.{}", s.name()),
                "must come before interpolate (it works from the analysis of the source's frames)",
            ));
        }
    }
    if let Some(cut) = spec.cut_name() {
        return Err(SpecError::new(
            cut,
            format!(
                "cannot be combined with interpolate yet: {cut} first, then interpolate its output"
            ),
        ));
    }
    let p = interpolation(stages).copied().unwrap_or_default();
    if p.stretch() > 1 && p.audio == SlowmoAudio::Stretch && spec.output.audio == AudioMode::Copy {
        return Err(SpecError::new(
            "output.audio",
            "slow motion stretches the audio, so it cannot be copied: choose auto, aac or opus",
        ));
    }
    if spec.deinterlace_mode() == DeinterlaceMode::Field {
        return Err(SpecError::new(
            "stages.deinterlace.mode",
            "field cannot be combined with interpolate (both set the frame rate): use mode=frame",
        ));
    }
    Ok(())
}
