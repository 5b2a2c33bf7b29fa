//! Target-quality encoding: each chunk's CRF searched for the asked quality, checked on the final
//! file by FFmpeg's own `psnr` filter, and smaller than the fixed CRF that meets it everywhere.

use super::*;

/// FFmpeg's per-frame weighted PSNR of `distorted` against `reference`, in frame order.
fn ffmpeg_psnr_per_frame(distorted: &Path, reference: &Path) -> Vec<f64> {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("psnr.log");
    ffmpeg(&[
        "-i",
        s(distorted),
        "-i",
        s(reference),
        "-lavfi",
        &format!("[0:v][1:v]psnr=stats_file={}", s(&log)),
        "-f",
        "null",
        "-",
    ]);
    std::fs::read_to_string(&log)
        .expect("psnr log")
        .lines()
        .filter_map(|l| {
            l.split_whitespace()
                .find_map(|f| f.strip_prefix("psnr_avg:"))
                .and_then(|v| v.parse().ok())
        })
        .collect()
}

fn p5(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((0.05 * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1]
}

fn report_of(input: &Path, dir: &Path, name: &str, extra: &[&str]) -> (PathBuf, Value) {
    let out = dir.join(format!("{name}.mp4"));
    let report = dir.join(format!("{name}.json"));
    let mut args = vec!["--report", s(&report), "--quality", "off"];
    args.extend_from_slice(extra);
    render(input, &out, &dir.join(name), &args);
    let text = std::fs::read_to_string(&report).expect("report");
    (out, serde_json::from_str(&text).expect("json"))
}

#[test]
fn every_chunk_meets_the_target_and_the_file_is_smaller_than_a_fixed_crf() {
    let input = medium("video_street_bikes_4cuts.mp4");
    let dir = tempfile::tempdir().unwrap();
    for codec in ["h264", "h265"] {
        let (out, report) = report_of(
            &input,
            dir.path(),
            &format!("tq_{codec}"),
            &[
                "--codec",
                codec,
                "--target-quality",
                "psnr=40",
                "--chunk-seconds",
                "3",
            ],
        );
        let t = &report["target_quality"];
        let chunks = t["chunks"].as_array().expect("chunks");
        assert!(chunks.len() >= 2, "{t}");
        // After the fact, on the final file: each chunk's 5th-percentile frame by FFmpeg's meter.
        let frames = ffmpeg_psnr_per_frame(&out, &input);
        assert_eq!(frames.len() as u64, count_frames(&input));
        let mut crfs = Vec::new();
        for (k, c) in chunks.iter().enumerate() {
            let crf = c["crf"].as_u64().expect("crf");
            crfs.push(crf);
            assert!(c["probes"].as_array().is_some_and(|p| !p.is_empty()));
            let measured = c["measured"].as_f64().expect("measured");
            assert!(measured >= 40.0, "{codec} chunk {k}: {c}");
        }
        // Chunk bounds by the chunk lengths the report's frame counts give.
        let mut at = 0usize;
        for (k, c) in chunks.iter().enumerate() {
            let n = c["measured_frames"].as_u64().expect("frames") as usize;
            let theirs = p5(frames[at..at + n].to_vec());
            eprintln!(
                "{codec} chunk {k}: CRF {} ours {} FFmpeg's {theirs:.2} (frames {at}..{})",
                c["crf"],
                c["measured"],
                at + n
            );
            assert!(
                theirs >= 40.0 - 0.01,
                "{codec} chunk {k}: FFmpeg reads {theirs}"
            );
            at += n;
        }
        assert_eq!(at, frames.len());
        // The fixed CRF whose worst chunk meets the target is the lowest chosen one (each chunk's
        // CRF is the highest that meets it there): that file is larger.
        let fixed = crfs.iter().min().copied().unwrap_or(0).to_string();
        let (fixed_out, _) = report_of(
            &input,
            dir.path(),
            &format!("fixed_{codec}"),
            &["--codec", codec, "--crf", &fixed, "--chunk-seconds", "3"],
        );
        let (a, b) = (
            std::fs::metadata(&out).unwrap().len(),
            std::fs::metadata(&fixed_out).unwrap().len(),
        );
        eprintln!("{codec}: target {a} bytes, fixed CRF {fixed} {b} bytes");
        assert!(
            a < b,
            "{codec}: target-quality file {a} B not smaller than CRF {fixed}'s {b} B"
        );
    }
}

#[test]
fn ssimulacra2_targets_work_on_vp9_and_av1() {
    let input = medium("video_street_bikes_4cuts.mp4");
    let dir = tempfile::tempdir().unwrap();
    for (codec, ext) in [("vp9", "webm"), ("av1", "mp4")] {
        let out = dir.path().join(format!("s2.{ext}"));
        let report = dir.path().join(format!("s2_{codec}.json"));
        render(
            &input,
            &out,
            &dir.path().join(codec),
            &[
                "--codec",
                codec,
                "--target-quality",
                "ssimulacra2=70",
                "--report",
                s(&report),
                "--quality",
                "off",
            ],
        );
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
        for c in v["target_quality"]["chunks"].as_array().expect("chunks") {
            eprintln!("{codec}: {c}");
            assert!(c["measured"].as_f64().expect("measured") >= 70.0, "{c}");
        }
        assert_eq!(count_frames(&out), count_frames(&input));
    }
}

#[test]
fn impossible_or_malformed_targets_get_clear_errors() {
    let input = medium("video_street_bikes_4cuts.mp4");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.mp4");
    let run = |extra: &[&str]| {
        let mut args = vec![
            "render",
            s(&input),
            "-o",
            s(&out),
            "--data-dir",
            s(dir.path()),
            "--preset",
            "ultrafast",
        ];
        args.extend_from_slice(extra);
        kino(&args)
    };
    let o = run(&["--target-quality", "vmaf=95"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown metric 'vmaf'"));
    let o = run(&["--target-quality", "ssimulacra2=150"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("target_quality.value"));
    // 65 dB within CRF 40..45 cannot be reached: the job fails and says why.
    let o = run(&["--target-quality", "psnr=65", "--target-crf", "40-45"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("cannot be met"), "{err}");
    assert!(!out.exists());
}
