//! The render core end to end: the real `kino-node` binary on real and generated media, measured with
//! the `ffmpeg`/`ffprobe` command line.

use kino_tests::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Frame count and duration of the output equal the input's.
fn assert_same_timing(input: &Path, output: &Path) {
    let (fi, fo) = (count_frames(input), count_frames(output));
    assert_eq!(
        fi,
        fo,
        "frame count {} -> {}",
        input.display(),
        output.display()
    );
    let (ti, to) = (frame_times(input), frame_times(output));
    assert_eq!(ti.len(), to.len());
    for (a, b) in ti.iter().zip(&to) {
        assert!((a - b).abs() < 1e-3, "frame time {a} became {b}");
    }
    let (di, dout) = (
        stream_duration(input, "v:0"),
        stream_duration(output, "v:0"),
    );
    assert!((di - dout).abs() < 1e-3, "duration {di} became {dout}");
}

#[test]
fn synthetic_1080p_keeps_frames_and_duration() {
    let input = generated(
        "syn1080.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=1920x1080:rate=25:duration=6",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:duration=6",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "50",
            "-c:a",
            "aac",
            "-shortest",
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.mp4");
    render(&input, &out, dir.path(), &["--chunk-seconds", "2"]);
    assert_same_timing(&input, &out);
    let a_in = stream_duration(&input, "a:0");
    let a_out = stream_duration(&out, "a:0");
    assert!((a_in - a_out).abs() < 0.03, "audio {a_in} -> {a_out}");
}

#[test]
fn mjpeg_style_avi_keeps_frames_and_duration() {
    let input = medium("video_pedestrians_campus_vtest.avi");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.mp4");
    render(&input, &out, dir.path(), &["--chunk-seconds", "10"]);
    assert_same_timing(&input, &out);
}

#[test]
fn street_clip_with_cuts_keeps_frames_and_duration() {
    let input = medium("video_street_bikes_4cuts.mp4");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.mkv");
    render(&input, &out, dir.path(), &["--chunk-seconds", "2"]);
    assert_same_timing(&input, &out);
}

#[test]
fn variable_frame_rate_stays_variable_and_in_place() {
    let input = generated(
        "vfr.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=30:duration=8",
            "-vf",
            "select='lt(mod(n\\,10)\\,6)+between(n\\,90\\,130)'",
            "-fps_mode",
            "vfr",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "20",
        ],
    );
    let probe = kino(&["probe", s(&input)]);
    assert!(probe.status.success());
    let info: Value = serde_json::from_slice(&probe.stdout).unwrap();
    assert_eq!(
        info["video"]["variable_frame_rate"],
        Value::Bool(true),
        "{info}"
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.mp4");
    render(&input, &out, dir.path(), &["--chunk-seconds", "1"]);
    assert_same_timing(&input, &out);
}

/// Time of the first frame whose mean luma is above mid-grey, and of the first loud audio sample.
fn flash_and_beep(path: &Path, w: usize, h: usize) -> (f64, f64) {
    let times = frame_times(path);
    let raw = run(
        "ffmpeg",
        &[
            "-v",
            "error",
            "-i",
            s(path),
            "-map",
            "0:v:0",
            "-fps_mode",
            "passthrough",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "gray",
            "-",
        ],
    )
    .stdout;
    let flash = raw
        .chunks_exact(w * h)
        .position(|f| f.iter().map(|&v| v as u64).sum::<u64>() / (w * h) as u64 > 128)
        .expect("flash frame");
    let onset = mono_pcm(path, 48_000)
        .iter()
        .position(|v| v.abs() > 0.2)
        .expect("beep onset");
    (
        times[flash],
        stream_start(path, "a:0") + onset as f64 / 48000.0,
    )
}

fn flash_beep_clip(name: &str, audio_codec: &str) -> PathBuf {
    generated(
        name,
        &[
            "-f",
            "lavfi",
            "-i",
            "color=c=black:size=320x240:rate=25:duration=5",
            "-f",
            "lavfi",
            "-i",
            "aevalsrc='if(between(t\\,3\\,3.2)\\,0.8*sin(2*PI*1000*t)\\,0)':s=48000:d=5",
            "-vf",
            "geq=lum='if(between(T\\,3\\,3.039)\\,235\\,16)':cb=128:cr=128",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "25",
            "-c:a",
            audio_codec,
        ],
    )
}

#[test]
fn audio_stays_in_sync_when_copied_and_when_reencoded() {
    for (name, codec) in [("flash_aac.mp4", "aac"), ("flash_pcm.mov", "pcm_s16le")] {
        let input = flash_beep_clip(name, codec);
        let (vf, ab) = flash_and_beep(&input, 320, 240);
        assert!(
            (vf - 3.0).abs() < 0.05 && (ab - 3.0).abs() < 0.05,
            "generated clip is off: {vf} {ab}"
        );
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.mp4");
        render(&input, &out, dir.path(), &["--chunk-seconds", "1"]);
        let (vf2, ab2) = flash_and_beep(&out, 320, 240);
        assert!(
            ((vf2 - ab2) - (vf - ab)).abs() <= 0.04,
            "{name}: flash {vf2} vs beep {ab2} (input {vf} vs {ab})"
        );
        let codec_out = ffprobe_json(
            &out,
            &[
                "-select_streams",
                "a:0",
                "-show_entries",
                "stream=codec_name",
            ],
        );
        assert_eq!(codec_out["streams"][0]["codec_name"], "aac");
    }
}

/// The handheld clip comes from an old x264 (4:4:4): FFmpeg decodes it right only after reading the
/// encoder's version from the first frame's SEI, so chunks that start at a later keyframe used to
/// decode as grey blocks.
#[test]
fn chunks_of_an_old_x264_stream_decode_like_the_whole() {
    let input = medium("video_cockatoo_handheld_shaky.mp4");
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("chunked.mkv"), dir.path().join("whole.mkv"));
    render(
        &input,
        &a,
        dir.path(),
        &["--crf", "0", "--chunk-seconds", "2", "--audio", "none"],
    );
    render(
        &input,
        &b,
        dir.path(),
        &["--crf", "0", "--chunk-seconds", "0", "--audio", "none"],
    );
    let (ma, mb) = (frame_md5s(&a), frame_md5s(&b));
    assert_eq!(ma.len() as u64, count_frames(&input));
    assert_eq!(ma, mb, "chunked and whole renders differ");
}

#[test]
fn chunked_and_unchunked_renders_give_identical_frames() {
    let input = generated(
        "seams.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=25:duration=8",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "25",
            "-bf",
            "3",
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    let stages = [
        "--stage",
        "color:saturation=1.4,contrast=1.1,gamma=1.2",
        "--stage",
        "scale:width=480,filter=lanczos3",
        "--crf",
        "0",
    ];
    let (a, b) = (dir.path().join("chunked.mp4"), dir.path().join("whole.mp4"));
    let mut args = stages.to_vec();
    args.extend(["--chunk-seconds", "1"]);
    render(&input, &a, dir.path(), &args);
    let mut args = stages.to_vec();
    args.extend(["--chunk-seconds", "0"]);
    render(&input, &b, dir.path(), &args);
    let (ma, mb) = (frame_md5s(&a), frame_md5s(&b));
    assert_eq!(ma.len(), 200);
    assert_eq!(ma, mb, "chunked and whole renders differ");
    let size = ffprobe_json(
        &a,
        &[
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=width,height",
        ],
    );
    assert_eq!(
        (
            size["streams"][0]["width"].as_u64(),
            size["streams"][0]["height"].as_u64()
        ),
        (Some(480), Some(360))
    );
    // The stages really changed the picture.
    assert_ne!(frame_md5s(&input)[0], ma[0]);
}

#[test]
fn killed_render_resumes_without_redoing_finished_chunks() {
    let input = generated(
        "resume.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=640x360:rate=25:duration=24",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "25",
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = dir.path().join("out.mp4");
    let args = [
        "render",
        s(&input),
        "-o",
        s(&out),
        "--data-dir",
        s(&data),
        "--preset",
        "medium",
        "--chunk-seconds",
        "2",
        "--jobs",
        "1",
        "--events",
    ];

    // First run: kill -9 once a chunk has finished.
    let done_before: Vec<u64> = kill_when(&args, |ev| ev["type"] == "chunk_done")
        .iter()
        .filter(|ev| ev["type"] == "chunk_done")
        .map(|ev| ev["chunk"].as_u64().unwrap())
        .collect();
    assert!(!done_before.is_empty());
    assert!(
        !out.exists(),
        "no output may appear before the job completes"
    );

    // Second run with the same arguments resumes.
    let events = events_of(&args);
    let planned = events
        .iter()
        .find(|e| e["type"] == "planned")
        .expect("planned event");
    assert!(
        planned["resumed"].as_u64().unwrap() >= done_before.len() as u64,
        "{planned}"
    );
    let claimed: Vec<u64> = events
        .iter()
        .filter(|e| e["type"] == "chunk_claimed")
        .map(|e| e["chunk"].as_u64().unwrap())
        .collect();
    for c in &done_before {
        assert!(!claimed.contains(c), "chunk {c} was rendered again");
    }
    let chunks = planned["chunks"].as_u64().unwrap();
    assert!(
        !claimed.is_empty(),
        "the kill must land before the job finished"
    );
    assert_eq!(
        claimed.len() as u64 + planned["resumed"].as_u64().unwrap(),
        chunks
    );

    // Every chunk was rendered to completion exactly once, as the store records.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let rows = rt.block_on(async {
        let store = kino_node::store::Store::open_sqlite(&data).await.unwrap();
        let id = events[0]["job"].as_str().unwrap().to_owned();
        store.chunks(&id).await.unwrap()
    });
    assert_eq!(rows.len() as u64, chunks);
    assert!(rows.iter().all(|r| r.renders == 1), "{rows:?}");

    // Same frames as an uninterrupted run.
    let clean = dir.path().join("clean.mp4");
    let out2 = kino(&[
        "render",
        s(&input),
        "-o",
        s(&clean),
        "--data-dir",
        s(&data),
        "--preset",
        "medium",
        "--chunk-seconds",
        "2",
        "--jobs",
        "1",
    ]);
    assert!(out2.status.success());
    assert_eq!(frame_md5s(&out), frame_md5s(&clean));
    assert_same_timing(&input, &out);
}

/// Runs a render expected to fail; returns (exit code, stderr).
fn render_fails(input: &Path, extra: &[&str]) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.mp4");
    let mut args = vec![
        "render",
        s(input),
        "-o",
        s(&out),
        "--data-dir",
        s(dir.path()),
    ];
    args.extend_from_slice(extra);
    let o = kino(&args);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(
        !o.status.success(),
        "expected failure for {}",
        input.display()
    );
    assert!(!err.contains("panicked"), "panic: {err}");
    assert_eq!(
        err.trim().lines().count(),
        1,
        "one-line reason expected: {err}"
    );
    assert!(err.starts_with("kino-node: error:"), "{err}");
    assert!(!out.exists());
    (o.status.code().unwrap_or(-1), err)
}

#[test]
fn bad_inputs_fail_with_one_line_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (code, err) = render_fails(&d.join("missing.mp4"), &[]);
    assert_eq!(code, 3);
    assert!(err.contains("not found"), "{err}");

    let empty = d.join("empty.mp4");
    std::fs::write(&empty, b"").unwrap();
    assert!(render_fails(&empty, &[]).1.contains("empty"));

    let text = d.join("notes.mp4");
    std::fs::write(&text, "These are meeting notes, not a video.\n".repeat(50)).unwrap();
    assert!(render_fails(&text, &[])
        .1
        .contains("not a recognised media file"));

    // Truncated: moov at the end (lost) and moov at the front (samples missing).
    let whole = generated(
        "trunc_src.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=25:duration=4",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
        ],
    );
    let fast = generated(
        "trunc_fast.mp4",
        &["-i", s(&whole), "-c", "copy", "-movflags", "+faststart"],
    );
    for (src, name) in [(&whole, "cut_end.mp4"), (&fast, "cut_front.mp4")] {
        let bytes = std::fs::read(src).unwrap();
        let cut = d.join(name);
        std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
        let (code, err) = render_fails(&cut, &[]);
        assert_eq!(code, 3, "{err}");
    }

    // An AVI whose codec tag no decoder knows.
    let avi = generated(
        "unknown_codec_src.avi",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=25:duration=1",
            "-c:v",
            "mpeg4",
            "-vtag",
            "FMP4",
        ],
    );
    let mut bytes = std::fs::read(&avi).unwrap();
    let mut i = 0;
    while i + 4 <= bytes.len() {
        if &bytes[i..i + 4] == b"FMP4" {
            bytes[i..i + 4].copy_from_slice(b"QQZ9");
        }
        i += 1;
    }
    let unknown = d.join("unknown.avi");
    std::fs::write(&unknown, bytes).unwrap();
    let (_, err) = render_fails(&unknown, &[]);
    assert!(err.contains("unsupported video codec"), "{err}");

    // A playlist is refused before FFmpeg follows it.
    let m3u = d.join("list.mp4");
    std::fs::write(&m3u, format!("#EXTM3U\n#EXTINF:1,\n{}\n", whole.display())).unwrap();
    assert!(render_fails(&m3u, &[]).1.contains("playlist"));
}

#[test]
fn bad_parameters_are_refused_with_the_field_named() {
    let input = generated(
        "params.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=25:duration=1",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
        ],
    );
    let (code, err) = render_fails(&input, &["--stage", "scale:width=0"]);
    assert_eq!(code, 2);
    assert!(err.contains("stages.scale.width"), "{err}");
    let (_, err) = render_fails(&input, &["--stage", "color:contrast=9"]);
    assert!(err.contains("stages.color.contrast"), "{err}");
    let (_, err) = render_fails(&input, &["--preset", "warp"]);
    assert!(err.contains("output.preset"), "{err}");
    let o = kino(&[
        "render",
        s(&input),
        "-o",
        "/tmp/x.mp4",
        "--stage",
        "warp:speed=9",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let dir = tempfile::tempdir().unwrap();
    let (code, err) = render_fails(&input, &["--crf", "80"]);
    assert_eq!(code, 2, "{err}");
    drop(dir);
}

#[test]
fn probe_reports_streams_and_keyframes() {
    let input = medium("video_street_bikes_4cuts.mp4");
    let o = kino(&["probe", s(&input)]);
    assert!(o.status.success());
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["video"]["codec"], "h264");
    assert_eq!(v["video"]["frames"].as_u64(), Some(count_frames(&input)));
    assert!(v["video"]["keyframes"].as_u64().unwrap() >= 1);
    assert_eq!(v["video"]["variable_frame_rate"], Value::Bool(false));
}

#[test]
fn other_codecs_and_containers_render() {
    let input = generated(
        "codecs.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=25:duration=2",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=500:duration=2",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "25",
            "-c:a",
            "aac",
            "-shortest",
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    for (codec, ext, vname, aname) in [
        ("h265", "mkv", "hevc", "aac"),
        ("vp9", "webm", "vp9", "opus"),
        ("av1", "mp4", "av1", "aac"),
    ] {
        let out = dir.path().join(format!("out.{ext}"));
        render(
            &input,
            &out,
            dir.path(),
            &["--codec", codec, "--chunk-seconds", "1"],
        );
        let v = ffprobe_json(&out, &["-show_entries", "stream=codec_type,codec_name"]);
        let names: Vec<(String, String)> = v["streams"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["codec_type"].as_str().unwrap().to_owned(),
                    s["codec_name"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        assert!(
            names.contains(&("video".into(), vname.into())),
            "{codec}: {names:?}"
        );
        assert!(
            names.contains(&("audio".into(), aname.into())),
            "{codec}: {names:?}"
        );
        assert_eq!(count_frames(&out), 50, "{codec}");
    }
    // WebM cannot carry H.264: refused up front, naming the field.
    let out = dir.path().join("bad.webm");
    let o = kino(&[
        "render",
        s(&input),
        "-o",
        s(&out),
        "--data-dir",
        s(dir.path()),
        "--codec",
        "h264",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("output.container"));
}

#[test]
fn rotation_colour_tags_and_hdr10_metadata_survive() {
    let plain = generated(
        "hdr10.mp4",
        &["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=2", "-pix_fmt", "yuv420p10le",
          "-c:v", "libx265", "-preset", "ultrafast",
          "-x265-params", "log-level=error:colorprim=bt2020:transfer=smpte2084:colormatrix=bt2020nc:master-display=G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,50):max-cll=1000,400",
          "-color_primaries", "bt2020", "-color_trc", "smpte2084", "-colorspace", "bt2020nc", "-tag:v", "hvc1"],
    );
    // FFmpeg 5.1 writes the display matrix only when remuxing.
    let input = generated(
        "hdr10_rot.mp4",
        &[
            "-i",
            s(&plain),
            "-c",
            "copy",
            "-metadata:s:v:0",
            "rotate=90",
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    for codec in ["h265", "h264"] {
        let out = dir.path().join(format!("{codec}.mp4"));
        render(
            &input,
            &out,
            dir.path(),
            &["--codec", codec, "--chunk-seconds", "1"],
        );
        let v = ffprobe_json(
            &out,
            &[
                "-select_streams",
                "v:0",
                "-show_entries",
                "stream=pix_fmt,color_primaries,color_transfer,color_space:stream_side_data",
            ],
        );
        let st = &v["streams"][0];
        assert_eq!(st["pix_fmt"], "yuv420p10le", "{codec}: {st}");
        assert_eq!(st["color_primaries"], "bt2020", "{codec}: {st}");
        assert_eq!(st["color_transfer"], "smpte2084", "{codec}: {st}");
        assert_eq!(st["color_space"], "bt2020nc", "{codec}: {st}");
        let rotation = st["side_data_list"]
            .as_array()
            .and_then(|l| l.iter().find_map(|d| d["rotation"].as_i64()));
        assert_eq!(rotation.map(|r| r.abs()), Some(90), "{codec}: {st}");
        // Read the SEI messages from the bitstream itself (FFmpeg 5.1's H.264 decoder does not
        // export them): payload 137 = mastering display, 144 = content light level.
        let sei = sei_payloads(&out, codec == "h265");
        let mdcv = sei
            .iter()
            .find(|(t, _)| *t == 137)
            .unwrap_or_else(|| panic!("{codec}: no mastering display SEI"));
        let be16 = |b: &[u8], i: usize| u16::from_be_bytes([b[i], b[i + 1]]) as u32;
        let be32 = |b: &[u8], i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let m = &mdcv.1;
        // G, B, R, white point (x, y), then max and min luminance.
        assert_eq!(
            (be16(m, 0), be16(m, 2), be16(m, 8), be16(m, 10)),
            (13250, 34500, 34000, 16000),
            "{codec}"
        );
        assert_eq!((be32(m, 16), be32(m, 20)), (10_000_000, 50), "{codec}");
        let cll = sei
            .iter()
            .find(|(t, _)| *t == 144)
            .unwrap_or_else(|| panic!("{codec}: no CLL SEI"));
        assert_eq!((be16(&cll.1, 0), be16(&cll.1, 2)), (1000, 400), "{codec}");
    }
}

/// (payload type, payload) of every SEI message in the video stream of `path` (Annex B, emulation
/// prevention removed).
fn sei_payloads(path: &Path, hevc: bool) -> Vec<(u32, Vec<u8>)> {
    let (bsf, fmt) = if hevc {
        ("hevc_mp4toannexb", "hevc")
    } else {
        ("h264_mp4toannexb", "h264")
    };
    let es = run(
        "ffmpeg",
        &[
            "-v",
            "error",
            "-i",
            s(path),
            "-map",
            "0:v:0",
            "-c",
            "copy",
            "-bsf:v",
            bsf,
            "-f",
            fmt,
            "-",
        ],
    )
    .stdout;
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= es.len() {
        if es[i..i + 3] == [0, 0, 1] {
            starts.push(i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    let mut out = Vec::new();
    for (k, &st) in starts.iter().enumerate() {
        let end = starts.get(k + 1).map(|e| e - 3).unwrap_or(es.len());
        let nal = &es[st..end];
        let (is_sei, header) = if hevc {
            (nal.first().map(|b| (b >> 1) & 0x3f) == Some(39), 2)
        } else {
            (nal.first().map(|b| b & 0x1f) == Some(6), 1)
        };
        if !is_sei || nal.len() <= header {
            continue;
        }
        let mut rbsp = Vec::with_capacity(nal.len());
        let mut zeros = 0;
        for &b in &nal[header..] {
            if zeros >= 2 && b == 3 {
                zeros = 0;
                continue;
            }
            zeros = if b == 0 { zeros + 1 } else { 0 };
            rbsp.push(b);
        }
        let mut p = 0;
        while p < rbsp.len() && rbsp[p] != 0x80 {
            let mut t = 0u32;
            while p < rbsp.len() && rbsp[p] == 0xff {
                t += 255;
                p += 1;
            }
            let Some(&last) = rbsp.get(p) else { break };
            t += last as u32;
            p += 1;
            let mut size = 0usize;
            while p < rbsp.len() && rbsp[p] == 0xff {
                size += 255;
                p += 1;
            }
            let Some(&last) = rbsp.get(p) else { break };
            size += last as usize;
            p += 1;
            let Some(payload) = rbsp.get(p..p + size) else {
                break;
            };
            out.push((t, payload.to_vec()));
            p += size;
        }
    }
    out
}
