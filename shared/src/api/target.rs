//! Target-quality encoding: the quality a user asks for, from which each chunk's CRF is searched.

use super::{SpecError, VideoCodec};
use serde::{Deserialize, Serialize};

/// The metric a target is stated in.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetMetric {
    /// 0–100, 90 visually lossless, 70 high quality.
    Ssimulacra2,
    /// Weighted PSNR (Y, U, V by their sample counts), dB.
    Psnr,
}

/// Which frame statistic must meet the target.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetStatistic {
    /// The 5th-percentile frame: the bad moments must be good enough.
    #[default]
    P5,
    Mean,
}

/// `--target-quality ssimulacra2=80`: for each chunk, the highest CRF whose sampled frames meet
/// `value` (encoded against the frames before encoding).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetQuality {
    pub metric: TargetMetric,
    pub value: f64,
    #[serde(default)]
    pub statistic: TargetStatistic,
    /// CRF range searched (default: the codec's useful range, see [`TargetQuality::crf_range`]).
    #[serde(default)]
    pub crf_min: Option<u8>,
    #[serde(default)]
    pub crf_max: Option<u8>,
    /// Most probe encodes per chunk.
    #[serde(default = "default_probes")]
    pub probes: u8,
    /// Frames sampled (evenly) from each chunk for the probes.
    #[serde(default = "default_probe_frames")]
    pub probe_frames: u32,
}

fn default_probes() -> u8 {
    6
}
fn default_probe_frames() -> u32 {
    12
}

impl std::str::FromStr for TargetQuality {
    type Err = String;

    /// `METRIC=VALUE`, e.g. `ssimulacra2=80` or `psnr=42`.
    fn from_str(s: &str) -> Result<Self, String> {
        let (m, v) = s
            .split_once('=')
            .ok_or_else(|| format!("'{s}': expected METRIC=VALUE, e.g. ssimulacra2=80"))?;
        let metric = match m.trim() {
            "ssimulacra2" => TargetMetric::Ssimulacra2,
            "psnr" => TargetMetric::Psnr,
            other => return Err(format!("unknown metric '{other}' (ssimulacra2 or psnr)")),
        };
        let value = v
            .trim()
            .parse::<f64>()
            .map_err(|_| format!("'{v}' is not a number"))?;
        Ok(TargetQuality {
            metric,
            value,
            statistic: TargetStatistic::P5,
            crf_min: None,
            crf_max: None,
            probes: default_probes(),
            probe_frames: default_probe_frames(),
        })
    }
}

impl TargetQuality {
    /// The statistic in words, for messages.
    pub fn statistic_name(&self) -> &'static str {
        match self.statistic {
            TargetStatistic::P5 => "5th percentile",
            TargetStatistic::Mean => "mean",
        }
    }

    /// The CRF range searched for `codec`: the user's, or the codec's useful one (past it x264 and
    /// x265 are visually lossless at any bit rate, or unwatchable).
    pub fn crf_range(&self, codec: VideoCodec) -> (u8, u8) {
        let (lo, hi) = match codec {
            VideoCodec::H264 | VideoCodec::H265 => (10, 45),
            VideoCodec::Av1 | VideoCodec::Vp9 => (10, 60),
        };
        (self.crf_min.unwrap_or(lo), self.crf_max.unwrap_or(hi))
    }

    pub fn validate(&self, codec: VideoCodec, max_crf: u8) -> Result<(), SpecError> {
        let field = |f: &str| format!("output.target_quality.{f}");
        let (lo, hi) = match self.metric {
            TargetMetric::Ssimulacra2 => (10.0, 99.0),
            TargetMetric::Psnr => (20.0, 70.0),
        };
        if !(lo..=hi).contains(&self.value) {
            return Err(SpecError::new(
                field("value"),
                format!(
                    "{:?} target must be {lo}..={hi}, got {}",
                    self.metric, self.value
                ),
            ));
        }
        let (min, max) = self.crf_range(codec);
        if min > max || max > max_crf {
            return Err(SpecError::new(
                field("crf_max"),
                format!("CRF range {min}..={max} is not within 0..={max_crf} for {codec:?}"),
            ));
        }
        if !(1..=12).contains(&self.probes) {
            return Err(SpecError::new(field("probes"), "must be 1..=12"));
        }
        if !(1..=240).contains(&self.probe_frames) {
            return Err(SpecError::new(field("probe_frames"), "must be 1..=240"));
        }
        Ok(())
    }
}

/// One probe encode: a CRF and the score of the sampled frames.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetProbe {
    pub crf: u8,
    pub score: f64,
    pub seconds: f64,
}

/// What the search chose for one chunk, and the chunk's encode measured after the fact.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TargetChunk {
    pub index: u32,
    pub crf: u8,
    pub probes: Vec<TargetProbe>,
    /// The statistic over the chunk's encoded frames against the frames before encoding.
    pub measured: f64,
    /// Frames of the chunk that measurement scored (every frame when it is cheap enough).
    pub measured_frames: u64,
    /// Probes restored from an earlier, interrupted render of the chunk.
    pub resumed_probes: u64,
    /// Seconds spent on probes and on the measurement.
    pub seconds: f64,
}

/// The report's `target_quality` section.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TargetReport {
    pub metric: Option<TargetMetric>,
    pub value: f64,
    pub statistic: TargetStatistic,
    pub chunks: Vec<TargetChunk>,
    /// Seconds spent searching and checking, all chunks together.
    pub seconds: f64,
}
