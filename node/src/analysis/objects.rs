//! What detection and tracking produce: boxes on frames and tracks over the video.

use serde::{Deserialize, Serialize};

/// One detected object on one frame.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Detection {
    /// Class id: COCO 0…79, or [`kino_shared::FACE_CLASS`].
    #[serde(rename = "c")]
    pub class: u8,
    #[serde(rename = "s")]
    pub score: f32,
    /// x0, y0, x1, y1 as shares of the frame's width and height (0…1), so boxes stay right after
    /// a scale stage.
    #[serde(rename = "b")]
    pub rect: [f32; 4],
}

/// A box to render on one frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameBox {
    pub id: u32,
    pub class: u8,
    /// x0, y0, x1, y1 as shares of the frame.
    pub rect: [f32; 4],
}

/// One observation of a track.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackPoint {
    /// Frame index from the start of the video.
    pub frame: u64,
    /// The detected box (shares of the frame, x0 y0 x1 y1).
    pub rect: [f32; 4],
    pub score: f32,
}

/// An object followed over frames.
#[derive(Debug, Clone, PartialEq)]
pub struct Track {
    /// 1, 2, … in order of appearance.
    pub id: u32,
    pub class: u8,
    pub points: Vec<TrackPoint>,
}

/// A track's box on frame `frame`: observed there, linearly interpolated between two
/// observations, or held for up to `hold` frames before the first and after the last.
pub fn box_at(points: &[TrackPoint], frame: u64, hold: u64) -> Option<[f32; 4]> {
    let first = points.first()?;
    let last = points.last()?;
    if frame < first.frame {
        return (first.frame - frame <= hold).then_some(first.rect);
    }
    if frame >= last.frame {
        return (frame - last.frame <= hold).then_some(last.rect);
    }
    let i = points.partition_point(|p| p.frame <= frame);
    let (a, b) = (&points[i - 1], &points[i]);
    let t = (frame - a.frame) as f32 / (b.frame - a.frame).max(1) as f32;
    Some(std::array::from_fn(|k| {
        a.rect[k] + (b.rect[k] - a.rect[k]) * t
    }))
}
