//! Audio stages end to end: loudness normalisation measured by an independent meter (FFmpeg's
//! `ebur128` filter) on real speech, speech denoise (RNNoise, DeepFilterNet3) against FFmpeg's
//! filters, and sync of external recordings.

#[path = "../common/mod.rs"]
mod common;

mod bench;
mod denoise;
mod loudness;
mod sync;

use kino_tests::*;
use std::path::{Path, PathBuf};

/// A video with `audio` as its sound track.
fn with_picture(audio: &Path, name: &str) -> PathBuf {
    generated(
        name,
        &[
            "-f",
            "lavfi",
            "-i",
            "color=c=gray:size=160x120:rate=10",
            "-i",
            s(audio),
            "-shortest",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-c:a",
            "aac",
            "-b:a",
            "160k",
        ],
    )
}

/// A short video without an audio stream.
fn mute_clip() -> PathBuf {
    generated(
        "mute.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=160x120:rate=10:duration=2",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
        ],
    )
}

/// Writes mono samples at `rate` as a 32-bit float WAV.
fn write_wav(path: &Path, x: &[f32], rate: u32) {
    let raw = path.with_extension("f32");
    let bytes: Vec<u8> = x.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(&raw, bytes).expect("writing raw samples");
    let r = rate.to_string();
    ffmpeg(&[
        "-f",
        "f32le",
        "-ar",
        &r,
        "-ac",
        "1",
        "-i",
        s(&raw),
        "-c:a",
        "pcm_f32le",
        s(path),
    ]);
    let _ = std::fs::remove_file(raw);
}

/// A small video with `audio` as its sound kept losslessly (FLAC in Matroska).
fn lossless_clip(audio: &Path, out: &Path) {
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "color=c=gray:size=160x120:rate=10",
        "-i",
        s(audio),
        "-shortest",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-c:a",
        "flac",
        "-sample_fmt",
        "s32",
        s(out),
    ]);
}

fn power(x: &[f32]) -> f64 {
    x.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / x.len().max(1) as f64
}

/// The lag (within ±`max`) at which `y[t + lag]` best matches `x[t]`, by brute-force
/// cross-correlation over a few seconds from the middle.
fn best_lag(x: &[f32], y: &[f32], max: i64) -> i64 {
    let n = x.len().min(y.len()) as i64;
    let (from, to) = (n / 3, (n / 3 + 96_000).min(n - max));
    (-max..=max)
        .max_by(|&a, &b| {
            let c = |l: i64| -> f64 {
                (from.max(-l)..to)
                    .map(|t| x[t as usize] as f64 * y[(t + l) as usize] as f64)
                    .sum()
            };
            c(a).total_cmp(&c(b))
        })
        .unwrap_or(0)
}

/// SNR (dB) of `y` against the clean `x` after aligning it (the lag found is returned too).
/// Half a second at either end is left out (fades of the filters).
fn snr_db(x: &[f32], y: &[f32], rate: u32) -> (f64, i64) {
    // ±33 ms: FFmpeg's afftdn leaves its 25 ms latency in the output; kino's output must come out
    // at lag 0.
    let lag = best_lag(x, y, rate as i64 / 30);
    let edge = rate as usize / 2;
    let n = x.len().min(y.len()) - 2 * edge;
    let (mut sig, mut err) = (0.0f64, 0.0f64);
    for (t, xv) in x.iter().enumerate().skip(edge).take(n) {
        let yv = y.get((t as i64 + lag) as usize).copied().unwrap_or(0.0) as f64;
        sig += (*xv as f64).powi(2);
        err += (yv - *xv as f64).powi(2);
    }
    (10.0 * (sig / err.max(1e-20)).log10(), lag)
}

/// Clean speech at 48 kHz, and a non-stationary noise as long: pink noise whose level swings
/// slowly (±6 dB) plus brown noise gusts.
fn speech_and_noise() -> (Vec<f32>, Vec<f32>) {
    let clean = mono_pcm(&medium("speech_read_english_16k_11s.wav"), 48_000);
    let d = format!("{:.3}", clean.len() as f64 / 48_000.0 + 0.5);
    let noise_file = generated(
        "noise_pink_brown.wav",
        &[
            "-f", "lavfi", "-i",
            &format!("anoisesrc=color=pink:sample_rate=48000:amplitude=0.3:seed=7:duration={d}"),
            "-f", "lavfi", "-i",
            &format!("anoisesrc=color=brown:sample_rate=48000:amplitude=0.5:seed=11:duration={d}"),
            "-filter_complex",
            "[0]volume='0.5+0.4*sin(2*PI*0.23*t)':eval=frame[p];[1]volume='0.6*gt(sin(2*PI*0.37*t),0.3)':eval=frame[b];[p][b]amix=inputs=2:normalize=0",
            "-c:a", "pcm_f32le",
        ],
    );
    let noise = mono_pcm(&noise_file, 48_000);
    (clean, noise)
}

/// `clean` plus `noise` scaled to `snr` dB (powers over the whole clip).
fn mix_at(clean: &[f32], noise: &[f32], snr: f64) -> Vec<f32> {
    let g = (power(clean) / power(&noise[..clean.len()]) / 10f64.powf(snr / 10.0)).sqrt() as f32;
    clean.iter().zip(noise).map(|(c, n)| c + g * n).collect()
}

/// The RNNoise model that ships in the `nnnoiseless` crate (the one kino runs), converted to the
/// text format of FFmpeg's `arnndn` filter, so the C implementation can be run on the same input as
/// a reference. `None` when the crate's source cannot be found.
fn arnndn_model() -> Option<PathBuf> {
    let out = std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["metadata", "--format-version", "1", "--offline"])
        .current_dir(root())
        .output()
        .ok()?;
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    let manifest = meta["packages"]
        .as_array()?
        .iter()
        .find(|p| p["name"] == "nnnoiseless")?["manifest_path"]
        .as_str()?
        .to_owned();
    let bytes = std::fs::read(Path::new(&manifest).parent()?.join("src/weights.rnn")).ok()?;
    let w: Vec<i8> = bytes.iter().map(|b| *b as i8).collect();
    // nnnoiseless: per layer `inputs neurons activation`, then weights, (recurrent weights), bias, as
    // i8 in the C layout RNNoise uses; arnndn reads the same numbers as text, a line per array.
    let mut text = String::from("rnnoise-nu model file version 1\n");
    let mut at = 0usize;
    let array = |text: &mut String, n: usize, at: &mut usize| {
        let line: Vec<String> = w[*at..*at + n].iter().map(|v| v.to_string()).collect();
        text.push_str(&line.join(" "));
        text.push('\n');
        *at += n;
    };
    for gru in [false, true, true, true, false, false] {
        let (inputs, neurons, act) = (w[at] as usize, w[at + 1] as usize, w[at + 2]);
        text.push_str(&format!("{inputs} {neurons} {act}\n"));
        at += 3;
        let k = if gru { 3 } else { 1 };
        array(&mut text, k * inputs * neurons, &mut at);
        if gru {
            array(&mut text, 3 * neurons * neurons, &mut at);
        }
        array(&mut text, k * neurons, &mut at);
    }
    if at != w.len() {
        return None;
    }
    let path = cache_dir().join("rnnoise.rnnn");
    std::fs::write(&path, text).ok()?;
    Some(path)
}

/// FFmpeg settings tried as the reference, best of them taken at each SNR.
const AFFTDN: [&str; 3] = [
    "afftdn",
    "afftdn=nr=20:nf=-40:tn=1",
    "afftdn=nr=30:nf=-35:tn=1",
];

/// Renders `video` with a sync stage and returns the `audio_sync` report section and the events.
fn synced(video: &Path, stage: &str, out: &Path, data: &Path) -> (serde_json::Value, String) {
    let report = data.join("report.json");
    let o = kino(&[
        "render",
        s(video),
        "-o",
        s(out),
        "--data-dir",
        s(data),
        "--preset",
        "ultrafast",
        "--audio-stage",
        stage,
        "--report",
        s(&report),
        "--events",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report).expect("report")).expect("report JSON");
    (
        r["audio_sync"].clone(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
    )
}
