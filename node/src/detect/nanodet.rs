//! NanoDet-m: COCO-80 objects at 416×416. The network gives, per stride (8, 16, 32) and grid
//! cell, 80 class scores (after a sigmoid) and a box as four distributions over 11 distance bins
//! (GFL): each side's distance is the softmax-weighted mean bin, in strides, from the cell centre.

use super::{frame_rgb, nms, Detection};
use crate::models::{Config, Model, ModelError, Outputs};
use kino_shared::Frame;

/// The converted network in the models folder (scripts/models.sh).
pub const NANODET_FILE: &str = "nanodet-m.onnx";
/// Input side in pixels.
pub const SIZE: usize = 416;
const STRIDES: [usize; 3] = [8, 16, 32];
const CLASSES: usize = 80;
/// Distance bins per side.
const BINS: usize = 11;
/// Outputs, in the order the converter writes them.
const OUTPUTS: [&str; 6] = ["cls_8", "box_8", "cls_16", "box_16", "cls_32", "box_32"];
/// NanoDet's own input normalisation (BGR order, on 0…255 samples).
const MEAN: [f32; 3] = [103.53, 116.28, 123.675];
const STD: [f32; 3] = [57.375, 57.12, 58.395];
/// Boxes of one class overlapping more than this are one object (NanoDet's own NMS threshold).
const NMS_IOU: f32 = 0.6;

pub struct NanoDet {
    model: Model,
}

impl NanoDet {
    pub fn open(cfg: &Config, threads: usize) -> Result<NanoDet, ModelError> {
        NanoDet::from_model(Model::load_any(cfg, NANODET_FILE, threads)?)
    }

    /// Wraps a loaded network after checking it is NanoDet as converted by the set-up.
    pub fn from_model(model: Model) -> Result<NanoDet, ModelError> {
        let outputs = model.output_names();
        let shape = model.input_shape().unwrap_or_default();
        let size = SIZE as i64;
        if outputs != OUTPUTS || shape != [1, 3, size, size] {
            return Err(ModelError::WrongModel {
                model: model.name.clone(),
                expected: format!(
                    "NanoDet-m (input [1, 3, {SIZE}, {SIZE}], outputs {})",
                    OUTPUTS.join(", ")
                ),
                got: format!("input {shape:?}, outputs {}", outputs.join(", ")),
            });
        }
        Ok(NanoDet { model })
    }

    /// Runs the network on a prepared tensor of `shape` (for checks and benchmarks).
    pub fn infer(&mut self, input: Vec<f32>, shape: &[usize]) -> Result<Outputs, ModelError> {
        self.model.run_all(input, shape)
    }

    /// Objects of the classes in `mask` scoring at least `min_score` on `f`.
    pub fn detect(
        &mut self,
        f: &Frame,
        min_score: f32,
        mask: u128,
    ) -> Result<Vec<Detection>, ModelError> {
        let outputs = self.infer(input_tensor(f), &[1, 3, SIZE, SIZE])?;
        decode(&self.model.name, &outputs, min_score, mask)
    }
}

/// The frame as NanoDet's input: stretched to 416×416, BGR planes normalised by its mean and scale.
pub fn input_tensor(f: &Frame) -> Vec<f32> {
    let rgb = frame_rgb(f, SIZE, SIZE);
    let plane = SIZE * SIZE;
    let mut out = vec![0.0f32; 3 * plane];
    for (i, px) in rgb.chunks_exact(3).enumerate() {
        for c in 0..3 {
            // Plane c is BGR's c-th channel: RGB index 2 - c.
            out[c * plane + i] = (px[2 - c] * 255.0 - MEAN[c]) / STD[c];
        }
    }
    out
}

/// Boxes from the six outputs: best class per cell (among `mask`) at or above `min_score`, its box
/// from the distance distributions, then per-class non-maximum suppression.
pub fn decode(
    model: &str,
    outputs: &[(Vec<usize>, Vec<f32>)],
    min_score: f32,
    mask: u128,
) -> Result<Vec<Detection>, ModelError> {
    let mut dets = Vec::new();
    for (k, &stride) in STRIDES.iter().enumerate() {
        let grid = SIZE / stride;
        let cells = grid * grid;
        let (Some((cs, cls)), Some((bs, boxes))) = (outputs.get(2 * k), outputs.get(2 * k + 1))
        else {
            return Err(wrong_outputs(model, outputs));
        };
        if cs[..] != [1, cells, CLASSES] || bs[..] != [1, cells, 4 * BINS] {
            return Err(wrong_outputs(model, outputs));
        }
        for cell in 0..cells {
            let scores = &cls[cell * CLASSES..(cell + 1) * CLASSES];
            let best = scores
                .iter()
                .enumerate()
                .filter(|(c, _)| mask >> c & 1 == 1)
                .max_by(|a, b| a.1.total_cmp(b.1));
            let Some((class, &score)) = best else {
                continue;
            };
            if score < min_score {
                continue;
            }
            let bins = &boxes[cell * 4 * BINS..(cell + 1) * 4 * BINS];
            let d: Vec<f32> = bins
                .chunks_exact(BINS)
                .map(|b| integral(b) * stride as f32)
                .collect();
            let cx = ((cell % grid) as f32 + 0.5) * stride as f32;
            let cy = ((cell / grid) as f32 + 0.5) * stride as f32;
            let s = SIZE as f32;
            let rect = [
                ((cx - d[0]) / s).clamp(0.0, 1.0),
                ((cy - d[1]) / s).clamp(0.0, 1.0),
                ((cx + d[2]) / s).clamp(0.0, 1.0),
                ((cy + d[3]) / s).clamp(0.0, 1.0),
            ];
            if rect[2] > rect[0] && rect[3] > rect[1] {
                dets.push(Detection {
                    class: class as u8,
                    score,
                    rect,
                });
            }
        }
    }
    Ok(nms(dets, NMS_IOU))
}

/// The mean bin index of a softmax over `logits`.
fn integral(logits: &[f32]) -> f32 {
    let max = logits.iter().copied().fold(f32::MIN, f32::max);
    let (mut sum, mut mean) = (0.0, 0.0);
    for (i, &l) in logits.iter().enumerate() {
        let e = (l - max).exp();
        sum += e;
        mean += e * i as f32;
    }
    mean / sum
}

fn wrong_outputs(model: &str, outputs: &[(Vec<usize>, Vec<f32>)]) -> ModelError {
    ModelError::WrongModel {
        model: model.to_owned(),
        expected: "NanoDet-m's outputs ([1, N, 80] scores and [1, N, 44] boxes per stride)".into(),
        got: format!(
            "outputs {:?}",
            outputs.iter().map(|o| &o.0).collect::<Vec<_>>()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integral_of_a_peaked_distribution_is_its_bin() {
        let mut l = [-20.0f32; BINS];
        l[3] = 20.0;
        assert!((integral(&l) - 3.0).abs() < 1e-4);
        let flat = [0.0f32; BINS];
        assert!((integral(&flat) - 5.0).abs() < 1e-4);
    }

    #[test]
    fn decodes_one_box_from_synthetic_outputs() {
        let mut outputs = Vec::new();
        for stride in STRIDES {
            let cells = (SIZE / stride).pow(2);
            let mut cls = vec![0.0f32; cells * CLASSES];
            let mut bx = vec![0.0f32; cells * 4 * BINS];
            if stride == 16 {
                // Cell (x 10, y 5): centre (168, 88); a person 2 strides each side.
                let cell = 5 * (SIZE / 16) + 10;
                cls[cell * CLASSES] = 0.9;
                for side in 0..4 {
                    bx[cell * 4 * BINS + side * BINS + 2] = 30.0;
                }
            }
            outputs.push((vec![1, cells, CLASSES], cls));
            outputs.push((vec![1, cells, 4 * BINS], bx));
        }
        let d = decode("t", &outputs, 0.5, u128::MAX).unwrap();
        assert_eq!(d.len(), 1);
        let want = [136.0, 56.0, 200.0, 120.0].map(|v| v / SIZE as f32);
        for (a, b) in d[0].rect.iter().zip(want) {
            assert!((a - b).abs() < 1e-4, "{:?}", d[0].rect);
        }
        assert!(decode("t", &outputs, 0.5, 0b10).unwrap().is_empty());
    }
}
