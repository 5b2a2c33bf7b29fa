//! The GPU path alone, for a bare GPU machine (no FFmpeg, no ONNX Runtime): runs an ONNX network
//! on raw RGB24 frames and prints milliseconds per frame.
//!
//! gpu_bench MODEL.onnx WIDTH HEIGHT [REPEAT] [IN.rgb] [OUT.rgb]
//! Without IN.rgb a synthetic picture is used. KINO_GPU_ALLOW_SOFTWARE=1 allows lavapipe;
//! KINO_GPU_PRECISION=fp16|fp32 (default fp16 where the GPU has it).

use kino_gpu::{Gpu, Net};
use std::sync::Arc;
use std::time::Instant;

fn main() {
    if let Err(e) = run() {
        eprintln!("gpu_bench: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        return Err("usage: gpu_bench MODEL.onnx WIDTH HEIGHT [REPEAT] [IN.rgb] [OUT.rgb]".into());
    }
    let (w, h): (usize, usize) = (args[2].parse()?, args[3].parse()?);
    let repeat: usize = args.get(4).map(|r| r.parse()).transpose()?.unwrap_or(5);
    let rgb = match args.get(5) {
        Some(p) => std::fs::read(p)?,
        None => (0..w * h * 3)
            .map(|i| {
                let (x, y, c) = ((i / 3) % w, (i / 3) / w, i % 3);
                ((x * 7 + y * 3 + c * 85) % 256) as u8 ^ (((x / 8 + y / 8) % 2) * 96) as u8
            })
            .collect(),
    };
    if rgb.len() != w * h * 3 {
        return Err(format!("{} bytes of RGB for {w}x{h}", rgb.len()).into());
    }
    let t = Instant::now();
    let gpu = Arc::new(Gpu::open(kino_gpu::GpuChoice::from_env())?);
    println!(
        "adapter: {} (opened in {:.0} ms)",
        gpu.adapter,
        t.elapsed().as_secs_f64() * 1e3
    );
    let t = Instant::now();
    let precision = kino_gpu::Precision::from_env(&gpu)?;
    let net = Net::load(gpu, std::path::Path::new(&args[1]), precision)?;
    println!(
        "model: {} in {} (loaded in {:.0} ms)",
        net.name,
        precision.name(),
        t.elapsed().as_secs_f64() * 1e3
    );
    let mut planar = vec![0f32; w * h * 3];
    for (i, p) in rgb.chunks_exact(3).enumerate() {
        for c in 0..3 {
            planar[c * w * h + i] = p[c] as f32 / 255.0;
        }
    }
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..repeat.max(1) {
        let t = Instant::now();
        last = Some(net.run(&planar, [1, 3, h, w])?);
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let (out, shape) = last.ok_or("no run")?;
    let first = times[0];
    times.sort_by(f64::total_cmp);
    println!(
        "{w}x{h} -> {}x{}: first {first:.1} ms, median {:.1} ms/frame over {} runs",
        shape[3],
        shape[2],
        times[times.len() / 2],
        times.len()
    );
    if let Some(p) = args.get(6) {
        let (oh, ow) = (shape[2], shape[3]);
        let mut bytes = vec![0u8; oh * ow * 3];
        for (i, px) in bytes.chunks_exact_mut(3).enumerate() {
            for c in 0..3 {
                px[c] = (out[c * oh * ow + i] * 255.0 + 0.5).clamp(0.0, 255.0) as u8;
            }
        }
        std::fs::write(p, bytes)?;
    }
    Ok(())
}
