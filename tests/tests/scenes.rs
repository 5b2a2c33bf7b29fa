//! Scene detection end to end: a video joined from real shots at known frames (hard cuts, 1 s
//! dissolves, a fade through black) scored by precision/recall/F1 beside PySceneDetect and FFmpeg's
//! `scdet` on the same file; the real montage clip's cuts; the job's scene report, thumbnails and
//! chapters.

use kino_tests::montage::{montage, score, FPS};
use kino_tests::*;
use serde_json::Value;
use std::path::Path;

/// Kino's scene list for `video` (the `scenes` command).
fn kino_scenes(video: &Path) -> Value {
    let out = kino(&["scenes", s(video), "--json"]);
    assert!(
        out.status.success(),
        "scenes failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("scene json")
}

/// First frames of the scenes after the first.
fn starts(report: &Value) -> Vec<usize> {
    report["scenes"]
        .as_array()
        .expect("scenes")
        .iter()
        .skip(1)
        .map(|s| s["start_frame"].as_u64().expect("start_frame") as usize)
        .collect()
}

/// PySceneDetect's cut frames with `detector` (`ContentDetector()` or `AdaptiveDetector()`).
fn pyscenedetect(video: &Path, detector: &str) -> Vec<usize> {
    let code = format!(
        "import sys\nfrom scenedetect import detect, {}\nscenes = detect(sys.argv[1], {detector})\nprint(' '.join(str(a.get_frames()) for a, _ in scenes[1:]))",
        detector.trim_end_matches("()")
    );
    let out = run(s(&tools_python()), &["-c", &code, s(video)]);
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(|v| v.parse().expect("frame number"))
        .collect()
}

/// FFmpeg scdet's cut frames at its default threshold (10).
fn scdet(video: &Path) -> Vec<usize> {
    let out = std::process::Command::new("ffmpeg")
        .args([
            "-nostats",
            "-i",
            s(video),
            "-vf",
            "scdet=threshold=10",
            "-f",
            "null",
            "-",
        ])
        .output()
        .expect("ffmpeg");
    String::from_utf8_lossy(&out.stderr)
        .split("lavfi.scd.time: ")
        .skip(1)
        .filter_map(|t| t.split_whitespace().next()?.parse::<f64>().ok())
        .map(|t| (t * FPS).round() as usize)
        .collect()
}

#[test]
fn montage_transitions_beside_pyscenedetect_and_scdet() {
    let (video, truth) = montage();
    let report = kino_scenes(&video);
    let ours = starts(&report);
    let content = pyscenedetect(&video, "ContentDetector()");
    let adaptive = pyscenedetect(&video, "AdaptiveDetector()");
    let sc = scdet(&video);
    let mut best_reference = 0.0f64;
    for (name, found) in [
        ("kino", &ours),
        ("pyscenedetect content", &content),
        ("pyscenedetect adaptive", &adaptive),
        ("scdet", &sc),
    ] {
        let (p, r, f1) = score(found, &truth);
        eprintln!("{name:>24}: precision {p:.2} recall {r:.2} F1 {f1:.2}  {found:?}");
        if name != "kino" {
            best_reference = best_reference.max(f1);
        }
    }
    eprintln!("truth: {truth:?}");
    let (p, r, f1) = score(&ours, &truth);
    assert!(
        f1 >= best_reference,
        "kino F1 {f1:.2} below the best reference {best_reference:.2}"
    );
    assert!(p >= 0.85 && r >= 0.85, "precision {p:.2}, recall {r:.2}");
    // Every gradual transition is reported as one (dissolve or fade), the fade through black as a fade.
    let kinds: Vec<String> = report["scenes"]
        .as_array()
        .expect("scenes")
        .iter()
        .skip(1)
        .map(|s| s["transition"].as_str().unwrap_or("").to_owned())
        .collect();
    assert!(kinds.iter().any(|k| k == "fade"), "{kinds:?}");
    assert!(
        kinds.iter().filter(|k| *k == "dissolve").count() >= 2,
        "{kinds:?}"
    );
}

#[test]
fn montage_clip_cuts_are_found_to_the_frame() {
    if shared_media().is_none() {
        eprintln!(
            "skipped: the real montage clip is in ../shared/media only (the stand-in has no cuts)"
        );
        return;
    }
    let video = medium("video_street_bikes_4cuts.mp4");
    // Five hard cuts, read off the frames (SOURCES.tsv says four; the fifth, at 9.68 s, opens a
    // 0.3 s close-up of a wheel).
    let truth = [30, 76, 137, 187, 242];
    let report = kino_scenes(&video);
    let found = starts(&report);
    assert_eq!(found.len(), truth.len(), "{found:?}");
    for (f, t) in found.iter().zip(truth) {
        assert!(f.abs_diff(t) <= 1, "cut at {f}, truth {t} ({found:?})");
    }
    assert_eq!(report["cuts"], 5);
}

#[test]
fn a_job_reports_scenes_with_thumbnails_and_writes_chapters() {
    let (video, truth) = montage();
    let dir = tempfile::tempdir().expect("tmp");
    for ext in ["mp4", "mkv"] {
        let out = dir.path().join(format!("out.{ext}"));
        let report = dir.path().join(format!("report-{ext}.json"));
        render(
            &video,
            &out,
            &dir.path().join("data"),
            &[
                "--scenes",
                "--crf",
                "30",
                "--report",
                s(&report),
                "--keep-chunks",
            ],
        );
        let r: Value =
            serde_json::from_slice(&std::fs::read(&report).expect("report")).expect("json");
        let scenes = r["scenes"]["scenes"].as_array().expect("scene list");
        assert_eq!(scenes.len(), truth.len() + 1, "{scenes:?}");
        // Thumbnails are JPEGs that FFmpeg decodes, 320 pixels wide.
        let folder = report.with_extension("scenes");
        for sc in scenes {
            let name = sc["thumbnail"].as_str().expect("thumbnail");
            let jpeg = folder.join(name);
            let info = ffprobe_json(&jpeg, &["-show_streams"]);
            assert_eq!(info["streams"][0]["codec_name"], "mjpeg");
            assert_eq!(info["streams"][0]["width"], 320);
        }
        // Chunks were re-planned to start at the scenes (none is under a quarter chunk here): each
        // kept chunk file begins at a scene start or at a keyframe between them.
        if ext == "mp4" {
            let mut chunk_starts: Vec<f64> = std::fs::read_dir(dir.path().join("data/jobs"))
                .expect("chunk folder")
                .flat_map(|job| std::fs::read_dir(job.expect("entry").path()).expect("job chunks"))
                .map(|f| f.expect("chunk").path())
                // The chunk files, not what their renders measured beside them.
                .filter(|p| p.extension().is_some_and(|e| e == "mp4"))
                .map(|p| kino_tests::stream_start(&p, "v:0"))
                .collect();
            chunk_starts.sort_by(f64::total_cmp);
            for sc in &scenes[1..] {
                let want = sc["start_seconds"].as_f64().expect("start_seconds");
                assert!(
                    chunk_starts.iter().any(|c| (c - want).abs() < 0.002),
                    "no chunk starts at the scene at {want} s: {chunk_starts:?}"
                );
            }
        }
        // One chapter per scene, starting where the scenes start.
        let ch = ffprobe_json(&out, &["-show_chapters"]);
        let chapters = ch["chapters"].as_array().expect("chapters");
        assert_eq!(chapters.len(), scenes.len(), "{ext}: {chapters:?}");
        for (c, sc) in chapters.iter().zip(scenes) {
            let start: f64 = c["start_time"]
                .as_str()
                .and_then(|t| t.parse().ok())
                .expect("start_time");
            let want = sc["start_seconds"].as_f64().expect("start_seconds");
            assert!((start - want).abs() < 0.002, "{ext}: {start} vs {want}");
        }
    }
}

#[test]
fn bad_scene_settings_and_non_video_input_are_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = kino(&[
        "scenes",
        s(&medium("video_street_bikes_4cuts.mp4")),
        "--settings",
        "min_scene_seconds=-1",
    ]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "not a video").expect("write");
    let out = kino(&["scenes", s(&text)]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
}

/// Scene detection decodes only the frames others refer to and fills in the rest, decoding the
/// skipped ones where a cut may lie between. Encoded without x264's keyframes at scene changes and
/// with 3 B-frames that are never references, some of the montage's cuts land on a skipped
/// B-frame: every cut is still found on its exact frame, and each gradual transition within it.
#[test]
fn cuts_on_skipped_b_frames_are_found_to_the_frame() {
    let (video, truth) = montage();
    let dir = tempfile::tempdir().expect("tmp");
    let bframes = dir.path().join("bframes.mp4");
    ffmpeg(&[
        "-v",
        "error",
        "-y",
        "-i",
        s(&video),
        "-c:v",
        "libx264",
        "-preset",
        "fast",
        "-crf",
        "18",
        "-bf",
        "3",
        "-x264-params",
        "scenecut=0:keyint=250:b-pyramid=none",
        s(&bframes),
    ]);
    let types: Vec<String> = ffprobe_json(
        &bframes,
        &["-select_streams", "v", "-show_entries", "frame=pict_type"],
    )["frames"]
        .as_array()
        .expect("frames")
        .iter()
        .map(|f| f["pict_type"].as_str().unwrap_or("").to_owned())
        .collect();
    let cuts: Vec<usize> = truth.iter().filter(|t| t.0 == t.1).map(|t| t.0).collect();
    let on_b = cuts
        .iter()
        .filter(|&&c| types.get(c).map(String::as_str) == Some("B"))
        .count();
    assert!(on_b >= 1, "no cut on a B-frame: {cuts:?}");
    let report = kino_scenes(&bframes);
    let ours = starts(&report);
    eprintln!(
        "{on_b} of {} cuts on B-frames; found {ours:?}, truth {truth:?}",
        cuts.len()
    );
    for c in &cuts {
        assert!(ours.contains(c), "cut at {c} not found exactly: {ours:?}");
    }
    let (p, r, _) = score(&ours, &truth);
    assert!(p == 1.0 && r == 1.0, "precision {p:.2}, recall {r:.2}");
}
