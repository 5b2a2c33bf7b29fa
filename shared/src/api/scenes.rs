//! Scene detection settings.

use super::*;
use serde::{Deserialize, Serialize};

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

pub(super) fn default_min_scene() -> f32 {
    0.6
}
pub(super) fn yes() -> bool {
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
