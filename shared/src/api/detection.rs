//! Object and face detection settings and the COCO class table.

use super::*;
use serde::{Deserialize, Serialize};

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

pub(super) fn default_detect_every() -> u32 {
    5
}
pub(super) fn default_min_score() -> f32 {
    0.4
}
pub(super) fn default_blur_padding() -> f32 {
    0.2
}

/// A list of names, or one string of names joined with `+` (what the CLI's `key=value` gives).
pub(super) fn names<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
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
