//! Scene transitions as the scene detector reports them.

use serde::{Deserialize, Serialize};

/// How a scene begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransitionKind {
    Cut,
    Dissolve,
    /// Through black (fade out, fade in).
    Fade,
}

/// One detected transition between scenes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    /// The first frame of the new scene (the middle of a gradual transition).
    pub frame: usize,
    pub kind: TransitionKind,
    /// First and last frame of the transition (both `frame` for a cut).
    pub span: (usize, usize),
    /// Strength: the frame difference across the transition (0…255 signature scale).
    pub score: f32,
}
