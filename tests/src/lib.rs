//! Helpers for the end-to-end tests: locating the `kino-node` binary, the shared test media (or
//! generating equivalents with FFmpeg's synthetic sources), and independent measurements through the
//! `ffmpeg`/`ffprobe` command line.
//!
//! Everything is re-exported here, so tests use `kino_tests::X` whichever module `X` lives in:
//! `media` (test media, shared or generated), `probe` (measurements by `ffmpeg`/`ffprobe`), `node`
//! (running `kino-node`: commands, events, `serve`), `frames` (YUV4MPEG2 frames, noise, motion) and
//! `postgres` (a PostgreSQL server of the tests' own).

mod frames;
mod media;
pub mod montage;
mod node;
mod postgres;
mod probe;

pub use frames::{add_noise_y4m, decoded_frames, jitter, read_y4m, rms, video_motion, write_y4m};
pub use media::{cache_dir, generated, medium, shared_media};
pub use node::{events_of, kill_when, kino, limit_file_size, render, tus_js, Node};
pub use postgres::Postgres;
pub use probe::{
    count_frames, ebur128, ebur128_summary, ffmpeg, ffprobe_json, frame_md5s, frame_times,
    mono_pcm, psnr_ssim, stream_duration, stream_start,
};

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_owned()
}

/// The `kino-node` binary of this build (built on first use if missing).
pub fn kino_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let exe = std::env::current_exe().expect("test exe");
        let dir = exe
            .parent()
            .and_then(|d| d.parent())
            .expect("target dir")
            .to_owned();
        let bin = dir.join("kino-node");
        let profile_release = dir.ends_with("release");
        let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        cmd.args(["build", "-q", "-p", "kino-node", "--bin", "kino-node"])
            .current_dir(root());
        if profile_release {
            cmd.arg("--release");
        }
        let st = cmd.status().expect("running cargo build");
        assert!(st.success(), "building kino-node failed");
        assert!(
            bin.is_file(),
            "kino-node binary missing at {}",
            bin.display()
        );
        bin
    })
    .clone()
}

/// A path as the `&str` command lines take.
pub fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// The Python of the reference tools' virtualenv (`scripts/test-tools.sh` makes it; the test command
/// runs that first).
pub fn tools_python() -> PathBuf {
    let py = root().join(".venv-tools/bin/python");
    assert!(
        py.is_file(),
        "{} missing: run `bash scripts/test-tools.sh` (the test command does)",
        py.display()
    );
    py
}

/// Runs a command, panicking with its stderr when it fails.
pub fn run(cmd: &str, args: &[&str]) -> Output {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(
        out.status.success(),
        "{cmd} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// SHA-256 of a file, hex.
pub fn sha256_file(path: &Path) -> String {
    let out = run("sha256sum", &[path.to_str().expect("utf-8")]);
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .expect("sha")
        .to_owned()
}

/// The workspace's `models/` folder, asserting it holds ONNX Runtime and each of `files` (the set-up
/// puts them there; the test command runs it).
pub fn models_dir_with(files: &[&str]) -> PathBuf {
    let dir = root().join("models");
    for f in std::iter::once(&"libonnxruntime.so").chain(files) {
        assert!(
            dir.join(f).is_file(),
            "{} has no {f}: run `bash scripts/setup.sh` (the test command does)",
            dir.display()
        );
    }
    dir
}

/// A TCP port free on 127.0.0.1 right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}
