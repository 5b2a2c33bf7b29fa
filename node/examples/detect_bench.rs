//! ONNX Runtime (through Kino's runner) against tract on the same detection networks and the same
//! input, in one run: NanoDet-m at 416×416 and CenterFace at 640×480 (a 4:3 frame brought to 640), ms per inference (best of
//! `--repeat`), and the largest output difference between the two engines.
//!
//! usage: cargo run --release -p kino-node --features tract --example detect_bench -- PICTURE [REPEAT]

use kino_node::models::{Config, Model};
use std::time::Instant;
use tract_onnx::prelude::*;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let picture = args
        .get(1)
        .ok_or_else(|| anyhow::anyhow!("usage: detect_bench PICTURE [REPEAT]"))?;
    let repeat: usize = args
        .get(2)
        .map(|r| r.parse())
        .transpose()?
        .unwrap_or(5)
        .max(1);
    kino_node::media::init();
    let pic = kino_node::media::still::read_rgb(std::path::Path::new(picture))?;
    let cfg = Config::from_env()?;
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    println!("== detection networks, ort (ONNX Runtime 1.32, CPU) vs tract-onnx 0.23, {cores} cores, best of {repeat}");
    // NanoDet: its own normalisation; CenterFace: BGR 0..255.
    let nanodet = tensor(&pic, 416, 416, |c, v| {
        (v - [103.53, 116.28, 123.675][c]) / [57.375, 57.12, 58.395][c]
    });
    let centerface = tensor(&pic, 640, 480, |_, v| v);
    for (file, input, (w, h)) in [
        ("nanodet-m.onnx", nanodet, (416, 416)),
        ("centerface.onnx", centerface, (640, 480)),
    ] {
        let shape = [1usize, 3, h, w];
        let mut ort_times = Vec::new();
        let mut ort_out = Vec::new();
        for threads in [1, 0] {
            let mut model = Model::load_any(&cfg, file, threads)?;
            let mut best = f64::MAX;
            for _ in 0..repeat {
                let t = Instant::now();
                ort_out = model.run_all(input.clone(), &shape)?;
                best = best.min(t.elapsed().as_secs_f64() * 1000.0);
            }
            ort_times.push(best);
        }
        let plan = tract_onnx::onnx()
            .model_for_path(cfg.dir.join(file))?
            .with_input_fact(0, f32::fact(shape).into())?
            .into_optimized()?
            .into_runnable()?;
        let tensor: Tensor = tract_ndarray::Array4::from_shape_vec(shape, input.clone())?.into();
        let mut best = f64::MAX;
        let mut tract_out = TVec::new();
        for _ in 0..repeat {
            let t = Instant::now();
            tract_out = plan.run(tvec!(tensor.clone().into()))?;
            best = best.min(t.elapsed().as_secs_f64() * 1000.0);
        }
        let mut diff = 0.0f32;
        for ((_, a), b) in ort_out.iter().zip(&tract_out) {
            let b = b.to_plain_array_view::<f32>()?;
            diff = a
                .iter()
                .zip(b.iter())
                .fold(diff, |m, (x, y)| m.max((x - y).abs()));
        }
        println!(
            "{file:<16} {w}x{h}: ort 1 thread {:7.1} ms ({:5.1} fps), ort {cores} threads {:7.1} ms ({:5.1} fps), \
             tract {:7.1} ms ({:5.1} fps) = {:.1}x ort 1 thread; max |ort - tract| {diff:.1e}",
            ort_times[0],
            1000.0 / ort_times[0],
            ort_times[1],
            1000.0 / ort_times[1],
            best,
            1000.0 / best,
            best / ort_times[0]
        );
    }
    Ok(())
}

/// The picture stretched to `w`×`h` (nearest sample), planar B, G, R on 0..255 through `norm`.
fn tensor(
    pic: &kino_node::media::still::Rgb8,
    w: usize,
    h: usize,
    norm: impl Fn(usize, f32) -> f32,
) -> Vec<f32> {
    let mut out = vec![0.0f32; 3 * w * h];
    for y in 0..h {
        for x in 0..w {
            let (sx, sy) = (x * pic.width / w, y * pic.height / h);
            let p = &pic.data[(sy * pic.width + sx) * 3..(sy * pic.width + sx) * 3 + 3];
            for c in 0..3 {
                out[c * w * h + y * w + x] = norm(c, p[2 - c] as f32);
            }
        }
    }
    out
}
