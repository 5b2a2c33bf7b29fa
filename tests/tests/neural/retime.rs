//! The `interpolate` stage end to end through `kino-node render`: exact frame counts and
//! timestamps on the output's constant-rate grid (24→60, 25→50, NTSC 29.97→59.94, a VFR clip, ×4
//! slow motion), chunked = unchunked, no frame invented across a scene cut, the sound in sync, and
//! clear errors for impossible settings.

use super::models_dir;
use kino_tests::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `kino-node render` with the repository's models; returns (success, stderr).
fn render_with_models(input: &Path, out: &Path, data: &Path, extra: &[&str]) -> (bool, String) {
    let mut args = vec![
        "render",
        s(input),
        "-o",
        s(out),
        "--data-dir",
        s(data),
        "--preset",
        "ultrafast",
    ];
    args.extend_from_slice(extra);
    let o = Command::new(kino_bin())
        .args(&args)
        .env("KINO_MODELS_DIR", models_dir())
        .output()
        .expect("running kino-node");
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn render_ok(input: &Path, out: &Path, data: &Path, extra: &[&str]) {
    let (ok, err) = render_with_models(input, out, data, extra);
    assert!(ok, "render {extra:?} failed: {err}");
}

/// A moving test card at `rate` (an FFmpeg rate expression), 160×96, H.264 in MP4.
fn card(name: &str, rate: &str, seconds: &str) -> PathBuf {
    generated(
        name,
        &[
            "-f",
            "lavfi",
            "-i",
            &format!("testsrc2=size=160x96:rate={rate}"),
            "-t",
            seconds,
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "8",
            "-pix_fmt",
            "yuv420p",
        ],
    )
}

/// The stream's frame rate as ffprobe reads it (`r_frame_rate`).
fn frame_rate(path: &Path) -> String {
    let v = ffprobe_json(
        path,
        &[
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=r_frame_rate",
        ],
    );
    v["streams"][0]["r_frame_rate"]
        .as_str()
        .unwrap_or("")
        .to_owned()
}

/// Asserts `out` has `frames` frames at exactly `k·den/num` seconds after its first.
fn assert_grid(out: &Path, frames: usize, num: f64, den: f64, what: &str) {
    let times = frame_times(out);
    assert_eq!(times.len(), frames, "{what}: frame count");
    let t0 = times[0];
    for (k, t) in times.iter().enumerate() {
        let want = t0 + k as f64 * den / num;
        assert!(
            (t - want).abs() < 0.0005,
            "{what}: frame {k} at {t}, expected {want}"
        );
    }
    assert_eq!(frame_rate(out), format!("{num}/{den}"), "{what}: rate tag");
}

#[test]
fn frame_counts_and_timestamps_are_exact_on_the_output_grid() {
    // (clip, source rate, seconds, stage, expected frames, output rate num/den)
    let cases: [(&str, &str, &str, &str, usize, f64, f64); 4] = [
        ("i24.mp4", "24", "1", "interpolate:fps=60", 60, 60.0, 1.0),
        ("i25.mp4", "25", "1", "interpolate:factor=2", 50, 50.0, 1.0),
        (
            "i2997.mp4",
            "30000/1001",
            "1",
            "interpolate:fps=59.94",
            60,
            60000.0,
            1001.0,
        ),
        (
            "i25s.mp4",
            "25",
            "0.4",
            "interpolate:factor=4,mode=slowmo",
            40,
            25.0,
            1.0,
        ),
    ];
    for (name, rate, secs, stage, frames, num, den) in cases {
        let input = card(name, rate, secs);
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.mp4");
        render_ok(
            &input,
            &out,
            dir.path(),
            &["--stage", stage, "--chunk-seconds", "0.3"],
        );
        assert_grid(&out, frames, num, den, stage);
    }
}

#[test]
fn variable_frame_rate_becomes_constant() {
    // 30 fps with four of every ten frames missing, and a stretch where all are kept.
    let input = generated(
        "ivfr.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=160x96:rate=30:duration=2",
            "-vf",
            "select='lt(mod(n\\,10)\\,6)+between(n\\,30\\,45)'",
            "-fps_mode",
            "vfr",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "10",
        ],
    );
    let src = frame_times(&input);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.mp4");
    render_ok(
        &input,
        &out,
        dir.path(),
        &["--stage", "interpolate:fps=30", "--chunk-seconds", "0.5"],
    );
    // The last source frame lasts one nominal frame (1/30 s... of its average rate).
    let times = frame_times(&out);
    let span = times.last().unwrap() - times[0];
    assert!(
        (times[0] - src[0]).abs() < 0.0005 && span >= src.last().unwrap() - src[0] - 0.0005,
        "output {:?} vs source {:?}",
        (times[0], times.last()),
        (src[0], src.last())
    );
    assert_grid(&out, times.len(), 30.0, 1.0, "vfr");
}

#[test]
fn chunked_and_unchunked_interpolation_are_identical() {
    let input = card("ichunks.mp4", "25", "1.2");
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.mp4"), dir.path().join("b.mp4"));
    let stage = ["--stage", "interpolate:fps=60", "--crf", "0"];
    render_ok(
        &input,
        &a,
        &dir.path().join("da"),
        &[&stage[..], &["--chunk-seconds", "0.3"]].concat(),
    );
    render_ok(
        &input,
        &b,
        &dir.path().join("db"),
        &[&stage[..], &["--chunk-seconds", "0"]].concat(),
    );
    let (ma, mb) = (frame_md5s(&a), frame_md5s(&b));
    assert_eq!(ma.len(), 72);
    assert_eq!(ma, mb, "chunked and unchunked outputs differ");
}

/// Luma of every frame at 160×(h), for comparing pictures.
fn gray_frames(path: &Path, w: usize, h: usize) -> Vec<Vec<u8>> {
    run(
        "ffmpeg",
        &[
            "-v",
            "error",
            "-i",
            s(path),
            "-fps_mode",
            "passthrough",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "gray",
            "-",
        ],
    )
    .stdout
    .chunks_exact(w * h)
    .map(|c| c.to_vec())
    .collect()
}

fn mean_abs(a: &[u8], b: &[u8]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| x.abs_diff(y) as f64)
        .sum::<f64>()
        / a.len() as f64
}

#[test]
fn no_frame_is_invented_across_a_cut() {
    // The street clip's cuts (or, without the shared folder, a montage of synthetic shots), small.
    let (input, w, h) = match shared_media() {
        Some(_) => {
            let src = medium("video_street_bikes_4cuts.mp4");
            let clip = generated(
                "icuts.mp4",
                &[
                    "-i",
                    s(&src),
                    "-vf",
                    "scale=192:80",
                    "-an",
                    "-c:v",
                    "libx264",
                    "-crf",
                    "12",
                    "-g",
                    "25",
                ],
            );
            (clip, 192usize, 80usize)
        }
        None => {
            let clip = generated(
                "icuts_synth.mp4",
                &[
                    "-f",
                    "lavfi",
                    "-i",
                    "testsrc2=size=192x80:rate=25:duration=2",
                    "-f",
                    "lavfi",
                    "-i",
                    "mandelbrot=size=192x80:rate=25:end_pts=2",
                    "-f",
                    "lavfi",
                    "-i",
                    "smptebars=size=192x80:rate=25:duration=2",
                    "-filter_complex",
                    "[1]trim=duration=2[m];[0][m][2]concat=n=3",
                    "-c:v",
                    "libx264",
                    "-crf",
                    "12",
                    "-g",
                    "25",
                ],
            );
            (clip, 192, 80)
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.mp4");
    render_ok(
        &input,
        &out,
        dir.path(),
        &[
            "--stage",
            "interpolate:factor=2",
            "--crf",
            "0",
            "--chunk-seconds",
            "1",
        ],
    );
    let (src, res) = (gray_frames(&input, w, h), gray_frames(&out, w, h));
    assert_eq!(res.len(), src.len() * 2);
    let mut cuts = 0;
    for k in 0..src.len() - 1 {
        // Source frames come through as they are (lossless output).
        assert_eq!(res[2 * k], src[k], "source frame {k} changed");
        if mean_abs(&src[k], &src[k + 1]) > 25.0 {
            cuts += 1;
            assert_eq!(
                res[2 * k + 1],
                src[k],
                "a frame was invented across the cut after source frame {k}"
            );
        }
    }
    assert!(cuts >= 2, "the clip shows {cuts} cuts");
}

#[test]
fn sound_stays_in_sync_at_double_rate_and_stretches_in_slow_motion() {
    let input = generated(
        "iflash.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "color=c=black:size=160x96:rate=25:duration=2",
            "-f",
            "lavfi",
            "-i",
            "aevalsrc='if(between(t\\,1\\,1.2)\\,0.8*sin(2*PI*1000*t)\\,0)':s=48000:d=2",
            "-vf",
            "geq=lum='if(between(T\\,1\\,1.039)\\,235\\,16)':cb=128:cr=128",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "10",
            "-c:a",
            "aac",
        ],
    );
    let flash_and_beep = |p: &Path| -> (f64, f64) {
        let times = frame_times(p);
        let flash = gray_frames(p, 160, 96)
            .iter()
            .position(|f| f.iter().map(|&v| v as u64).sum::<u64>() / f.len() as u64 > 128)
            .expect("flash frame");
        let onset = mono_pcm(p, 48_000)
            .iter()
            .position(|v| v.abs() > 0.2)
            .expect("beep onset");
        (
            times[flash],
            stream_start(p, "a:0") + onset as f64 / 48000.0,
        )
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.mp4");
    render_ok(
        &input,
        &out,
        &dir.path().join("d1"),
        &["--stage", "interpolate:fps=50", "--chunk-seconds", "0.4"],
    );
    let (vf, ab) = flash_and_beep(&out);
    assert!(
        (vf - ab).abs() <= 0.02 + 0.01,
        "flash at {vf}, beep at {ab}"
    );
    // ×4 slow motion with the sound stretched (pitch kept): both four times as long, still in step.
    let slow = dir.path().join("slow.mp4");
    render_ok(
        &input,
        &slow,
        &dir.path().join("d2"),
        &[
            "--stage",
            "interpolate:factor=4,mode=slowmo,audio=stretch",
            "--chunk-seconds",
            "0.4",
        ],
    );
    let (vd, ad) = (stream_duration(&slow, "v:0"), stream_duration(&slow, "a:0"));
    // atempo leaves out the last window at its end: FFmpeg's CLI gives the same 7.861 s.
    assert!(
        (vd - 8.0).abs() < 0.05 && (ad - 8.0).abs() < 0.2,
        "video {vd} s, audio {ad} s"
    );
    let (vf, ab) = flash_and_beep(&slow);
    // The sound as FFmpeg stretches it: atempo's overlapping windows bring a sharp onset forward
    // (98 ms here, the same from the CLI), so the beep is compared with that.
    let reference = dir.path().join("atempo.m4a");
    ffmpeg(&[
        "-i",
        s(&input),
        "-vn",
        "-af",
        "atempo=0.5,atempo=0.5",
        s(&reference),
    ]);
    let onset = mono_pcm(&reference, 48_000)
        .iter()
        .position(|v| v.abs() > 0.2)
        .expect("beep onset") as f64
        / 48000.0;
    assert!(
        (vf - 4.0).abs() < 0.05 && (ab - onset).abs() <= 0.005,
        "flash at {vf}, beep at {ab} (FFmpeg's atempo: {onset})"
    );
    // Dropped by default; the source's chapters are spread with the pictures.
    let meta = dir.path().join("chapters.txt");
    std::fs::write(
        &meta,
        ";FFMETADATA1\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=0\nEND=1000\ntitle=dark\n\
         [CHAPTER]\nTIMEBASE=1/1000\nSTART=1000\nEND=2000\ntitle=flash\n",
    )
    .unwrap();
    let chaptered = dir.path().join("chaptered.mp4");
    ffmpeg(&[
        "-i",
        s(&input),
        "-i",
        s(&meta),
        "-map_metadata",
        "1",
        "-map_chapters",
        "1",
        "-c",
        "copy",
        s(&chaptered),
    ]);
    let mute = dir.path().join("mute.mp4");
    render_ok(
        &chaptered,
        &mute,
        &dir.path().join("d3"),
        &["--stage", "interpolate:factor=2,mode=slowmo"],
    );
    // No sound (MP4 keeps chapters in a text track of its own as well).
    let streams = ffprobe_json(&mute, &["-show_entries", "stream=codec_type"]);
    let kinds: Vec<&str> = streams["streams"]
        .as_array()
        .expect("streams")
        .iter()
        .filter_map(|s| s["codec_type"].as_str())
        .collect();
    assert!(!kinds.contains(&"audio"), "{kinds:?}");
    let chapters = ffprobe_json(&mute, &["-show_chapters"]);
    let spans: Vec<(String, String, String)> = chapters["chapters"]
        .as_array()
        .expect("chapters")
        .iter()
        .map(|c| {
            let f = |k: &str| c[k].as_str().unwrap_or_default().to_owned();
            (
                f("start_time"),
                f("end_time"),
                c["tags"]["title"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let want = |a: &str, b: &str, t: &str| (a.to_owned(), b.to_owned(), t.to_owned());
    assert_eq!(
        spans,
        [
            want("0.000000", "2.000000", "dark"),
            want("2.000000", "4.000000", "flash")
        ]
    );
}

#[test]
fn impossible_settings_are_refused_with_the_field_named() {
    let input = card("ibad.mp4", "25", "0.2");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.mp4");
    for (stage, field) in [
        ("interpolate:fps=0", "stages.interpolate.fps"),
        ("interpolate:fps=-30", "stages.interpolate.fps"),
        ("interpolate:fps=241", "stages.interpolate.fps"),
        ("interpolate:factor=1", "stages.interpolate.factor"),
        ("interpolate:factor=17", "stages.interpolate.factor"),
        ("interpolate:fps=60,factor=2", "stages.interpolate"),
        ("interpolate:fps=60,mode=slowmo", "stages.interpolate.mode"),
        ("interpolate", "stages.interpolate"),
    ] {
        let (ok, err) = render_with_models(&input, &out, dir.path(), &["--stage", stage]);
        assert!(!ok, "{stage} was accepted");
        assert!(err.contains(field), "{stage}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{stage}: {err}");
    }
    // Stages that read the analysis of source frames cannot follow it.
    let (ok, err) = render_with_models(
        &input,
        &out,
        dir.path(),
        &["--stage", "interpolate:factor=2", "--stage", "stabilize"],
    );
    assert!(!ok && err.contains("must come before interpolate"), "{err}");
    // Without the model the job is refused up front, naming the set-up step.
    let empty = tempfile::tempdir().unwrap();
    let o = Command::new(kino_bin())
        .args([
            "render",
            s(&input),
            "-o",
            s(&out),
            "--data-dir",
            s(dir.path()),
        ])
        .args(["--stage", "interpolate:fps=50"])
        .env("KINO_MODELS_DIR", empty.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("rife") && err.contains("setup"),
        "{err}"
    );
    assert!(!out.exists());
}

#[test]
fn killed_interpolation_resumes_without_redoing_finished_chunks() {
    let input = card("iresume.mp4", "25", "3");
    let dir = tempfile::tempdir().unwrap();
    let (data, out) = (dir.path().join("data"), dir.path().join("out.mp4"));
    let args = [
        "render",
        s(&input),
        "-o",
        s(&out),
        "--data-dir",
        s(&data),
        "--preset",
        "ultrafast",
        "--crf",
        "0",
        "--chunk-seconds",
        "0.5",
        "--jobs",
        "1",
        "--stage",
        "interpolate:fps=60",
        "--events",
    ];
    let done_before: Vec<u64> = kill_when(&args, |ev| ev["type"] == "chunk_done")
        .iter()
        .filter(|ev| ev["type"] == "chunk_done")
        .filter_map(|ev| ev["chunk"].as_u64())
        .collect();
    assert!(!done_before.is_empty() && !out.exists());
    let events = events_of(&args);
    let claimed: Vec<u64> = events
        .iter()
        .filter(|e| e["type"] == "chunk_claimed")
        .filter_map(|e| e["chunk"].as_u64())
        .collect();
    assert!(
        !claimed.is_empty(),
        "the kill must land before the job finished"
    );
    for c in &done_before {
        assert!(!claimed.contains(c), "chunk {c} was rendered again");
    }
    // The same frames as an uninterrupted render, on the same grid.
    let whole = dir.path().join("whole.mp4");
    render_ok(
        &input,
        &whole,
        &dir.path().join("d2"),
        &[
            "--crf",
            "0",
            "--chunk-seconds",
            "0",
            "--stage",
            "interpolate:fps=60",
        ],
    );
    assert_eq!(frame_md5s(&out), frame_md5s(&whole));
    assert_grid(&out, 180, 60.0, 1.0, "resumed");
}

/// RGBA of a 128×64 dark picture with a bright 16×16 square at `x`.
fn square_at(x: usize) -> Vec<u8> {
    let (w, h) = (128, 64);
    let mut px = vec![0u8; w * h * 4];
    for (i, p) in px.chunks_exact_mut(4).enumerate() {
        let (cx, cy) = (i % w, i / w);
        let on = (x..x + 16).contains(&cx) && (24..40).contains(&cy);
        let v = if on { 230 } else { 20 };
        p.copy_from_slice(&[v, v, v, 255]);
    }
    px
}

#[test]
fn preview_endpoint_makes_the_frame_between_two() {
    let dir = tempfile::tempdir().unwrap();
    let models = models_dir();
    let node = Node::start_with_env(
        &dir.path().join("data"),
        &[],
        &[("KINO_MODELS_DIR", &models)],
    );
    let stages = r#"[{"kind":"interpolate","factor":2}]"#;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let post = |body: Vec<u8>, time: Option<&str>| {
        let mut q = vec![("width", "128"), ("height", "64"), ("stages", stages)];
        q.extend(time.map(|t| ("time", t)));
        rt.block_on(async {
            let r = reqwest::Client::new()
                .post(node.url("/api/preview"))
                .query(&q)
                .body(body)
                .send()
                .await
                .expect("preview request");
            (r.status().as_u16(), r.bytes().await.expect("body").to_vec())
        })
    };
    let pair = [square_at(40), square_at(56)].concat();
    let (status, out) = post(pair.clone(), Some("0.5"));
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&out));
    // The square's centre (bright pixels' mean column) is half-way: 48 → 64, so about 56.
    let cols: Vec<usize> = out
        .chunks_exact(4)
        .enumerate()
        .filter(|(_, p)| p[1] > 128)
        .map(|(i, _)| i % 128)
        .collect();
    let centre = cols.iter().sum::<usize>() as f64 / cols.len().max(1) as f64;
    assert!(
        (centre - 56.0).abs() < 4.0 && cols.len() > 150,
        "centre {centre}, {} px",
        cols.len()
    );
    // A time outside (0, 1) and a single frame are refused, naming what is wrong.
    let (status, body) = post(pair, None);
    assert!(
        status == 422 && String::from_utf8_lossy(&body).contains("\"time\""),
        "{status}"
    );
    let (status, body) = post(square_at(16), Some("0.5"));
    assert!(
        status == 422 && String::from_utf8_lossy(&body).contains("\"body\""),
        "{status}"
    );
}

#[test]
fn a_lower_rate_drops_frames_evenly_and_says_so() {
    let input = card("i24d.mp4", "24", "1");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.mp4");
    let o = Command::new(kino_bin())
        .args([
            "render",
            s(&input),
            "-o",
            s(&out),
            "--data-dir",
            s(dir.path()),
        ])
        .args([
            "--preset",
            "ultrafast",
            "--crf",
            "0",
            "--stage",
            "interpolate:fps=12",
            "--events",
        ])
        .env("KINO_MODELS_DIR", models_dir())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let events = String::from_utf8_lossy(&o.stdout);
    assert!(
        events.contains("\"warning\"") && events.contains("dropped"),
        "{events}"
    );
    assert_grid(&out, 12, 12.0, 1.0, "24 -> 12");
    // Every other source frame, untouched (lossless output).
    let kept: Vec<Vec<u8>> = gray_frames(&input, 160, 96)
        .into_iter()
        .step_by(2)
        .collect();
    assert!(
        gray_frames(&out, 160, 96) == kept,
        "not every other source frame"
    );
}
