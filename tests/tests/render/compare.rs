//! `kino-node compare`: Kino's own PSNR and SSIM equal FFmpeg's `psnr` and `ssim` filters on the
//! same pairs (8- and 10-bit), SSIMULACRA2 matches the `ssimulacra2` crate's published test pair,
//! sizes are reconciled, and pairs that cannot be compared get a clear error.

use super::*;
use std::process::Command;

/// FFmpeg's figures for `distorted` against `reference`: PSNR y, u, v, average and SSIM Y, All.
fn ffmpeg_figures(distorted: &Path, reference: &Path) -> [f64; 6] {
    let out = run(
        "ffmpeg",
        &[
            "-hide_banner",
            "-i",
            s(distorted),
            "-i",
            s(reference),
            "-lavfi",
            "[0:v]split[a0][a1];[1:v]split[b0][b1];[a0][b0]psnr;[a1][b1]ssim",
            "-f",
            "null",
            "-",
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    let grab = |line: &str, key: &str| -> f64 {
        let l = err
            .lines()
            .rev()
            .find(|l| l.contains(line))
            .unwrap_or_else(|| panic!("no {line} line:\n{err}"));
        let i = l.find(key).unwrap_or_else(|| panic!("no {key} in {l}"));
        l[i + key.len()..]
            .split_whitespace()
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{key} in {l}"))
    };
    [
        grab("PSNR y:", " y:"),
        grab("PSNR y:", " u:"),
        grab("PSNR y:", " v:"),
        grab("PSNR y:", "average:"),
        grab("SSIM Y:", " Y:"),
        grab("SSIM Y:", "All:"),
    ]
}

fn kino_compare(reference: &Path, distorted: &Path, extra: &[&str]) -> std::process::Output {
    Command::new(kino_bin())
        .args(["compare", s(reference), s(distorted)])
        .args(extra)
        .output()
        .expect("kino-node compare")
}

fn kino_figures(reference: &Path, distorted: &Path) -> Value {
    let o = kino_compare(reference, distorted, &["--json", "--no-ssimulacra2"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).expect("json")
}

fn clip(name: &str, pix_fmt: &str, codec: &[&str]) -> PathBuf {
    let source: Vec<String> = match shared_media() {
        Some(_) => [
            "-i",
            s(&medium("video_street_bikes_4cuts.mp4")),
            "-t",
            "1.5",
            "-vf",
            "scale=320:-2",
        ]
        .map(String::from)
        .to_vec(),
        None => [
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x180:rate=25:duration=1.5",
        ]
        .map(String::from)
        .to_vec(),
    };
    let mut args: Vec<&str> = source.iter().map(String::as_str).collect();
    args.extend_from_slice(&["-an", "-pix_fmt", pix_fmt]);
    args.extend_from_slice(codec);
    generated(name, &args)
}

#[test]
fn psnr_and_ssim_equal_ffmpegs_filters_at_8_and_10_bits() {
    for (depth, pix) in [(8, "yuv420p"), (10, "yuv420p10le")] {
        let reference = clip(&format!("cmp_ref{depth}.mkv"), pix, &["-c:v", "ffv1"]);
        let distorted = clip(
            &format!("cmp_x264_{depth}.mkv"),
            pix,
            &["-c:v", "libx264", "-crf", "32", "-preset", "veryfast"],
        );
        let ours = kino_figures(&reference, &distorted);
        let theirs = ffmpeg_figures(&distorted, &reference);
        let sum = &ours["summary"];
        let mine = [
            sum["psnr_y"].as_f64(),
            sum["psnr_u"].as_f64(),
            sum["psnr_v"].as_f64(),
            sum["psnr"].as_f64(),
            sum["ssim_y"].as_f64(),
            sum["ssim"].as_f64(),
        ]
        .map(|v| v.expect("a figure"));
        println!("{depth}-bit: Kino {mine:?}\n        FFmpeg {theirs:?}");
        for (i, (m, t)) in mine.iter().zip(&theirs).enumerate() {
            let tolerance = if i < 4 { 0.01 } else { 0.001 };
            assert!(
                (m - t).abs() <= tolerance,
                "{depth}-bit figure {i}: {m} against {t}"
            );
        }
        assert_eq!(sum["frames"], count_frames(&reference));
        assert_eq!(ours["unmatched"], 0);
        assert!(mine[3] > 25.0 && mine[3] < 50.0 && mine[5] < 0.999);
    }
}

#[test]
fn an_upscaled_video_is_resized_back_and_identical_videos_score_perfectly() {
    let reference = clip("cmp_ref8.mkv", "yuv420p", &["-c:v", "ffv1"]);
    let dir = tempfile::tempdir().unwrap();
    let up = dir.path().join("up.mkv");
    ffmpeg(&[
        "-i",
        s(&reference),
        "-vf",
        "scale=iw*2:ih*2:flags=lanczos",
        "-c:v",
        "ffv1",
        s(&up),
    ]);
    let c = kino_figures(&reference, &up);
    let compared = c["compared"].as_str().unwrap_or_default();
    assert!(
        compared.contains("resized from 640×") && compared.contains("to the reference's 320×"),
        "{compared}"
    );
    let psnr = c["summary"]["psnr"].as_f64().expect("psnr");
    assert!(
        psnr > 35.0,
        "Lanczos up and down keeps the picture: {psnr} dB"
    );
    // The same video: infinite PSNR (absent), SSIM 1, SSIMULACRA2 100.
    let o = kino_compare(&reference, &reference, &["--json", "--every", "5"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let same: Value = serde_json::from_slice(&o.stdout).expect("json");
    let sum = &same["summary"];
    assert!(
        sum["psnr"].is_null() && (sum["ssim"].as_f64().unwrap_or(0.0) - 1.0).abs() < 1e-9,
        "{sum}"
    );
    let s2 = sum["ssimulacra2_min"].as_f64().expect("ssimulacra2");
    assert!((s2 - 100.0).abs() < 1e-6, "{s2}");
    assert_eq!(same["every"], 5);
    // Text output for people.
    let text = kino_compare(&reference, &up, &["--no-ssimulacra2"]);
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(
        stdout.contains("PSNR y:") && stdout.contains("SSIM Y:"),
        "{stdout}"
    );
}

#[test]
fn ssimulacra2_matches_the_crates_published_test_pair() {
    // rust-av/ssimulacra2's test pair (BSD-2-Clause), its expected score 17.398505 ± 0.25. The
    // crate's test reads 8-bit PNGs of these pictures; decoded here to 8 bits the same way
    // (17.30 measured; 16-bit samples give 17.64).
    let data = root().join("tests/data/ssimulacra2");
    let decode = |name: &str| -> (usize, usize, Vec<[f32; 3]>) {
        let path = data.join(name);
        let probe = ffprobe_json(&path, &["-show_entries", "stream=width,height"]);
        let w = probe["streams"][0]["width"].as_u64().expect("width") as usize;
        let h = probe["streams"][0]["height"].as_u64().expect("height") as usize;
        let o = run(
            "ffmpeg",
            &[
                "-v",
                "error",
                "-i",
                s(&path),
                "-f",
                "rawvideo",
                "-pix_fmt",
                "rgb24",
                "-",
            ],
        );
        let px: Vec<[f32; 3]> = o
            .stdout
            .chunks_exact(3)
            .map(|c| {
                [
                    c[0] as f32 / 255.0,
                    c[1] as f32 / 255.0,
                    c[2] as f32 / 255.0,
                ]
            })
            .collect();
        assert_eq!(px.len(), w * h);
        (w, h, px)
    };
    let (w, h, a) = decode("tank_source.jxl");
    let (_, _, b) = decode("tank_distorted.jxl");
    let score = kino_node::media::quality::ssimulacra2_srgb(w, h, a, b).expect("score");
    println!("SSIMULACRA2 of the tank pair: {score:.6} (crate's test: 17.398505)");
    assert!((score - 17.398505).abs() < 0.25, "{score}");
}

#[test]
fn videos_that_cannot_be_compared_get_a_clear_error() {
    let reference = clip("cmp_ref8.mkv", "yuv420p", &["-c:v", "ffv1"]);
    let dir = tempfile::tempdir().unwrap();
    let later = dir.path().join("later.mkv");
    ffmpeg(&[
        "-i",
        s(&reference),
        "-output_ts_offset",
        "10",
        "-c",
        "copy",
        s(&later),
    ]);
    let o = kino_compare(&reference, &later, &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("do not overlap"), "{err}");
    let o = kino_compare(&reference, &dir.path().join("missing.mp4"), &[]);
    assert_ne!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not found"));
    let o = kino_compare(&reference, &reference, &["--every", "0"]);
    assert_eq!(o.status.code(), Some(2));
}

/// `render --report` of a finished job, as JSON.
fn rendered_report(input: &Path, dir: &Path, name: &str, extra: &[&str]) -> (PathBuf, Value) {
    let out = dir.join(format!("{name}.mp4"));
    let report = dir.join(format!("{name}.json"));
    let mut args = vec!["--report", s(&report), "--chunk-seconds", "0.5"];
    args.extend_from_slice(extra);
    render(input, &out, &dir.join(name), &args);
    let text = std::fs::read_to_string(&report).expect("report");
    (out, serde_json::from_str(&text).expect("report json"))
}

#[test]
fn every_job_reports_its_quality_like_with_like() {
    let input = clip("cmp_ref8.mkv", "yuv420p", &["-c:v", "ffv1"]);
    let dir = tempfile::tempdir().unwrap();
    // Same size: the report's figures are FFmpeg's on the output against the source.
    let (out, report) = rendered_report(
        &input,
        dir.path(),
        "denoise",
        &["--stage", "denoise:strength=1.5", "--crf", "18"],
    );
    let q = &report["quality"];
    assert_eq!(q["measured"], true, "{q}");
    assert_eq!(
        q["every"], 1,
        "a short video is scored frame by frame (30 at least)"
    );
    let frames = q["frames"].as_array().expect("frames").len() as u64;
    assert_eq!(frames, count_frames(&input));
    let theirs = ffmpeg_figures(&out, &input);
    let psnr = q["summary"]["psnr"].as_f64().expect("psnr");
    let ssim = q["summary"]["ssim"].as_f64().expect("ssim");
    assert!(
        (psnr - theirs[3]).abs() <= 0.01,
        "{psnr} against FFmpeg's {}",
        theirs[3]
    );
    assert!(
        (ssim - theirs[5]).abs() <= 0.001,
        "{ssim} against FFmpeg's {}",
        theirs[5]
    );
    // SSIMULACRA2 (far slower than the rest) gets what the 5 % budget leaves, and the report
    // says so when that is nothing.
    match q["ssimulacra2_every"].as_u64().expect("ssimulacra2_every") {
        0 => assert!(
            q["compared"]
                .as_str()
                .unwrap_or_default()
                .contains("SSIMULACRA2 left out"),
            "{q}"
        ),
        _ => assert!(q["summary"]["ssimulacra2_p5"].as_f64().is_some(), "{q}"),
    }
    let chunks = q["chunks"].as_array().expect("chunks");
    assert!(chunks.len() >= 2, "{}", chunks.len());
    println!(
        "denoise job: scored {frames} frames in {} s, {} of the render",
        q["seconds"], q["share_of_render"]
    );
    let per_chunk: u64 = chunks
        .iter()
        .map(|c| c["summary"]["frames"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(per_chunk, frames, "every scored frame lies in one chunk");
    let worst = q["worst"].as_array().expect("worst");
    assert_eq!(worst.len(), 5);
    // Each worst moment has a thumbnail of the output, copied beside the report.
    for (k, w) in worst.iter().enumerate() {
        let name = format!("{k:03}.jpg");
        assert_eq!(w["thumbnail"].as_str(), Some(name.as_str()), "{w}");
        let jpeg =
            std::fs::read(dir.path().join("denoise.quality").join(&name)).expect("thumbnail");
        assert_eq!(&jpeg[..3], &[0xff, 0xd8, 0xff], "{name} is a JPEG");
    }
    assert!(
        q["compared"]
            .as_str()
            .unwrap_or_default()
            .contains("on purpose"),
        "{q}"
    );
    assert!(q["share_of_render"].as_f64().is_some());
    // ×2: the output is resized back and compared with the source, and says so.
    let (_, report) = rendered_report(&input, dir.path(), "up", &["--stage", "scale:factor=2"]);
    let q = &report["quality"];
    let compared = q["compared"].as_str().unwrap_or_default();
    assert!(
        compared.contains("resized from 640×") && compared.contains("survives"),
        "{compared}"
    );
    assert!(q["summary"]["psnr"].as_f64().expect("psnr") > 30.0, "{q}");
    // A longer video quickly rendered is sampled (and says how), with at least 30 frames scored.
    let long = generated(
        "cmp_long.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=160x96:rate=25:duration=16",
            "-pix_fmt",
            "yuv420p",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
        ],
    );
    let (_, report) = rendered_report(&long, dir.path(), "long", &[]);
    let q = &report["quality"];
    let every = q["every"].as_u64().expect("every");
    let scored = q["frames"].as_array().expect("frames").len() as u64;
    println!(
        "400 frames: every {every}, {scored} scored, {} of the render",
        q["share_of_render"]
    );
    assert!(
        every > 1 && scored >= 30 && scored == 400u64.div_ceil(every),
        "every {every}, {scored} scored"
    );
    // Off when asked.
    let (_, report) = rendered_report(&input, dir.path(), "off", &["--quality", "off"]);
    assert!(report.get("quality").is_none(), "{report}");
    // Bad values are refused.
    let o = kino(&[
        "render",
        s(&input),
        "-o",
        s(&dir.path().join("x.mp4")),
        "--quality",
        "maybe",
    ]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn the_encoders_own_loss_is_reported_chunk_by_chunk() {
    let input = clip("cmp_ref8.mkv", "yuv420p", &["-c:v", "ffv1"]);
    let dir = tempfile::tempdir().unwrap();
    // No stage: the frames handed to the encoder are the source's, so the encoder's loss at each
    // sampled frame is the whole comparison's figure at that time.
    let (_, report) = rendered_report(&input, dir.path(), "plain", &["--crf", "30"]);
    let q = &report["quality"];
    let enc = &q["encoder"];
    let sampled = enc["frames"].as_array().expect("encoder frames");
    let chunks = enc["chunks"].as_array().expect("encoder chunks");
    assert_eq!(chunks.len(), q["chunks"].as_array().map_or(0, |c| c.len()));
    assert!(sampled.len() >= 4 * chunks.len(), "{enc}");
    let whole = q["frames"].as_array().expect("frames");
    for f in sampled {
        let t = f["time"].as_f64().expect("time");
        let same = whole
            .iter()
            .find(|w| (w["time"].as_f64().unwrap_or(-1.0) - t).abs() < 1e-3)
            .unwrap_or_else(|| panic!("no scored frame at {t}"));
        for (key, tolerance) in [("psnr", 1e-6), ("psnr_y", 1e-6), ("ssim", 1e-9)] {
            let (a, b) = (f[key].as_f64(), same[key].as_f64());
            assert!(
                matches!((a, b), (Some(a), Some(b)) if (a - b).abs() <= tolerance),
                "{key} at {t}: encoder {a:?}, whole {b:?}"
            );
        }
    }
    let psnr = enc["summary"]["psnr"].as_f64().expect("psnr");
    println!(
        "plain CRF 30: encoder loss {psnr:.2} dB over {} sampled frames in {} s; {}",
        sampled.len(),
        enc["seconds"],
        enc["compared"]
    );
    assert!(enc["seconds"].as_f64().is_some_and(|v| v > 0.0), "{enc}");
    assert!((25.0..50.0).contains(&psnr), "{psnr}");
    // With a stage, the encoder's loss is told apart from the whole change: a lossless encode
    // loses nothing (identical frames have no PSNR) while the colour change still shows.
    let (_, report) = rendered_report(
        &input,
        dir.path(),
        "lossless",
        &["--stage", "color:saturation=1.4,contrast=1.1", "--crf", "0"],
    );
    let q = &report["quality"];
    let enc = &q["encoder"];
    assert!(enc["summary"]["psnr"].is_null(), "{enc}");
    assert_eq!(enc["summary"]["ssim"].as_f64(), Some(1.0), "{enc}");
    let whole = q["summary"]["psnr"].as_f64().expect("psnr");
    assert!(whole < 40.0, "{whole}");
    // Where the time went: the run's phases, and the chunks' parts with the stage by name.
    let t = &report["timings"];
    let names = |k: &str| -> Vec<String> {
        t[k].as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p["part"].as_str().map(str::to_owned))
            .collect()
    };
    assert_eq!(
        names("phases"),
        ["prepare", "analysis", "render", "assembly"],
        "{t}"
    );
    assert_eq!(
        names("chunk_parts"),
        ["decode", "convert", "color", "encode", "measure"],
        "{t}"
    );
    assert_eq!(
        t["chunks"],
        q["chunks"].as_array().map_or(0, |c| c.len()),
        "{t}"
    );
    let second = |k: &str, part: &str| {
        t[k].as_array()
            .into_iter()
            .flatten()
            .find(|p| p["part"] == part)
            .and_then(|p| p["seconds"].as_f64())
            .unwrap_or(-1.0)
    };
    assert!(
        second("chunk_parts", "color") > 0.0 && second("chunk_parts", "encode") > 0.0,
        "{t}"
    );
    assert!(second("phases", "render") > 0.0, "{t}");
    // Off with the report.
    let (_, report) = rendered_report(&input, dir.path(), "off2", &["--quality", "off"]);
    assert!(report.get("quality").is_none(), "{report}");
}
