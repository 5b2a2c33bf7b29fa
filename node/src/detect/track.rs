//! Multi-object tracking in the style of SORT/ByteTrack: a constant-velocity Kalman filter per track
//! on the box centre and size, the distance-IoU (DIoU: IoU minus the squared centre distance over
//! the squared diagonal of the enclosing box) between predicted and detected boxes as the
//! similarity, optimal
//! assignment by the Hungarian method (`pathfinding`'s Kuhn–Munkres), and ByteTrack's two stages:
//! confident detections first, then the weak ones to keep already-tracked objects through
//! occlusion and blur. Only confident detections start tracks; a track lost for longer than
//! `max_lost_frames` ends.
//!
//! The tracker runs once over the whole video's detections (in frame order) after the parallel
//! analysis, so tracks and their ids do not depend on chunking.

use super::{iou, Detection};

/// Distance-IoU of two boxes (−1…1): like IoU where they overlap, and still ordered by how far
/// apart they are where they do not. Detection runs every few frames, where a walking person may
/// no longer overlap their predicted box when the track is new (its velocity still unknown).
pub fn diou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let (ax, ay) = ((a[0] + a[2]) / 2.0, (a[1] + a[3]) / 2.0);
    let (bx, by) = ((b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0);
    let cw = a[2].max(b[2]) - a[0].min(b[0]);
    let ch = a[3].max(b[3]) - a[1].min(b[1]);
    let diag = cw * cw + ch * ch;
    if diag <= 0.0 {
        return 0.0;
    }
    iou(a, b) - ((ax - bx).powi(2) + (ay - by).powi(2)) / diag
}
use pathfinding::prelude::{kuhn_munkres, Matrix};

pub use crate::analysis::{box_at, Track, TrackPoint};

#[derive(Debug, Clone, Copy)]
pub struct TrackerConfig {
    /// Score that starts a track and takes part in the first association (objects; faces use
    /// half, see [`TrackerConfig::high`]).
    pub min_score: f32,
    /// Lowest DIoU of a confident detection with a predicted box to continue the track (−0.25:
    /// next to it, about two box widths apart for a standing person).
    pub match_iou: f32,
    /// Lowest DIoU for the weak detections of the second stage (stricter: they are less certain).
    pub low_match_iou: f32,
    /// Frames a track survives without a detection.
    pub max_lost_frames: u64,
}

impl TrackerConfig {
    /// Faces (CenterFace) need half the score of objects, see `DetectNeeds::high_score`.
    pub fn new(min_score: f32, max_lost_frames: u64) -> TrackerConfig {
        TrackerConfig {
            min_score,
            match_iou: -0.25,
            low_match_iou: 0.1,
            max_lost_frames,
        }
    }

    /// The score a detection of `class` needs to start a track.
    pub fn high(&self, class: u8) -> f32 {
        if class == kino_shared::FACE_CLASS {
            self.min_score * 0.5
        } else {
            self.min_score
        }
    }
}

/// Constant-velocity Kalman filter of one coordinate (position and velocity). The box's four
/// coordinates (centre x, centre y, width, height) move independently under this model, and their
/// noises are diagonal, so four 2-state filters are exactly the usual 8-state one.
#[derive(Debug, Clone, Copy)]
struct Axis {
    x: f32,
    v: f32,
    p: [f32; 3], // covariance: p00, p01, p11
}

impl Axis {
    fn new(x: f32, pos_std: f32, vel_std: f32) -> Axis {
        Axis {
            x,
            v: 0.0,
            p: [(2.0 * pos_std).powi(2), 0.0, (10.0 * vel_std).powi(2)],
        }
    }

    fn predict(&mut self, dt: f32, pos_std: f32, vel_std: f32) {
        self.x += self.v * dt;
        let [a, b, c] = self.p;
        // F P Fᵀ + Q with F = [[1, dt], [0, 1]].
        self.p = [
            a + 2.0 * dt * b + dt * dt * c + (pos_std * dt).powi(2),
            b + dt * c,
            c + (vel_std * dt).powi(2),
        ];
    }

    fn update(&mut self, z: f32, meas_std: f32) {
        let [a, b, c] = self.p;
        let s = a + meas_std * meas_std;
        let (k0, k1) = (a / s, b / s);
        let y = z - self.x;
        self.x += k0 * y;
        self.v += k1 * y;
        self.p = [(1.0 - k0) * a, (1.0 - k0) * b, c - k1 * b];
    }
}

/// Noise scales relative to the box height, as in SORT/ByteTrack (per frame).
const POS_STD: f32 = 1.0 / 20.0;
const VEL_STD: f32 = 1.0 / 160.0;

struct Live {
    id: u32,
    class: u8,
    axes: [Axis; 4],
    last_frame: u64,
    points: Vec<TrackPoint>,
}

impl Live {
    fn new(id: u32, d: &Detection, frame: u64) -> Live {
        let [cx, cy, w, h] = centre_size(&d.rect);
        let s = h.max(1e-3);
        Live {
            id,
            class: d.class,
            axes: [cx, cy, w, h].map(|x| Axis::new(x, POS_STD * s, VEL_STD * s)),
            last_frame: frame,
            points: vec![TrackPoint {
                frame,
                rect: d.rect,
                score: d.score,
            }],
        }
    }

    fn predicted(&self) -> [f32; 4] {
        let [cx, cy, w, h] = self.axes.map(|a| a.x);
        let (w, h) = (w.max(1e-4), h.max(1e-4));
        [cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0]
    }

    fn predict(&mut self, dt: f32) {
        let s = self.axes[3].x.max(1e-3);
        for a in &mut self.axes {
            a.predict(dt, POS_STD * s, VEL_STD * s);
        }
    }

    fn update(&mut self, d: &Detection, frame: u64) {
        let z = centre_size(&d.rect);
        let s = z[3].max(1e-3);
        for (a, z) in self.axes.iter_mut().zip(z) {
            a.update(z, POS_STD * s);
        }
        self.last_frame = frame;
        self.points.push(TrackPoint {
            frame,
            rect: d.rect,
            score: d.score,
        });
    }
}

fn centre_size(r: &[f32; 4]) -> [f32; 4] {
    [
        (r[0] + r[2]) / 2.0,
        (r[1] + r[3]) / 2.0,
        r[2] - r[0],
        r[3] - r[1],
    ]
}

/// Tracks the detections of each detection frame (frame index, boxes), given in frame order.
pub struct Tracker {
    cfg: TrackerConfig,
    live: Vec<Live>,
    done: Vec<Track>,
    next_id: u32,
    last_frame: Option<u64>,
}

impl Tracker {
    pub fn new(cfg: TrackerConfig) -> Tracker {
        Tracker {
            cfg,
            live: Vec::new(),
            done: Vec::new(),
            next_id: 1,
            last_frame: None,
        }
    }

    /// Takes the detections of frame `frame` (later than the previous call's).
    pub fn step(&mut self, frame: u64, dets: &[Detection]) {
        let previous = self.last_frame;
        let dt = previous
            .map(|l| frame.saturating_sub(l).max(1) as f32)
            .unwrap_or(1.0);
        self.last_frame = Some(frame);
        let cfg = self.cfg;
        // End tracks lost for too long before they can be matched again.
        let (keep, ended): (Vec<Live>, Vec<Live>) = std::mem::take(&mut self.live)
            .into_iter()
            .partition(|t| frame - t.last_frame <= cfg.max_lost_frames);
        self.live = keep;
        self.done.extend(ended.into_iter().map(finish));
        for t in &mut self.live {
            t.predict(dt);
        }
        let (high, low): (Vec<&Detection>, Vec<&Detection>) =
            dets.iter().partition(|d| d.score >= cfg.high(d.class));
        // Stage 1: every track against the confident detections.
        let all: Vec<usize> = (0..self.live.len()).collect();
        let (pairs, rest_tracks, rest_high) = self.associate(&all, &high, cfg.match_iou);
        for (t, d) in &pairs {
            self.live[*t].update(high[*d], frame);
        }
        // Stage 2: tracks seen on the previous detection frame against the weak detections.
        let recent: Vec<usize> = rest_tracks
            .iter()
            .copied()
            .filter(|&t| Some(self.live[t].last_frame) == previous)
            .collect();
        let (pairs2, _, _) = self.associate(&recent, &low, cfg.low_match_iou);
        for (t, d) in &pairs2 {
            self.live[*t].update(low[*d], frame);
        }
        // New tracks from unmatched confident detections.
        for d in rest_high {
            let id = self.next_id;
            self.next_id += 1;
            self.live.push(Live::new(id, high[d], frame));
        }
    }

    /// Assigns `tracks` (indices into `live`) to `dets` by maximum total similarity (DIoU) over
    /// pairs of the same class with DIoU ≥ `min_iou`. Returns the pairs, the unmatched tracks and
    /// detections.
    fn associate(
        &self,
        tracks: &[usize],
        dets: &[&Detection],
        min_iou: f32,
    ) -> (Vec<(usize, usize)>, Vec<usize>, Vec<usize>) {
        if tracks.is_empty() || dets.is_empty() {
            return (Vec::new(), tracks.to_vec(), (0..dets.len()).collect());
        }
        let n = tracks.len().max(dets.len());
        // Integer weights (Kuhn–Munkres needs a total order): 1 + DIoU in millionths (> 0), 0 when
        // not allowed.
        let weights = Matrix::from_fn(n, n, |(i, j)| {
            let (Some(&t), Some(d)) = (tracks.get(i), dets.get(j)) else {
                return 0i64;
            };
            let t = &self.live[t];
            if t.class != d.class {
                return 0;
            }
            let v = diou(&t.predicted(), &d.rect);
            if v >= min_iou {
                ((1.0 + v) * 1e6) as i64 + 1
            } else {
                0
            }
        });
        let (_, assign) = kuhn_munkres(&weights);
        let mut pairs = Vec::new();
        let mut used = vec![false; dets.len()];
        let mut rest = Vec::new();
        for (i, &t) in tracks.iter().enumerate() {
            let j = assign[i];
            if j < dets.len() && weights[(i, j)] > 0 {
                pairs.push((t, j));
                used[j] = true;
            } else {
                rest.push(t);
            }
        }
        let rest_dets = (0..dets.len()).filter(|&j| !used[j]).collect();
        (pairs, rest, rest_dets)
    }

    /// Ends every live track (at a scene cut: nothing continues across it).
    pub fn end_all(&mut self) {
        self.done.extend(self.live.drain(..).map(finish));
    }

    /// Ends every track; returns all tracks ordered by id.
    pub fn finish(mut self) -> Vec<Track> {
        self.done.extend(self.live.drain(..).map(finish));
        self.done.sort_by_key(|t| t.id);
        self.done
    }
}

fn finish(t: Live) -> Track {
    Track {
        id: t.id,
        class: t.class,
        points: t.points,
    }
}

/// Tracks a whole video's detections: `frames` as (frame index, detections), in frame order;
/// `cuts`: the first frames of new scenes, in order (every track ends before each).
pub fn track_all(cfg: TrackerConfig, frames: &[(u64, Vec<Detection>)], cuts: &[u64]) -> Vec<Track> {
    let mut t = Tracker::new(cfg);
    let mut cuts = cuts.iter().peekable();
    for (frame, dets) in frames {
        if cuts.next_if(|&&c| c <= *frame).is_some() {
            while cuts.next_if(|&&c| c <= *frame).is_some() {}
            t.end_all();
        }
        t.step(*frame, dets);
    }
    let mut tracks = t.finish();
    // Renumber 1… in order of appearance (ids are never reused, but some may have been dropped).
    for (i, tr) in tracks.iter_mut().enumerate() {
        tr.id = i as u32 + 1;
    }
    tracks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(class: u8, score: f32, cx: f32, cy: f32, w: f32, h: f32) -> Detection {
        Detection {
            class,
            score,
            rect: [cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0],
        }
    }

    /// Two people walk towards each other along the same line, cross (overlapping heavily for a
    /// few frames), and walk on; one of them is missed on some frames. Ids must survive.
    #[test]
    fn crossing_paths_and_missed_detections_keep_ids() {
        let mut frames = Vec::new();
        for f in 0..60u64 {
            let t = f as f32 / 59.0;
            let a = d(0, 0.8, 0.1 + 0.8 * t, 0.50, 0.08, 0.25);
            let b = d(0, 0.8, 0.9 - 0.8 * t, 0.52, 0.08, 0.25);
            let mut dets = vec![b];
            // A is missed on every 7th frame and for three frames while crossing.
            if f % 7 != 3 && !(28..31).contains(&f) {
                dets.push(a);
            }
            frames.push((f, dets));
        }
        let tracks = track_all(TrackerConfig::new(0.4, 10), &frames, &[]);
        assert_eq!(tracks.len(), 2, "{tracks:?}");
        // Each track stays on one side of its path: A moves right, B left.
        for tr in &tracks {
            let xs: Vec<f32> = tr.points.iter().map(|p| p.rect[0]).collect();
            let rising = xs.windows(2).all(|w| w[1] >= w[0]);
            let falling = xs.windows(2).all(|w| w[1] <= w[0]);
            assert!(rising || falling, "track {} switched: {xs:?}", tr.id);
        }
        let b = tracks.iter().find(|t| t.points.len() == 60).unwrap();
        assert!(b.points.iter().all(|p| p.rect[1] > 0.38));
    }

    #[test]
    fn weak_detections_continue_but_do_not_start_tracks() {
        let mut frames = Vec::new();
        for f in 0..20u64 {
            let x = 0.2 + 0.01 * f as f32;
            // Confident for 5 frames, then weak (occluded): the track continues on the weak ones.
            let score = if f < 5 { 0.8 } else { 0.25 };
            frames.push((
                f,
                vec![
                    d(0, score, x, 0.5, 0.1, 0.3),
                    d(2, 0.25, 0.8, 0.2, 0.1, 0.1),
                ],
            ));
        }
        let tracks = track_all(TrackerConfig::new(0.4, 5), &frames, &[]);
        assert_eq!(tracks.len(), 1, "{tracks:?}");
        assert_eq!(tracks[0].points.len(), 20);
    }

    #[test]
    fn classes_do_not_mix_and_lost_tracks_end() {
        let mut frames = Vec::new();
        for f in 0..10u64 {
            frames.push((
                f,
                vec![d(0, 0.9, 0.5, 0.5, 0.2, 0.2), d(2, 0.9, 0.5, 0.5, 0.2, 0.2)],
            ));
        }
        // The person vanishes for 20 frames and comes back: a new track.
        for f in 30..35u64 {
            frames.push((f, vec![d(0, 0.9, 0.5, 0.5, 0.2, 0.2)]));
        }
        let tracks = track_all(TrackerConfig::new(0.4, 10), &frames, &[]);
        let classes: Vec<(u8, usize)> = tracks.iter().map(|t| (t.class, t.points.len())).collect();
        assert_eq!(classes, vec![(0, 10), (2, 10), (0, 5)]);
    }

    #[test]
    fn tracks_end_at_scene_cuts() {
        let frames: Vec<(u64, Vec<Detection>)> = (0..10u64)
            .map(|f| (f, vec![d(0, 0.9, 0.5, 0.5, 0.2, 0.2)]))
            .collect();
        let tracks = track_all(TrackerConfig::new(0.4, 10), &frames, &[4]);
        let spans: Vec<(u64, u64)> = tracks
            .iter()
            .map(|t| (t.points[0].frame, t.points[t.points.len() - 1].frame))
            .collect();
        assert_eq!(spans, vec![(0, 3), (4, 9)]);
    }

    #[test]
    fn boxes_are_interpolated_between_observations_and_held_at_the_ends() {
        let p = |frame, x: f32| TrackPoint {
            frame,
            rect: [x, 0.0, x + 0.1, 0.1],
            score: 1.0,
        };
        let pts = [p(10, 0.0), p(20, 0.5)];
        assert_eq!(box_at(&pts, 15, 4).unwrap()[0], 0.25);
        assert_eq!(box_at(&pts, 7, 4).unwrap()[0], 0.0);
        assert_eq!(box_at(&pts, 24, 4).unwrap()[0], 0.5);
        assert!(box_at(&pts, 5, 4).is_none() && box_at(&pts, 25, 4).is_none());
    }
}
