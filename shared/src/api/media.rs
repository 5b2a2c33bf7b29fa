//! What probing reports about a media file.

use super::*;
use serde::{Deserialize, Serialize};

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

pub(super) fn square_sar() -> [u32; 2] {
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
