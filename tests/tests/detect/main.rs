//! Detection and tracking end to end, on real ONNX Runtime with the models `scripts/models.sh`
//! converts (NanoDet-m, CenterFace), real FFmpeg and real media: people counted on the campus clip
//! against counts read off its frames, ids kept on a synthetic sequence with crossings, the same
//! tracks whatever the chunking, faces blurred in the output, and clear errors for bad models.

#[path = "../common/mod.rs"]
mod common;

mod blur_and_boxes;
mod model_files;
mod people;
mod tracking;

use kino_node::models::Config;
use kino_tests::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn models_dir() -> PathBuf {
    models_dir_with(&["nanodet-m.onnx"])
}

fn config() -> Config {
    let dir = models_dir();
    Config {
        dylib: dir.join("libonnxruntime.so"),
        dir,
        provider: kino_node::models::Provider::Cpu,
    }
}

/// `kino-node ARGS…` with the repository's models; returns (success, stdout, stderr).
fn kino_models(args: &[&str], models: &Path) -> (bool, String, String) {
    let o = Command::new(kino_bin())
        .args(args)
        .env("KINO_MODELS_DIR", models)
        .output()
        .expect("running kino-node");
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Tracks of `input` by `kino-node detect` as the JSON report.
fn detect(input: &Path, settings: &str, extra: &[&str]) -> Value {
    let dir = tempfile::tempdir().expect("tempdir");
    let json = dir.path().join("tracks.json");
    let mut args = vec![
        "detect",
        s(input),
        "--settings",
        settings,
        "--tracks",
        s(&json),
    ];
    args.extend_from_slice(extra);
    let (ok, _, err) = kino_models(&args, &models_dir());
    assert!(ok, "detect failed: {err}");
    serde_json::from_slice(&std::fs::read(&json).expect("tracks written")).expect("tracks JSON")
}

/// A ground-truth object of the synthetic sequence: its crop's size and position at time `t`.
struct Walker {
    name: &'static str,
    w: f64,
    h: f64,
    at: fn(f64) -> (f64, f64),
}

/// Three people cut from frame 600 of the campus clip (where NanoDet finds each of them), moved
/// over a noisy grey background at 25 fps for 6 s (a keyframe every second): A (in front) and B walk
/// towards each other and cross, B entirely hidden behind A for a few frames; C walks behind a
/// pillar. Returns the clip, the walkers' paths and the pillar.
fn walkers_clip(media: &Path) -> (PathBuf, [Walker; 3], [f64; 4]) {
    let campus = media.join("video_pedestrians_campus_vtest.avi");
    let crop = |name: &str, c: &str| {
        generated(
            name,
            &[
                "-i",
                s(&campus),
                "-vf",
                &format!("select=eq(n\\,600),crop={c}"),
                "-frames:v",
                "1",
            ],
        )
    };
    let (a, b, c) = (
        crop("walker_a.png", "62:120:448:299"),
        crop("walker_b.png", "40:112:636:302"),
        crop("walker_c.png", "44:92:667:206"),
    );
    let walkers = [
        Walker {
            name: "A",
            w: 62.0,
            h: 120.0,
            at: |t| (40.0 + 90.0 * t, 40.0),
        },
        Walker {
            name: "B",
            w: 40.0,
            h: 112.0,
            at: |t| (560.0 - 90.0 * t, 50.0),
        },
        Walker {
            name: "C",
            w: 44.0,
            h: 92.0,
            at: |t| (600.0 - 100.0 * t, 220.0),
        },
    ];
    let pillar = [300.0, 180.0, 60.0, 180.0];
    let clip = generated(
        "walkers.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "color=c=0x787878:s=640x360:r=25:d=6",
            "-loop",
            "1",
            "-i",
            s(&a),
            "-loop",
            "1",
            "-i",
            s(&b),
            "-loop",
            "1",
            "-i",
            s(&c),
            "-filter_complex",
            "[0]noise=alls=8:allf=t[bg];[bg][2]overlay=x='560-90*t':y=50:shortest=1[v1];\
             [v1][1]overlay=x='40+90*t':y=40:shortest=1[v2];\
             [v2][3]overlay=x='600-100*t':y=220:shortest=1[v3];\
             [v3]drawbox=x=300:y=180:w=60:h=180:color=0x404060:t=fill[v]",
            "-map",
            "[v]",
            "-t",
            "6",
            "-c:v",
            "libx264",
            "-g",
            "25",
            "-pix_fmt",
            "yuv420p",
            "-preset",
            "ultrafast",
            "-crf",
            "12",
        ],
    );
    (clip, walkers, pillar)
}
