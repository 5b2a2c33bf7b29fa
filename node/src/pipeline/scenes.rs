//! Scene-cut detection over the whole video's frame signatures (from the analysis pass).
//!
//! Hard cuts: the frame-to-frame difference stands out against its neighbours (an adaptive ratio, so
//! fast motion does not read as a cut), the frames either side of a one-frame flash are alike, and a
//! camera jolt keeps the picture's histograms where a cut changes them.
//! Gradual transitions (dissolves, fades): over a window, the middle frame is the blend of the
//! window's ends, the path between them is straight, and the picture's contrast dips in the middle
//! (a blend of two unrelated pictures, or of a picture and black, has less variance than either).
//! Camera motion changes frames as much, but keeps its contrast, and is no blend over longer windows.

use kino_shared::kernels::scene::{
    blend_residual, distance, histogram_distance, mean_luma, Signature, LUMA_GRID,
};
use serde::{Deserialize, Serialize};

pub use crate::analysis::{Transition, TransitionKind};

/// Tuning of the detector.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SceneDetector {
    /// Frames per second (windows and minimum scene length are in seconds).
    pub fps: f64,
    /// Shortest scene; of two transitions closer than this, the stronger one is kept.
    pub min_scene_seconds: f64,
    /// Look for dissolves and fades too.
    pub gradual: bool,
}

/// A hard cut's difference must be this many times the mean of its neighbours' …
const CUT_RATIO: f32 = 3.0;
/// … and at least this large (signature scale).
pub(crate) const CUT_MIN: f32 = 6.0;
/// Below this difference, a cut must also change the picture's histograms this much …
const CUT_HISTOGRAM: f32 = 0.1;
/// … (above it, the change alone is a cut).
const CUT_CERTAIN: f32 = 30.0;
/// Frames on each side that set the local level for the ratio.
const CUT_CONTEXT: usize = 3;
/// Across a flash the frames before and after are alike: below this fraction of the cut's jump.
const FLASH_RATIO: f32 = 0.35;
/// A gradual transition changes the picture at least this much end to end.
const GRADUAL_MIN: f32 = 10.0;
/// The middle frame's distance from the blend of the ends, as a fraction of the end-to-end change.
/// Measured: the test montage's dissolves 0.06–0.29 (0.24 for the one that starts while the bird
/// lunges at the camera), and no window of the single-shot clips that passes the other checks
/// under 0.4.
const BLEND_RATIO: f32 = 0.3;
/// Summed frame differences over the window, as a multiple of the end-to-end change (straight path).
const PATH_RATIO: f32 = 1.6;
/// Mean luma (8-bit) under which the middle of a transition counts as black (a fade).
const BLACK_LUMA: f32 = 24.0;
/// The middle frame's luma variance must fall this far below the mean of the ends' variances.
const VARIANCE_DIP: f32 = 0.12;

impl SceneDetector {
    /// Transitions in frame order.
    pub fn detect(&self, sigs: &[Signature]) -> Vec<Transition> {
        let n = sigs.len();
        if n < 2 {
            return Vec::new();
        }
        let d1: Vec<f32> = (0..n)
            .map(|i| {
                if i == 0 {
                    0.0
                } else {
                    distance(&sigs[i - 1], &sigs[i])
                }
            })
            .collect();
        let mut found = self.cuts(sigs, &d1);
        if self.gradual {
            found.extend(self.gradual_transitions(sigs, &d1, &found));
        }
        self.thin(found)
    }

    fn cuts(&self, sigs: &[Signature], d1: &[f32]) -> Vec<Transition> {
        let n = sigs.len();
        (1..n)
            .filter_map(|i| {
                let lo = i.saturating_sub(CUT_CONTEXT).max(1);
                let hi = (i + CUT_CONTEXT + 1).min(n);
                let ctx: Vec<f32> = (lo..hi).filter(|&j| j != i).map(|j| d1[j]).collect();
                let level = if ctx.is_empty() {
                    0.0
                } else {
                    ctx.iter().sum::<f32>() / ctx.len() as f32
                };
                let d = d1[i];
                if d < CUT_MIN || d < CUT_RATIO * level {
                    return None;
                }
                // A one-frame flash starts (the frame after looks like the one before) or ends
                // (this frame looks like the one before the flash).
                let alike = |x: usize, y: usize| distance(&sigs[x], &sigs[y]) < FLASH_RATIO * d;
                if (i + 1 < n && alike(i - 1, i + 1)) || (i >= 2 && alike(i - 2, i)) {
                    return None;
                }
                // A jolt of the camera moves the picture but keeps what is in it.
                if d < CUT_CERTAIN && histogram_distance(&sigs[i - 1], &sigs[i]) < CUT_HISTOGRAM {
                    return None;
                }
                Some(Transition {
                    frame: i,
                    kind: TransitionKind::Cut,
                    span: (i, i),
                    score: d,
                })
            })
            .collect()
    }

    fn gradual_transitions(
        &self,
        sigs: &[Signature],
        d1: &[f32],
        cuts: &[Transition],
    ) -> Vec<Transition> {
        let n = sigs.len();
        let fps = if self.fps.is_finite() && self.fps > 0.0 {
            self.fps
        } else {
            25.0
        };
        // Half-windows of about 0.2, 0.4 and 0.6 s cover transitions from a few frames to ~1.5 s.
        let halves: Vec<usize> = [0.2, 0.4, 0.6]
            .iter()
            .map(|s| ((s * fps).round() as usize).max(2))
            .collect();
        let mut prefix = vec![0.0f32; n + 1];
        for i in 0..n {
            prefix[i + 1] = prefix[i] + d1[i];
        }
        let mut out: Vec<Transition> = Vec::new();
        for &h in &halves {
            for t in h..n.saturating_sub(h) {
                let (a, b) = (t - h, t + h);
                if cuts.iter().any(|c| c.frame > a && c.frame <= b) {
                    continue;
                }
                let end = distance(&sigs[a], &sigs[b]);
                if end < GRADUAL_MIN {
                    continue;
                }
                let path = prefix[b + 1] - prefix[a + 1];
                if path > PATH_RATIO * end {
                    continue;
                }
                let quarter = |k: usize| {
                    blend_residual(
                        &sigs[a],
                        &sigs[k],
                        &sigs[b],
                        (k - a) as f32 / (b - a) as f32,
                    )
                };
                let resid = quarter(t).max(quarter(a + h / 2)).max(quarter(t + h / 2));
                let black = mean_luma(&sigs[t]) < BLACK_LUMA;
                let fade_through_black =
                    black && mean_luma(&sigs[a]) > BLACK_LUMA && mean_luma(&sigs[b]) > BLACK_LUMA;
                if resid > BLEND_RATIO * end && !fade_through_black {
                    continue;
                }
                let ends = (luma_variance(&sigs[a]) + luma_variance(&sigs[b])) / 2.0;
                if luma_variance(&sigs[t]) > (1.0 - VARIANCE_DIP) * ends {
                    continue;
                }
                let kind = if black
                    || mean_luma(&sigs[a]) < BLACK_LUMA
                    || mean_luma(&sigs[b]) < BLACK_LUMA
                {
                    TransitionKind::Fade
                } else {
                    TransitionKind::Dissolve
                };
                out.push(Transition {
                    frame: t,
                    kind,
                    span: (a, b),
                    score: end - resid,
                });
            }
        }
        out
    }

    /// Merges overlapping gradual detections into one transition (the union of their spans, the
    /// middle of it) and keeps the stronger of any two transitions closer than the minimum scene.
    fn thin(&self, mut found: Vec<Transition>) -> Vec<Transition> {
        found.sort_by_key(|t| (t.span.0, t.span.1));
        let mut merged: Vec<Transition> = Vec::new();
        for t in found {
            if let Some(last) = merged.last_mut() {
                let gradual = last.kind != TransitionKind::Cut && t.kind != TransitionKind::Cut;
                if gradual && t.span.0 <= last.span.1 {
                    last.span.1 = last.span.1.max(t.span.1);
                    last.score = last.score.max(t.score);
                    if t.kind == TransitionKind::Fade {
                        last.kind = TransitionKind::Fade;
                    }
                    last.frame = (last.span.0 + last.span.1).div_ceil(2);
                    continue;
                }
            }
            merged.push(t);
        }
        let min_gap = (self.min_scene_seconds.max(0.0) * self.fps.max(1.0)).round() as usize;
        let mut kept: Vec<Transition> = Vec::new();
        for t in merged {
            match kept.last_mut() {
                Some(last) if t.frame.saturating_sub(last.frame) < min_gap.max(1) => {
                    if t.score > last.score {
                        *last = t;
                    }
                }
                _ => kept.push(t),
            }
        }
        kept
    }
}

/// One scene of the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scene {
    pub index: usize,
    /// First frame (0-based, in presentation order) and the frame after the last.
    pub start_frame: usize,
    pub end_frame: usize,
    /// Seconds from the first frame.
    pub start_seconds: f64,
    pub end_seconds: f64,
    /// How the scene begins (none for the first).
    pub transition: Option<TransitionKind>,
    /// First and last frame of that transition.
    pub transition_frames: Option<(usize, usize)>,
    /// JPEG file name of the scene's thumbnail (middle frame), when made.
    pub thumbnail: Option<String>,
}

/// The report section `scenes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SceneReport {
    pub frames: usize,
    pub cuts: usize,
    pub dissolves: usize,
    pub fades: usize,
    pub scenes: Vec<Scene>,
}

/// Scenes between `transitions` over frames with timestamps `pts` (in `video`'s time base); the
/// last scene ends one frame duration after the last frame.
pub fn scene_report(
    pts: &[i64],
    transitions: &[Transition],
    video: &kino_shared::VideoInfo,
) -> SceneReport {
    let time_base = video.time_base[0] as f64 / video.time_base[1].max(1) as f64;
    let fps = video.fps;
    let n = pts.len();
    let first = pts.first().copied().unwrap_or(0);
    let at = |i: usize| -> f64 {
        if i < n {
            (pts[i] - first) as f64 * time_base
        } else {
            (pts.last().copied().unwrap_or(first) - first) as f64 * time_base
                + 1.0 / if fps > 0.0 { fps } else { 25.0 }
        }
    };
    let mut starts: Vec<(usize, Option<&Transition>)> = vec![(0, None)];
    starts.extend(
        transitions
            .iter()
            .filter(|t| t.frame > 0 && t.frame < n)
            .map(|t| (t.frame, Some(t))),
    );
    let scenes = starts
        .iter()
        .enumerate()
        .map(|(k, &(start, t))| {
            let end = starts.get(k + 1).map(|s| s.0).unwrap_or(n);
            Scene {
                index: k,
                start_frame: start,
                end_frame: end,
                start_seconds: at(start),
                end_seconds: at(end),
                transition: t.map(|t| t.kind),
                transition_frames: t.map(|t| t.span),
                thumbnail: None,
            }
        })
        .collect();
    let count = |k: TransitionKind| transitions.iter().filter(|t| t.kind == k).count();
    SceneReport {
        frames: n,
        cuts: count(TransitionKind::Cut),
        dissolves: count(TransitionKind::Dissolve),
        fades: count(TransitionKind::Fade),
        scenes,
    }
}

/// Variance of the luma cells (contrast at the signature's scale).
fn luma_variance(s: &Signature) -> f32 {
    let cells = &s.0[..LUMA_GRID.0 * LUMA_GRID.1];
    let mean = cells.iter().map(|&v| v as f32).sum::<f32>() / cells.len() as f32;
    cells
        .iter()
        .map(|&v| (v as f32 - mean).powi(2))
        .sum::<f32>()
        / cells.len() as f32
}

#[cfg(test)]
mod tests {
    use super::*;
    use kino_shared::kernels::scene::SIGNATURE_LEN;

    /// A signature whose cells follow `f(cell)`.
    fn sig(f: impl Fn(usize) -> f32) -> Signature {
        Signature(
            (0..SIGNATURE_LEN)
                .map(|i| f(i).clamp(0.0, 255.0) as u8)
                .collect(),
        )
    }

    fn shot(seed: usize, frames: usize, drift: f32) -> Vec<Signature> {
        (0..frames)
            .map(|k| {
                sig(|i| {
                    let v = ((i * 37 + seed * 101) % 200) as f32 + 30.0;
                    v + drift * (k as f32) * (((i + seed) % 3) as f32 - 1.0)
                })
            })
            .collect()
    }

    fn detector() -> SceneDetector {
        SceneDetector {
            fps: 25.0,
            min_scene_seconds: 0.5,
            gradual: true,
        }
    }

    #[test]
    fn finds_hard_cuts_and_ignores_a_flash() {
        let mut v = shot(1, 40, 0.3);
        v.extend(shot(2, 40, 0.3));
        v[20] = sig(|_| 250.0); // a one-frame flash inside the first shot
        let t = detector().detect(&v);
        assert_eq!(t.len(), 1, "{t:?}");
        assert_eq!((t[0].frame, t[0].kind), (40, TransitionKind::Cut));
    }

    #[test]
    fn finds_a_dissolve_at_its_middle() {
        let a = shot(3, 50, 0.0);
        let b = shot(4, 50, 0.0);
        let mut v = a[..40].to_vec();
        for k in 0..25 {
            let t = (k as f32 + 0.5) / 25.0;
            v.push(Signature(
                a[0].0
                    .iter()
                    .zip(&b[0].0)
                    .map(|(&x, &y)| (x as f32 * (1.0 - t) + y as f32 * t).round() as u8)
                    .collect(),
            ));
        }
        v.extend(b[..40].to_vec());
        let t = detector().detect(&v);
        assert_eq!(t.len(), 1, "{t:?}");
        assert_eq!(t[0].kind, TransitionKind::Dissolve);
        assert!((t[0].frame as i64 - 52).abs() <= 3, "{t:?}");
    }

    #[test]
    fn panning_is_not_a_transition() {
        // A smooth pattern moving sideways by a fifth of a cell per frame.
        let v: Vec<Signature> = (0..120)
            .map(|k| {
                sig(|i| {
                    let (x, y) = ((i % LUMA_GRID.0) as f32, (i / LUMA_GRID.0) as f32);
                    128.0 + 80.0 * (0.7 * (x + 0.2 * k as f32) + 0.3 * y).sin()
                })
            })
            .collect();
        let t = detector().detect(&v);
        assert!(t.is_empty(), "{t:?}");
    }
}
