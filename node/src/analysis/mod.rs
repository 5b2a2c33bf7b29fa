//! The data the analysis pass produces and the stages read: per-frame measurements (motion, colour,
//! scene signatures, auto-edit measures, detections) and their merge over the whole video (smoothed
//! corrections, scene transitions, tracks). Only types here: the pass itself is in
//! `pipeline::analyse`, so every stage layer can read its results without reaching up.

mod objects;
mod transitions;

pub use objects::{box_at, Detection, FrameBox, Track, TrackPoint};
pub use transitions::{Transition, TransitionKind};

use kino_shared::kernels::color::AutoCorrection;
use kino_shared::kernels::motion::{Correction, Motion};
use kino_shared::kernels::scene::Signature;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// What the analysis measures of one frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameRecord {
    pub pts: i64,
    /// Motion from the previous frame (absent for the first frame of the video).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub motion: Option<Motion>,
    /// The automatic colour correction this frame alone calls for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub colour: Option<AutoCorrection>,
    /// Luma-histogram distance to the previous frame (0…2; large at a scene cut).
    pub cut: f32,
    /// The frame's signature for scene detection (base64).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "signature_b64"
    )]
    pub scene: Option<Signature>,
    /// Auto-edit measures: share of black pixels and mean change from the previous frame (0…1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edit: Option<[f32; 2]>,
    /// Objects and faces found, on the frames detection runs on (every `every`-th).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detections: Option<Vec<Detection>>,
}

/// Signatures as base64 strings: a third of the size of a JSON number array.
mod signature_b64 {
    use base64::Engine;
    use kino_shared::kernels::scene::Signature;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<Signature>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(sig) => s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(&sig.0)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Signature>, D::Error> {
        let text: Option<String> = Option::deserialize(d)?;
        text.map(|t| {
            base64::engine::general_purpose::STANDARD
                .decode(t)
                .map(Signature)
                .map_err(serde::de::Error::custom)
        })
        .transpose()
    }
}

/// The merged, smoothed analysis that stages read by frame timestamp.
#[derive(Debug, Default)]
pub struct Analysis {
    pub colour: HashMap<i64, AutoCorrection>,
    pub stabilize: HashMap<i64, Correction>,
    /// Zoom that hides the borders of every stabilised frame (1 without stabilisation).
    pub zoom: f32,
    /// Width of the analysed frames (corrections are in its pixels).
    pub width: usize,
    /// Every frame's pts, in order (transitions index into it).
    pub pts: Vec<i64>,
    /// Scene transitions, when scene detection was asked for.
    pub transitions: Vec<Transition>,
    /// Auto-edit measures of every frame, by pts, when auto-edit was asked for.
    pub edit: Vec<(i64, [f32; 2])>,
    /// Tracks over the whole video, when detection was asked for.
    pub tracks: Vec<Track>,
}

impl Analysis {
    /// The tracked boxes on the frame at `pts`: interpolated between detections, and held for up to
    /// `hold` frames beyond a track's first and last detection (so a blurred face does not show on
    /// the frames between two detection frames).
    pub fn boxes_at(&self, pts: i64, hold: u64) -> Vec<FrameBox> {
        let Ok(frame) = self.pts.binary_search(&pts) else {
            return Vec::new();
        };
        self.tracks
            .iter()
            .filter_map(|t| {
                box_at(&t.points, frame as u64, hold).map(|rect| FrameBox {
                    id: t.id,
                    class: t.class,
                    rect,
                })
            })
            .collect()
    }
}
