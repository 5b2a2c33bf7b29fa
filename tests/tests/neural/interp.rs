//! RIFE frame interpolation against FFmpeg's motion-compensated `minterpolate` and frame blending:
//! frames are dropped from real clips and restored, and the restored frames compared with the
//! dropped ones.

use super::config;
use kino_node::models::interp::RifeNet;
use kino_tests::*;
use std::path::{Path, PathBuf};

const W: usize = 320;
const H: usize = 180;

/// `count` frames from `start` of `clip` at 320×180, as RGB.
fn frames(clip: &Path, start: usize, count: usize) -> Vec<Vec<u8>> {
    let filter = format!("select='gte(n\\,{start})',scale={W}:{H}");
    let out = run(
        "ffmpeg",
        &[
            "-v",
            "error",
            "-i",
            s(clip),
            "-vf",
            &filter,
            "-vsync",
            "0",
            "-frames:v",
            &count.to_string(),
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-",
        ],
    );
    let frames: Vec<Vec<u8>> = out
        .stdout
        .chunks_exact(W * H * 3)
        .map(<[u8]>::to_vec)
        .collect();
    assert_eq!(frames.len(), count, "{}", clip.display());
    frames
}

/// PSNR over RGB, as FFmpeg's `psnr` filter computes it.
fn psnr(a: &[u8], b: &[u8]) -> f64 {
    let mse = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| (x as f64 - y as f64).powi(2))
        .sum::<f64>()
        / a.len() as f64;
    10.0 * (255.0f64 * 255.0 / mse.max(1e-10)).log10()
}

/// The frames of `kept` (1 fps) brought to `step` fps by an FFmpeg filter `filter`.
fn ffmpeg_restore(dir: &Path, kept: &[&Vec<u8>], step: usize, filter: &str) -> Vec<Vec<u8>> {
    let (src, dst) = (dir.join("kept.rgb"), dir.join("restored.rgb"));
    std::fs::write(
        &src,
        kept.iter()
            .flat_map(|f| f.iter().copied())
            .collect::<Vec<u8>>(),
    )
    .expect("write");
    let size = format!("{W}x{H}");
    let vf = format!("{filter}=fps={step}");
    let vf = if filter == "minterpolate" {
        format!("{vf}:mi_mode=mci:mc_mode=aobmc:me_mode=bidir")
    } else {
        vf
    };
    ffmpeg(&[
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "-s",
        &size,
        "-r",
        "1",
        "-i",
        s(&src),
        "-vf",
        &vf,
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        s(&dst),
    ]);
    let data = std::fs::read(&dst).expect("read");
    data.chunks_exact(W * H * 3).map(<[u8]>::to_vec).collect()
}

/// Clips with their own motion: the shared camera clips, or an antialiased picture panned by a
/// known amount (pure translation: minterpolate's block matching at its best; only the gain over
/// blending is required there).
fn clips() -> Vec<(String, PathBuf, usize)> {
    match shared_media() {
        Some(_) => vec![
            ("bikes".into(), medium("video_street_bikes_4cuts.mp4"), 40),
            (
                "cockatoo".into(),
                medium("video_cockatoo_handheld_shaky.mp4"),
                100,
            ),
            (
                "pedestrians".into(),
                medium("video_pedestrians_campus_vtest.avi"),
                200,
            ),
        ],
        None => vec![(
            "panned".into(),
            generated(
                "interp_pan.mp4",
                &[
                    "-f",
                    "lavfi",
                    "-i",
                    "mandelbrot=size=1920x1080:end_pts=1,scale=960:540:flags=area,loop=loop=50:size=1,fps=25,crop=640:360:x='n*6':y='n*3'",
                    "-t",
                    "2",
                    "-c:v",
                    "libx264",
                    "-crf",
                    "12",
                    "-pix_fmt",
                    "yuv420p",
                ],
            ),
            0,
        )],
    }
}

#[test]
fn rife_restores_dropped_frames_better_than_minterpolate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut net = RifeNet::open(&config(), W, H, 2).expect("RIFE model");
    let mut gains = Vec::new();
    for (name, clip, start) in clips() {
        let all = frames(&clip, start, 13);
        // Keep every `step`-th frame and restore the others at t = k/step.
        for step in [2usize, 3] {
            let kept: Vec<&Vec<u8>> = all.iter().step_by(step).collect();
            let mci = ffmpeg_restore(dir.path(), &kept, step, "minterpolate");
            let blend = ffmpeg_restore(dir.path(), &kept, step, "framerate");
            let (mut ours, mut theirs, mut blended, mut n) = (0.0, 0.0, 0.0, 0.0);
            for (i, truth) in all.iter().enumerate().filter(|(i, _)| i % step != 0) {
                let (k, t) = (i / step, (i % step) as f32 / step as f32);
                if k + 1 >= kept.len() || i >= mci.len() || i >= blend.len() {
                    continue;
                }
                let mid = net
                    .interpolate_rgb8(W, H, kept[k], kept[k + 1], t)
                    .expect("interpolate");
                ours += psnr(&mid, truth);
                theirs += psnr(&mci[i], truth);
                blended += psnr(&blend[i], truth);
                n += 1.0;
            }
            let (ours, theirs, blended) = (ours / n, theirs / n, blended / n);
            println!(
                "{name} 1/{step}: RIFE {ours:.2} dB, minterpolate {theirs:.2} dB, blend {blended:.2} dB ({n} frames)"
            );
            if shared_media().is_some() {
                assert!(
                    ours > theirs,
                    "{name} 1/{step}: RIFE {ours:.2} ≤ minterpolate {theirs:.2}"
                );
            } else {
                assert!(
                    ours > blended + 3.0,
                    "{name} 1/{step}: RIFE {ours:.2}, blend {blended:.2}"
                );
            }
            gains.push(ours - theirs);
        }
    }
    let mean = gains.iter().sum::<f64>() / gains.len() as f64;
    println!("mean gain over minterpolate: {mean:.2} dB");
    if shared_media().is_some() {
        assert!(mean >= 1.5, "{mean:.2} dB");
    }
}

#[test]
fn interpolate_cli_refuses_bad_input_clearly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = generated(
        "interp_a.png",
        &["-f", "lavfi", "-i", "testsrc2=size=64x48", "-frames:v", "1"],
    );
    let b = generated(
        "interp_b.png",
        &["-f", "lavfi", "-i", "testsrc2=size=32x48", "-frames:v", "1"],
    );
    let out = dir.path().join("mid.png");
    let o = kino(&["interpolate", s(&a), s(&b), "-o", s(&out)]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("differ in size"), "{err}");
    let o = kino(&["interpolate", s(&a), s(&a), "-o", s(&out), "--time", "1.5"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("--time must be within 0…1"));
    let o = std::process::Command::new(kino_bin())
        .args(["interpolate", s(&a), s(&a), "-o", s(&out)])
        .env("KINO_MODELS_DIR", dir.path().join("none"))
        .env_remove("ORT_DYLIB_PATH")
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("scripts/setup.sh"),
        "{err}"
    );
}
