//! The tracks as the job report gives them: JSON (per track: id, class, and its boxes in pixels
//! with frame, time and score) and the MOT Challenge CSV (`frame,id,x,y,w,h,conf,-1,-1,-1`, frames
//! counted from 1), which MOT evaluation tools read.

use super::track::Track;
use crate::store::ReportSection;
use serde::{Deserialize, Serialize};

/// Every track of a video (report section `tracks`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TracksReport {
    /// Size of the analysed (source) frames: boxes are in its pixels.
    pub width: u32,
    pub height: u32,
    pub fps: f64,
    /// Frames in the video.
    pub frames: u64,
    /// Detection ran on frames 0, `every`, 2·`every`, …
    pub every: u32,
    pub tracks: Vec<TrackReport>,
}

impl ReportSection for TracksReport {
    const NAME: &'static str = "tracks";
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackReport {
    pub id: u32,
    pub class: String,
    /// Where the object was detected (detection frames only; boxes between are interpolated when
    /// rendering).
    pub frames: Vec<TrackBox>,
}

/// One detection of a track, in source pixels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TrackBox {
    /// Frame index from 0.
    pub frame: u64,
    /// Seconds from the first frame.
    pub time: f64,
    pub x: f32,
    pub y: f32,
    pub w: f32,
    pub h: f32,
    pub score: f32,
}

impl TracksReport {
    pub fn new(
        tracks: &[Track],
        (width, height): (u32, u32),
        fps: f64,
        frames: u64,
        every: u32,
    ) -> TracksReport {
        let (fw, fh) = (width as f32, height as f32);
        let round = |v: f32| (v * 100.0).round() / 100.0;
        TracksReport {
            width,
            height,
            fps,
            frames,
            every,
            tracks: tracks
                .iter()
                .map(|t| TrackReport {
                    id: t.id,
                    class: kino_shared::class_name(t.class).to_owned(),
                    frames: t
                        .points
                        .iter()
                        .map(|p| TrackBox {
                            frame: p.frame,
                            time: (p.frame as f64 / fps * 1000.0).round() / 1000.0,
                            x: round(p.rect[0] * fw),
                            y: round(p.rect[1] * fh),
                            w: round((p.rect[2] - p.rect[0]) * fw),
                            h: round((p.rect[3] - p.rect[1]) * fh),
                            score: (p.score * 1000.0).round() / 1000.0,
                        })
                        .collect(),
                })
                .collect(),
        }
    }

    /// MOT Challenge CSV: one line per box, ordered by frame then id.
    pub fn to_mot(&self) -> String {
        let mut rows: Vec<(u64, u32, &TrackBox)> = self
            .tracks
            .iter()
            .flat_map(|t| t.frames.iter().map(move |b| (b.frame, t.id, b)))
            .collect();
        rows.sort_by_key(|r| (r.0, r.1));
        let mut out = String::new();
        for (frame, id, b) in rows {
            out.push_str(&format!(
                "{},{id},{:.2},{:.2},{:.2},{:.2},{:.3},-1,-1,-1\n",
                frame + 1,
                b.x,
                b.y,
                b.w,
                b.h,
                b.score
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::track::TrackPoint;
    use super::*;

    #[test]
    fn mot_rows_are_one_based_in_pixels_and_ordered() {
        let t = |id, frame, x: f32| Track {
            id,
            class: 0,
            points: vec![TrackPoint {
                frame,
                rect: [x, 0.5, x + 0.25, 1.0],
                score: 0.875,
            }],
        };
        let r = TracksReport::new(&[t(2, 0, 0.5), t(1, 5, 0.0)], (100, 50), 25.0, 10, 5);
        assert_eq!(
            r.to_mot(),
            "1,2,50.00,25.00,25.00,25.00,0.875,-1,-1,-1\n6,1,0.00,25.00,25.00,25.00,0.875,-1,-1,-1\n"
        );
        assert_eq!(r.tracks[1].frames[0].time, 0.2);
        assert_eq!(r.tracks[0].class, "person");
    }
}
