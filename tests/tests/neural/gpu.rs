//! The GPU path (wgpu, crate kino-gpu) on Mesa's software Vulkan driver, lavapipe: the same
//! networks as ONNX Runtime on the CPU give the same pictures, a render with
//! `KINO_EXECUTION_PROVIDER=gpu` gives the CPU render's frames, and a missing GPU is a clear error.

use super::{config, models_dir, originals, rgb};
use kino_gpu::{Gpu, GpuChoice, Net, Precision};
use kino_node::models::Model;
use kino_tests::*;
use std::process::Command;
use std::sync::Arc;

/// lavapipe, allowed as the tests allow it, and on Vulkan (not a GL fallback).
fn lavapipe() -> Arc<Gpu> {
    let gpu = Gpu::open(GpuChoice {
        allow_software: true,
    })
    .expect("a Vulkan adapter (mesa-vulkan-drivers, installed by scripts/setup.sh)");
    assert!(gpu.adapter.contains("Vulkan"), "{}", gpu.adapter);
    Arc::new(gpu)
}

#[test]
fn super_resolution_on_vulkan_equals_onnx_runtime() {
    let gpu = lavapipe();
    println!("adapter: {}", gpu.adapter);
    let dir = tempfile::tempdir().expect("tempdir");
    // A real photo, small: lavapipe runs the shaders on these two cores.
    let lr = dir.path().join("lr.png");
    let hr = &originals()[0].1;
    ffmpeg(&["-i", s(hr), "-vf", "scale=38:30:flags=area", s(&lr)]);
    let (w, h, px) = rgb(&lr);
    let mut planar = vec![0f32; w * h * 3];
    for (i, p) in px.chunks_exact(3).enumerate() {
        for c in 0..3 {
            planar[c * w * h + i] = p[c] as f32 / 255.0;
        }
    }
    for (file, scale) in [
        ("realesr-animevideov3-x2.onnx", 2),
        ("realesr-animevideov3-x4.onnx", 4),
        ("span-x2.onnx", 2),
        ("span-x4.onnx", 4),
    ] {
        let mut cpu = Model::load(&config(), file, 0).expect("ONNX Runtime model");
        let (want, want_shape) = cpu.run(planar.clone(), h, w).expect("CPU run");
        for precision in [Precision::F32, Precision::F16] {
            let net =
                Net::load(gpu.clone(), &models_dir().join(file), precision).expect("GPU model");
            let t = std::time::Instant::now();
            let (got, shape) = net.run(&planar, [1, 3, h, w]).expect("GPU run");
            let ms = t.elapsed().as_secs_f64() * 1e3;
            assert_eq!(shape, want_shape, "{file}");
            assert_eq!(shape, [1, 3, h * scale, w * scale]);
            let max = got
                .iter()
                .zip(&want)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            // As 8-bit pictures: the largest difference and the PSNR.
            let q = |v: f32| (v * 255.0 + 0.5).clamp(0.0, 255.0) as u8;
            let (mut lsb, mut sq) = (0u8, 0f64);
            for (a, b) in got.iter().zip(&want) {
                let d = q(*a).abs_diff(q(*b));
                lsb = lsb.max(d);
                sq += (d as f64).powi(2);
            }
            let psnr = 10.0 * (255f64.powi(2) / (sq / got.len() as f64).max(1e-12)).log10();
            println!(
                "{file} {}: {w}x{h} ×{scale} in {ms:.0} ms; from ONNX Runtime: max {max:.2e} of full scale, {lsb} LSB, {psnr:.1} dB",
                precision.name()
            );
            match precision {
                Precision::F32 => assert!(max <= 1e-3, "{file}: {max}"),
                Precision::F16 => assert!(psnr >= 50.0 && lsb <= 4, "{file}: {psnr} dB, {lsb} LSB"),
            }
        }
    }
}

/// `kino-node render` of `clip` ×2 with `fast`, losslessly encoded, with `env`; its events.
fn render(clip: &std::path::Path, out: &std::path::Path, env: &[(&str, &str)]) -> Vec<String> {
    let data = out.with_extension("data");
    let mut cmd = Command::new(kino_bin());
    cmd.args(["render", s(clip), "-o", s(out), "--data-dir", s(&data)])
        .args(["--preset", "ultrafast", "--crf", "0", "--events"])
        .args(["--chunk-seconds", "0.3"])
        .args(["--stage", "scale:factor=2,model=fast"])
        .env("KINO_MODELS_DIR", models_dir());
    for (k, v) in env {
        cmd.env(k, v);
    }
    // lavapipe alone, whatever GPU the machine has.
    cmd.env("VK_ICD_FILENAMES", icds(true, out.parent().unwrap_or(out)));
    let o = cmd.output().expect("render");
    assert!(
        o.status.success(),
        "render {env:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_render_on_the_gpu_gives_the_cpu_render_frames() {
    let _ = lavapipe();
    let dir = tempfile::tempdir().expect("tempdir");
    let clip = generated(
        "gpu_clip.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=48x32:rate=10:duration=0.6",
            "-pix_fmt",
            "yuv420p",
            "-c:v",
            "libx264",
            "-g",
            "3",
        ],
    );
    let (cpu, gpu) = (dir.path().join("cpu.mp4"), dir.path().join("gpu.mp4"));
    render(&clip, &cpu, &[("KINO_EXECUTION_PROVIDER", "cpu")]);
    let events = render(
        &clip,
        &gpu,
        &[
            ("KINO_EXECUTION_PROVIDER", "gpu"),
            ("KINO_GPU_ALLOW_SOFTWARE", "1"),
            ("KINO_GPU_PRECISION", "fp32"),
        ],
    );
    // The job says where it runs.
    let note = events
        .iter()
        .find(|l| l.contains("\"note\"") && l.contains("runs on the GPU"));
    assert!(
        note.is_some_and(|n| n.contains("llvmpipe") && n.contains("Vulkan")),
        "{events:?}"
    );
    let chunks = events
        .iter()
        .filter(|l| l.contains("\"chunk_done\""))
        .count();
    assert!(chunks >= 2, "rendered in {chunks} chunks: {events:?}");
    let (a, b) = (decoded_frames(&cpu), decoded_frames(&gpu));
    assert_eq!(a.len(), 6);
    assert_eq!(b.len(), a.len());
    for f in &a {
        assert_eq!((f.width, f.height), (96, 64));
    }
    let (max, differing, total, _) = difference(&a, &b);
    println!("GPU render vs CPU render: max {max} LSB, {differing} of {total} samples differ");
    assert!(max <= 1.0, "{max}");
    // In fp16 (the default where the GPU has it): within the fp16 tolerance.
    let half = dir.path().join("gpu16.mp4");
    let events = render(
        &clip,
        &half,
        &[
            ("KINO_EXECUTION_PROVIDER", "gpu"),
            ("KINO_GPU_ALLOW_SOFTWARE", "1"),
        ],
    );
    assert!(events.iter().any(|l| l.contains("in fp16")), "{events:?}");
    let c = decoded_frames(&half);
    let (max16, _, _, psnr) = difference(&a, &c);
    println!("GPU render in fp16 vs CPU render: {psnr:.1} dB, max {max16} LSB");
    assert!(psnr >= 50.0 && max16 <= 4.0, "{psnr} dB, {max16} LSB");
}

/// Two renders' frames sample by sample: the largest difference (levels), how many samples differ
/// of how many, and the PSNR.
fn difference(a: &[kino_shared::Frame], b: &[kino_shared::Frame]) -> (f32, usize, usize, f64) {
    let (mut max, mut differing, mut count, mut sq) = (0f32, 0usize, 0usize, 0f64);
    for (fa, fb) in a.iter().zip(b) {
        for (pa, pb) in fa.planes.iter().zip(&fb.planes) {
            for (x, y) in pa.to_f32().into_iter().zip(pb.to_f32()) {
                max = max.max((x - y).abs());
                differing += (x != y) as usize;
                sq += ((x - y) as f64).powi(2);
                count += 1;
            }
        }
    }
    let psnr = 10.0 * (255f64.powi(2) / (sq / count as f64).max(1e-12)).log10();
    (max, differing, count, psnr)
}

/// A Vulkan ICD file list with only lavapipe, or with no driver at all: the machine's own GPUs,
/// if it has any, are hidden either way.
fn icds(lavapipe_only: bool, dir: &std::path::Path) -> String {
    if !lavapipe_only {
        return s(&dir.join("no-such-icd.json")).to_owned();
    }
    let found = std::fs::read_dir("/usr/share/vulkan/icd.d")
        .expect("Vulkan ICD files (mesa-vulkan-drivers)")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("lvp_icd"))
        });
    s(&found.expect("lavapipe's ICD file")).to_owned()
}

#[test]
fn asking_for_a_gpu_that_is_not_there_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lr = dir.path().join("lr.png");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=32x32",
        "-frames:v",
        "1",
        s(&lr),
    ]);
    let clip = generated(
        "gpu_missing.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=48x32:rate=10:duration=0.3",
        ],
    );
    // No Vulkan driver at all; then only a software one, refused outside the tests.
    for (lavapipe_only, says) in [
        (false, "no Vulkan, Metal or DX12 adapter found"),
        (true, "only software adapters found (llvmpipe"),
    ] {
        let icd = icds(lavapipe_only, dir.path());
        // `kino-node ARGS` asking for the GPU with only `icd`'s drivers: it fails, saying why.
        let refused = |args: &[&str]| {
            let o = Command::new(kino_bin())
                .args(args)
                .env("KINO_MODELS_DIR", models_dir())
                .env("KINO_EXECUTION_PROVIDER", "gpu")
                .env("VK_ICD_FILENAMES", &icd)
                .env_remove("KINO_GPU_ALLOW_SOFTWARE")
                .output()
                .expect("kino-node");
            let err = String::from_utf8_lossy(&o.stderr).into_owned();
            println!("{err}");
            assert!(!o.status.success());
            assert!(
                err.contains("no GPU for KINO_EXECUTION_PROVIDER=gpu") && err.contains(says),
                "{err}"
            );
        };
        refused(&["upscale", s(&lr), "-o", s(&dir.path().join("up.png"))]);
        // A render is refused before any frame, not rendered on the CPU.
        let out = dir.path().join("out.mp4");
        let data = dir.path().join("data");
        refused(&[
            "render",
            s(&clip),
            "-o",
            s(&out),
            "--data-dir",
            s(&data),
            "--stage",
            "scale:factor=2,model=fast",
        ]);
        assert!(!out.exists(), "an output was written");
    }
}
