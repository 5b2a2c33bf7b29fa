//! Neural upscale: the `scale` stage with a `model`. Frames go to the network as RGB tile by tile
//! (see `models::tile`) and come back as YUV in the frame's own layout, depth and matrix. When the
//! network cannot be loaded the stage does the classic resize instead (the job has already warned,
//! see [`warnings`]), so a job never fails for a missing model.

use super::{Margin, Stage, StageError};
use crate::models::rgb::{chroma_at, sample, store, Matrix};
use crate::models::sr::{self, SrNet};
use crate::models::{Config, ModelError, Provider};
use kino_shared::kernels::{denoise, resize, steady};
use kino_shared::{ChromaLayout, Frame, Sar, ScaleParams, SrModel, StageSpec};

pub struct NeuralScale {
    params: ScaleParams,
    model: SrModel,
    threads: usize,
    /// The input's pixel aspect ratio: sizes are display sizes.
    sar: Sar,
    /// Loaded at the first frame that needs it (its size picks ×2 or ×4); `Err` once it failed.
    net: Option<Result<SrNet, String>>,
}

impl NeuralScale {
    pub fn new(params: ScaleParams, model: SrModel, threads: usize, sar: Sar) -> Self {
        NeuralScale {
            params,
            model,
            threads,
            sar,
            net: None,
        }
    }

    /// The network, `None` when it cannot be opened (the stage then resizes classically); an error
    /// when the GPU was asked for: a GPU job never quietly becomes a CPU one.
    fn net(&mut self, scale: usize) -> Result<Option<&mut SrNet>, StageError> {
        if self.net.is_none() {
            let cfg = Config::from_env();
            let strict = cfg.as_ref().is_ok_and(|c| c.provider == Provider::Gpu);
            let opened = cfg
                .and_then(|cfg| {
                    SrNet::open(
                        &cfg,
                        self.model,
                        scale,
                        self.threads,
                        self.params.tile.map(|t| t as usize),
                    )
                })
                .map_err(|e| e.to_string());
            match &opened {
                Err(e) if strict => {
                    return Err(StageError::Failed {
                        stage: "scale",
                        message: e.clone(),
                    })
                }
                Err(e) => tracing::warn!("neural upscale falls back to the classic filter: {e}"),
                Ok(_) => {}
            }
            self.net = Some(opened);
        }
        Ok(self.net.as_mut().and_then(|r| r.as_mut().ok()))
    }
}

/// Warnings for a job whose neural stages cannot run (each then does the classic resize), checked
/// before any chunk is rendered.
pub fn warnings(stages: &[StageSpec]) -> Vec<String> {
    let mut out = Vec::new();
    for s in stages {
        let StageSpec::Scale(p) = s else { continue };
        let Some(model) = p.model else { continue };
        let check = Config::from_env().and_then(|cfg| {
            // Both factors' files (the frame size decides which one runs), of every network
            // `auto` may pick.
            for &m in model.candidates() {
                for scale in [2, 4] {
                    let file = sr::file_for(m, scale).0;
                    #[cfg(feature = "gpu")]
                    if cfg.provider == Provider::Gpu {
                        crate::models::check_file(&cfg, crate::models::gpu::float_file(file))?;
                        continue;
                    }
                    crate::models::check(&cfg, file)?;
                }
            }
            Ok::<(), ModelError>(())
        });
        if let Err(e) = check {
            out.push(format!(
                "scale: neural model '{}' unavailable, using the classic {:?} filter instead: {e}",
                model.name(),
                p.filter
            ));
        }
    }
    out
}

/// Where the job's neural upscaling runs when `KINO_EXECUTION_PROVIDER=gpu`: `Ok(Some(note))`
/// naming the adapter, `Ok(None)` on the CPU or without a neural stage, `Err` (the job is refused)
/// when the GPU asked for is not there.
pub fn gpu_note(stages: &[StageSpec]) -> Result<Option<String>, String> {
    let neural = stages
        .iter()
        .any(|s| matches!(s, StageSpec::Scale(p) if p.model.is_some()));
    let gpu = Config::from_env().is_ok_and(|c| c.provider == Provider::Gpu);
    if !neural || !gpu {
        return Ok(None);
    }
    #[cfg(feature = "gpu")]
    {
        let dev = crate::models::gpu::device().map_err(|e| e.to_string())?;
        let precision = kino_gpu::Precision::from_env(&dev).map_err(|e| e.to_string())?;
        Ok(Some(format!(
            "scale: the neural network runs on the GPU {} through wgpu in {}, at most {} MB of GPU memory at once (KINO_GPU_MEMORY_MB)",
            dev.adapter,
            precision.name(),
            dev.memory_bound() >> 20
        )))
    }
    #[cfg(not(feature = "gpu"))]
    Err("KINO_EXECUTION_PROVIDER=gpu: this build of kino-node has no GPU path (cargo feature `gpu`)".into())
}

/// Frames either side that hold still noise still before the network (see `kernels::steady`).
pub const STEADY_RADIUS: usize = 2;

impl Stage for NeuralScale {
    fn name(&self) -> &'static str {
        "scale"
    }
    fn margin(&self) -> Margin {
        Margin {
            before: STEADY_RADIUS,
            after: STEADY_RADIUS,
        }
    }
    fn output_sar(&self, input: Sar) -> Sar {
        self.params.output_sar(input)
    }

    fn process(&mut self, window: &[&Frame], current: usize, _: i64) -> Result<Frame, StageError> {
        let f = window[current];
        let align = resize::alignment(f.layout);
        let (tw, th, _) = self
            .params
            .target(f.width as u32, f.height as u32, self.sar, align)?;
        let (tw, th) = (tw as usize, th as usize);
        let ratio = (tw as f64 / f.width as f64).max(th as f64 / f.height as f64);
        let filter = self.params.filter;
        let classic = |f: &Frame| resize::resize(f, tw, th, filter);
        if ratio <= 1.0 {
            return Ok(classic(f));
        }
        let scale = if ratio <= 2.0 { 2 } else { 4 };
        let blend = self.params.blend;
        let Some(net) = self.net(scale)? else {
            return Ok(classic(f));
        };
        let held = steady::steady(window, current, denoise::estimate_sigma(f));
        let up = upscale_frame(net, &held).map_err(|e| StageError::Failed {
            stage: "scale",
            message: e.to_string(),
        })?;
        let mut out = if (up.width, up.height) == (tw, th) {
            up
        } else {
            resize::resize(&up, tw, th, filter)
        };
        if blend > 0.0 {
            mix(&mut out, &resize::resize(f, tw, th, filter), blend);
        }
        Ok(out)
    }
}

/// `out = (1 − t)·out + t·other`, sample by sample.
fn mix(out: &mut Frame, other: &Frame, t: f32) {
    let max = out.max_value() as f32;
    for (p, q) in out.planes.iter_mut().zip(&other.planes) {
        let (a, b) = (p.to_f32(), q.to_f32());
        p.set_from_f32(a.iter().zip(&b).map(|(x, y)| x + (y - x) * t), max);
    }
}

/// The frame upscaled by the network's factor, in the frame's layout and depth.
pub fn upscale_frame(net: &mut SrNet, f: &Frame) -> Result<Frame, ModelError> {
    let s = net.scale;
    let m = Matrix::of(f);
    let gray = f.layout == ChromaLayout::Gray;
    let neutral = m.neutral();
    let (ow, oh) = (f.width * s, f.height * s);
    let mut out = Frame::new(ow, oh, f.layout, f.bit_depth, f.colour);
    let max = f.max_value() as f32;
    let (sx, sy) = f.layout.log2_subsampling();
    let fill = |x: usize, y: usize, tw: usize, th: usize, buf: &mut Vec<f32>| {
        buf.resize(3 * tw * th, 0.0);
        let plane = tw * th;
        for j in 0..th {
            for i in 0..tw {
                let (px, py) = (x + i, y + j);
                let yv = sample(&f.planes[0], px, py);
                let (u, v) = if gray {
                    (neutral, neutral)
                } else {
                    (
                        chroma_at(f, &f.planes[1], px, py),
                        chroma_at(f, &f.planes[2], px, py),
                    )
                };
                let rgb = m.to_rgb(yv, u, v);
                for (c, val) in rgb.iter().enumerate() {
                    buf[c * plane + j * tw + i] = *val;
                }
            }
        }
    };
    let planes = &mut out.planes;
    let emit = |y0: usize, rows: usize, data: &[f32]| -> Result<(), ModelError> {
        let px = |x: usize, y: usize| -> [f32; 3] {
            let i = ((y - y0) * ow + x) * 3;
            [data[i], data[i + 1], data[i + 2]]
        };
        for y in y0..y0 + rows {
            for x in 0..ow {
                let [yv, _, _] = m.to_yuv(px(x, y));
                store(&mut planes[0], y * ow + x, yv, max);
            }
        }
        if gray {
            return Ok(());
        }
        // Chroma: the mean colour of the luma pixels each chroma sample covers.
        let (bw, bh) = (1usize << sx, 1usize << sy);
        let cw = planes[1].width;
        for cy in (y0 / bh)..((y0 + rows).div_ceil(bh)) {
            for cx in 0..cw {
                let mut sum = [0.0f32; 3];
                let mut n = 0.0;
                for y in (cy * bh..(cy + 1) * bh).filter(|&y| y >= y0 && y < y0 + rows) {
                    for x in (cx * bw..(cx + 1) * bw).filter(|&x| x < ow) {
                        let p = px(x, y);
                        sum.iter_mut().zip(p).for_each(|(a, b)| *a += b);
                        n += 1.0;
                    }
                }
                let [_, u, v] = m.to_yuv(sum.map(|v| v / n));
                store(&mut planes[1], cy * cw + cx, u, max);
                store(&mut planes[2], cy * cw + cx, v, max);
            }
        }
        Ok(())
    };
    net.upscale(f.width, f.height, fill, emit)?;
    Ok(out)
}
