//! Super-resolution networks: which file serves which model and factor, and tiled upscaling of RGB.

use super::tile::{self, Tiling};
use super::{Config, Model, ModelError};
use kino_shared::SrModel;

/// The ONNX file for `model` at ×`scale` (2 or 4), and the factor that file produces. `quality` has
/// only a ×4 network; `auto` is resolved per job before a network is opened, and stands for the
/// fidelity model here.
pub fn file_for(model: SrModel, scale: usize) -> (&'static str, usize) {
    match (model, scale) {
        (SrModel::Fast, 2) => ("realesr-animevideov3-x2.onnx", 2),
        // int8: 1.9× faster for −0.07 dB (the float file stays for reference and the benchmarks).
        (SrModel::Fast, _) => ("realesr-animevideov3-x4-int8.onnx", 4),
        (SrModel::Quality, _) => ("realesrgan-x4plus.onnx", 4),
        (SrModel::Small, 2) => ("esrgan-slim-x2.onnx", 2),
        (SrModel::Small, _) => ("esrgan-slim-x4.onnx", 4),
        (SrModel::Span | SrModel::Auto, 2) => ("span-x2.onnx", 2),
        (SrModel::Span | SrModel::Auto, _) => ("span-x4.onnx", 4),
    }
}

/// Tiling per model: tiles sized so one tile's activations stay in the low hundreds of MB (x4plus
/// runs 64 channels at the output resolution, hence its smaller tiles). Context: 16 px keeps the
/// compact models within ±1 LSB of untiled (tested); RRDBNet (x4plus) sees much further and needs
/// 32 px for ±2 LSB (16 px: 21 LSB), measured in BENCHMARKS.md.
pub fn default_tiling(model: SrModel) -> Tiling {
    let (tile, context) = match model {
        SrModel::Fast => (192, 16),
        SrModel::Quality => (128, 32),
        SrModel::Small => (128, 16),
        // 21 convolutions of 3×3 in a row: 21 px of receptive field on each side.
        SrModel::Span | SrModel::Auto => (192, 24),
    };
    Tiling {
        tile,
        overlap: 16,
        context,
    }
}

/// Pictures up to this many pixels (640×368) go through `fast` and `span` whole, not in tiles:
/// tiles' context and per-run overhead cost 1.6× (`fast` ×4) to 2.1× (`span` ×2) on a 640×360
/// frame, and one whole frame peaks about as high as a 4K frame in tiles (0.55 / 0.71 GB, measured
/// in BENCHMARKS.md). The compact networks only: x4plus's activations at that size reach GBs.
pub const WHOLE_UP_TO: usize = 640 * 368;

/// The largest picture `model` runs untiled by default (see [`WHOLE_UP_TO`]).
fn whole_up_to(model: SrModel) -> usize {
    match model {
        SrModel::Fast | SrModel::Span | SrModel::Auto => WHOLE_UP_TO,
        SrModel::Quality | SrModel::Small => 0,
    }
}

/// What runs the network: ONNX Runtime, or the GPU through wgpu.
enum Runner {
    Ort(Model),
    #[cfg(feature = "gpu")]
    Gpu(kino_gpu::Net),
}

impl Runner {
    fn name(&self) -> &str {
        match self {
            Runner::Ort(m) => &m.name,
            #[cfg(feature = "gpu")]
            Runner::Gpu(n) => &n.name,
        }
    }

    /// One [1, 3, h, w] picture through the network.
    fn run(
        &mut self,
        input: Vec<f32>,
        h: usize,
        w: usize,
    ) -> Result<(Vec<f32>, [usize; 4]), ModelError> {
        match self {
            Runner::Ort(m) => m.run(input, h, w),
            #[cfg(feature = "gpu")]
            Runner::Gpu(n) => n
                .run(&input, [1, 3, h, w])
                .map_err(|e| ModelError::Inference {
                    model: n.name.clone(),
                    reason: e.to_string(),
                }),
        }
    }
}

/// A super-resolution network ready to run.
pub struct SrNet {
    model: Runner,
    /// Factor of the network's output.
    pub scale: usize,
    pub tiling: Tiling,
    /// Pictures of at most this many pixels run as one tile (0: always tiled).
    pub whole_up_to: usize,
}

impl SrNet {
    /// Loads `model` for ×`scale` from the models folder; `threads` = 0 uses every core.
    pub fn open(
        cfg: &Config,
        model: SrModel,
        scale: usize,
        threads: usize,
        tile: Option<usize>,
    ) -> Result<SrNet, ModelError> {
        let (file, native) = file_for(model, scale);
        let mut tiling = default_tiling(model);
        if let Some(t) = tile {
            tiling.tile = t;
        }
        let runner = match cfg.provider {
            #[cfg(feature = "gpu")]
            super::Provider::Gpu => Runner::Gpu(super::gpu::load(cfg, file)?),
            #[cfg(not(feature = "gpu"))]
            super::Provider::Gpu => {
                return Err(ModelError::Provider {
                    provider: "gpu",
                    reason: "this build of kino-node has no GPU path (cargo feature `gpu`)".into(),
                })
            }
            _ => Runner::Ort(Model::load(cfg, file, threads)?),
        };
        Ok(SrNet {
            model: runner,
            scale: native,
            tiling,
            // A tile size asked for is kept.
            whole_up_to: if tile.is_some() {
                0
            } else {
                whole_up_to(model)
            },
        })
    }

    /// Wraps an already loaded network producing ×`scale`.
    pub fn from_model(model: Model, scale: usize, tiling: Tiling) -> SrNet {
        SrNet {
            model: Runner::Ort(model),
            scale,
            tiling,
            whole_up_to: 0,
        }
    }

    /// The GPU adapter it runs on; `None` on ONNX Runtime.
    pub fn adapter(&self) -> Option<&str> {
        match &self.model {
            Runner::Ort(_) => None,
            #[cfg(feature = "gpu")]
            Runner::Gpu(n) => Some(n.adapter()),
        }
    }

    /// Upscales a `w`×`h` picture read by `fill` (see [`tile::upscale`]), handing rows to `emit`.
    pub fn upscale(
        &mut self,
        w: usize,
        h: usize,
        fill: impl FnMut(usize, usize, usize, usize, &mut Vec<f32>),
        emit: impl FnMut(usize, usize, &[f32]) -> Result<(), ModelError>,
    ) -> Result<(), ModelError> {
        let (scale, model) = (self.scale, &mut self.model);
        let tiling = match w * h <= self.whole_up_to {
            true => Tiling::whole(w, h),
            false => self.tiling,
        };
        tile::upscale(
            w,
            h,
            scale,
            tiling,
            fill,
            |input, th, tw| {
                let (out, shape) = model.run(input, th, tw)?;
                if shape[2] != th * scale || shape[3] != tw * scale {
                    return Err(ModelError::InputMismatch {
                        model: model.name().to_owned(),
                        expected: format!("×{scale} output ({}x{})", tw * scale, th * scale),
                        got: format!("{}x{} for a {tw}x{th} input", shape[3], shape[2]),
                    });
                }
                Ok(out)
            },
            emit,
        )
    }

    /// Upscales interleaved 8-bit RGB; returns (width, height, RGB).
    pub fn upscale_rgb8(
        &mut self,
        w: usize,
        h: usize,
        rgb: &[u8],
    ) -> Result<(usize, usize, Vec<u8>), ModelError> {
        if rgb.len() != w * h * 3 {
            return Err(ModelError::InputMismatch {
                model: self.model.name().to_owned(),
                expected: format!("{} bytes of RGB for {w}x{h}", w * h * 3),
                got: format!("{} bytes", rgb.len()),
            });
        }
        let s = self.scale;
        let mut out = vec![0u8; w * s * h * s * 3];
        self.upscale(
            w,
            h,
            |x, y, tw, th, buf| {
                for c in 0..3 {
                    for j in 0..th {
                        let row = ((y + j) * w + x) * 3;
                        buf.extend(
                            rgb[row..row + tw * 3]
                                .iter()
                                .skip(c)
                                .step_by(3)
                                .map(|&v| v as f32 / 255.0),
                        );
                    }
                }
            },
            |y, rows, data| {
                let dst = &mut out[y * w * s * 3..(y + rows) * w * s * 3];
                for (d, v) in dst.iter_mut().zip(data) {
                    *d = (v * 255.0 + 0.5).clamp(0.0, 255.0) as u8;
                }
                Ok(())
            },
        )?;
        Ok((w * s, h * s, out))
    }
}
