//! Independent measurements through the `ffmpeg`/`ffprobe` command line: frames, timestamps,
//! durations, decoded sound, picture quality and loudness.

use crate::{run, s};
use serde_json::Value;
use std::path::Path;

/// Mono samples (full scale ±1) of the first audio stream of `path` at `rate`, decoded by the
/// ffmpeg CLI.
pub fn mono_pcm(path: &Path, rate: u32) -> Vec<f32> {
    let r = rate.to_string();
    let out = run(
        "ffmpeg",
        &[
            "-v",
            "error",
            "-i",
            s(path),
            "-map",
            "0:a:0",
            "-ac",
            "1",
            "-ar",
            &r,
            "-f",
            "f32le",
            "-",
        ],
    );
    out.stdout
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// `ffmpeg -v error -y ARGS`.
pub fn ffmpeg(args: &[&str]) {
    let mut all = vec!["-hide_banner", "-v", "error", "-y"];
    all.extend_from_slice(args);
    run("ffmpeg", &all);
}

/// ffprobe's JSON for `entries` of `path`.
pub fn ffprobe_json(path: &Path, extra: &[&str]) -> Value {
    let p = path.to_str().expect("utf-8 path");
    let mut args = vec!["-v", "error", "-of", "json"];
    args.extend_from_slice(extra);
    args.push(p);
    let out = run("ffprobe", &args);
    serde_json::from_slice(&out.stdout).expect("ffprobe json")
}

/// Decoded video frame count, counted by ffprobe.
pub fn count_frames(path: &Path) -> u64 {
    let v = ffprobe_json(
        path,
        &[
            "-count_frames",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=nb_read_frames",
        ],
    );
    v["streams"][0]["nb_read_frames"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("nb_read_frames")
}

/// Presentation times (seconds) of every decoded video frame.
pub fn frame_times(path: &Path) -> Vec<f64> {
    let v = ffprobe_json(
        path,
        &[
            "-select_streams",
            "v:0",
            "-show_entries",
            "frame=best_effort_timestamp_time",
        ],
    );
    v["frames"]
        .as_array()
        .expect("frames")
        .iter()
        .filter_map(|f| {
            f["best_effort_timestamp_time"]
                .as_str()
                .and_then(|s| s.parse().ok())
        })
        .collect()
}

/// A stream's duration in seconds as ffprobe reports it (`v:0`, `a:0`…).
pub fn stream_duration(path: &Path, sel: &str) -> f64 {
    let v = ffprobe_json(
        path,
        &[
            "-select_streams",
            sel,
            "-show_entries",
            "stream=duration:stream_tags=DURATION",
        ],
    );
    let st = &v["streams"][0];
    if let Some(d) = st["duration"].as_str().and_then(|s| s.parse().ok()) {
        return d;
    }
    // Matroska keeps it as a tag, "HH:MM:SS.nnnnnnnnn".
    let tag = st["tags"]["DURATION"].as_str().expect("stream duration");
    tag.split(':').fold(0.0, |acc, part| {
        acc * 60.0 + part.parse::<f64>().expect("duration tag")
    })
}

pub fn stream_start(path: &Path, sel: &str) -> f64 {
    let v = ffprobe_json(
        path,
        &["-select_streams", sel, "-show_entries", "stream=start_time"],
    );
    v["streams"][0]["start_time"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.0)
}

/// MD5 of every decoded video frame (FFmpeg's framemd5 muxer), in presentation order.
pub fn frame_md5s(path: &Path) -> Vec<String> {
    let out = run(
        "ffmpeg",
        &[
            "-v",
            "error",
            "-i",
            path.to_str().expect("utf-8"),
            "-map",
            "0:v:0",
            "-fps_mode",
            "passthrough",
            "-f",
            "framemd5",
            "-",
        ],
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit(',').next().map(|s| s.trim().to_owned()))
        .collect()
}

/// PSNR (dB, luma+chroma average as FFmpeg reports it) and SSIM (all) of `a` against `reference`.
pub fn psnr_ssim(a: &Path, reference: &Path) -> (f64, f64) {
    let out = run(
        "ffmpeg",
        &[
            "-hide_banner",
            "-i",
            s(a),
            "-i",
            s(reference),
            "-lavfi",
            "[0:v][1:v]psnr;[0:v][1:v]ssim",
            "-f",
            "null",
            "-",
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    let grab = |key: &str| -> f64 {
        err.lines()
            .rev()
            .find_map(|l| {
                let i = l.find(key)?;
                l[i + key.len()..]
                    .split_whitespace()
                    .next()?
                    .parse::<f64>()
                    .ok()
            })
            .unwrap_or_else(|| panic!("no {key} in ffmpeg output:\n{err}"))
    };
    (grab("average:"), grab("All:"))
}

/// Integrated loudness (LUFS), loudness range (LU) and true peak (dBTP) of the first audio stream,
/// as FFmpeg's ebur128 filter measures them.
pub fn ebur128_summary(path: &Path) -> [f64; 3] {
    let out = std::process::Command::new("ffmpeg")
        .args([
            "-nostats",
            "-i",
            s(path),
            "-map",
            "0:a:0",
            "-af",
            "ebur128=peak=true",
            "-f",
            "null",
            "-",
        ])
        .output()
        .expect("ffmpeg");
    let text = String::from_utf8_lossy(&out.stderr);
    let summary = text.split("Summary:").nth(1).expect("ebur128 summary");
    let value = |key: &str| -> f64 {
        summary
            .lines()
            .find(|l| l.trim_start().starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{key} missing in {summary}"))
    };
    [value("I:"), value("LRA:"), value("Peak:")]
}

/// Integrated loudness (LUFS) and true peak (dBTP) of the first audio stream, by FFmpeg's meter.
pub fn ebur128(path: &Path) -> (f64, f64) {
    let [i, _, peak] = ebur128_summary(path);
    (i, peak)
}
