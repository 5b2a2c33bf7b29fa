//! Auto-edit: black, silent and frozen stretches found by the `cutlist` command and cut by
//! `render --auto-edit`, picture and sound together.

use super::{clicks, kept_frames, otio_frames, out_time};
use kino_tests::{generated, kino, s, tools_python};
use serde_json::Value;
use std::process::Command;

/// 18 s of `testsrc2` at 25 fps (`size`) with the sound `audio` (a lavfi source), black 3–5.5 s,
/// silent 8–10.5 s and frozen 13–15.5 s; lossless H.264 (`extra` encoder options), PCM, in MOV.
fn autoedit_clip(name: &str, size: &str, audio: &str, extra: &[&str]) -> std::path::PathBuf {
    let video = format!("testsrc2=size={size}:rate=25:duration=18");
    let mut args = vec![
        "-f",
        "lavfi",
        "-i",
        &video,
        "-f",
        "lavfi",
        "-i",
        audio,
        "-filter_complex",
        "[0:v]drawbox=x=0:y=0:w=iw:h=ih:color=black:t=fill:enable='between(t,3,5.5)',split[a][b];[a][b]freezeframes=first=326:last=387:replace=325[v]",
        "-map",
        "[v]",
        "-map",
        "1:a",
        "-af",
        "volume=volume=0:enable='between(t,8,10.5)'",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-qp",
        "0",
    ];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["-c:a", "pcm_s16le", "-f", "mov"]);
    generated(name, &args)
}

/// A generated clip with known stretches: black 3–5.5 s, silence 8–10.5 s, a frozen picture
/// 13–15.5 s, between moving, sounding parts (18 s at 25 fps). With the default 0.2 s margins and
/// frozen detection on, the `cutlist` command keeps exactly the rest, to the frame, and its EDL and
/// OTIO files read back in OpenTimelineIO with those ranges.
#[test]
fn cutlist_command_finds_black_silent_and_frozen_stretches() {
    let video = autoedit_clip(
        "autoedit.mp4",
        "320x240",
        "sine=f=440:sample_rate=48000:duration=18",
        &[],
    );
    let dir = tempfile::tempdir().expect("tmp");
    let (edl, otio) = (dir.path().join("cut.edl"), dir.path().join("cut.otio"));
    let out = kino(&[
        "cutlist",
        s(&video),
        "--settings",
        "frozen=true",
        "-o",
        s(&edl),
        "-o",
        s(&otio),
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: Value = serde_json::from_slice(&out.stdout).expect("json");
    let kept: Vec<(u64, u64)> = list["kept"]
        .as_array()
        .expect("kept")
        .iter()
        .map(|k| {
            (
                k["start"].as_u64().expect("start"),
                k["end"].as_u64().expect("end"),
            )
        })
        .collect();
    let want = [(0, 80), (133, 205), (257, 331), (383, 450)];
    assert_eq!(kept.len(), want.len(), "{kept:?}");
    for (k, w) in kept.iter().zip(want) {
        assert!(
            k.0.abs_diff(w.0) <= 1 && k.1.abs_diff(w.1) <= 1,
            "kept {kept:?}, want {want:?}"
        );
    }
    let reasons: Vec<String> = list["removed"]
        .as_array()
        .expect("removed")
        .iter()
        .map(|r| r["reasons"].to_string())
        .collect();
    // Black frames are also identical frames: that stretch is black and frozen.
    assert_eq!(
        reasons,
        [r#"["black","frozen"]"#, r#"["silence"]"#, r#"["frozen"]"#]
    );
    // Both files read back with the kept ranges (EDL: one video event per segment).
    let code = r#"
import sys, json, opentimelineio as otio
out = {}
for path, adapter in ((sys.argv[1], "cmx_3600"), (sys.argv[2], "otio_json")):
    kw = {"rate": 25} if adapter == "cmx_3600" else {}
    t = otio.adapters.read_from_file(path, adapter_name=adapter, **kw)
    v = [tr for tr in t.tracks if tr.kind == "Video"][0]
    out[adapter] = [(int(c.source_range.start_time.to_frames()), int(c.source_range.duration.to_frames())) for c in v.find_clips()]
print(json.dumps(out))
"#;
    let py = Command::new(tools_python())
        .args(["-c", code, s(&edl), s(&otio)])
        .output()
        .expect("python");
    assert!(
        py.status.success(),
        "{}",
        String::from_utf8_lossy(&py.stderr)
    );
    let read: Value = serde_json::from_slice(&py.stdout).expect("otio json");
    for adapter in ["cmx_3600", "otio_json"] {
        let clips: Vec<(u64, u64)> = read[adapter]
            .as_array()
            .expect("clips")
            .iter()
            .map(|c| {
                (
                    c[0].as_u64().expect("start"),
                    c[1].as_u64().expect("duration"),
                )
            })
            .collect();
        let expect: Vec<(u64, u64)> = kept.iter().map(|&(a, b)| (a, b - a)).collect();
        assert_eq!(clips, expect, "{adapter}");
    }
}

/// Auto-edit rendered: the same kind of clip (black 3–5.5 s, silence 8–10.5 s, frozen 13–15.5 s),
/// with a keyframe every second so some chunks lie wholly inside a cut, and a 10 ms click at every
/// whole second of the source's sound. Rendered losslessly with `--auto-edit`, the output holds
/// exactly the kept frames, in order and unchanged; every click that survives sits where its source
/// second lands on the output's clock (picture and sound cut together); audio lasts as long as the
/// video; and the cut list written beside it reads back in OpenTimelineIO.
#[test]
fn render_with_auto_edit_keeps_exactly_the_kept_frames_and_their_sound() {
    let video = autoedit_clip(
        "autoedit-render.mp4",
        "160x120",
        "aevalsrc=exprs='if(lt(mod(t\\,1)\\,0.01)\\,0.9\\,0.1*sin(2*PI*440*t))':s=48000:d=18",
        &["-g", "25"],
    );
    let dir = tempfile::tempdir().expect("tmp");
    let (out, otio, report) = (
        dir.path().join("cut.mp4"),
        dir.path().join("cut.otio"),
        dir.path().join("report.json"),
    );
    let data = dir.path().join("data");
    let events = kino_tests::events_of(&[
        "render",
        s(&video),
        "-o",
        s(&out),
        "--data-dir",
        s(&data),
        "--preset",
        "ultrafast",
        "--crf",
        "0",
        "--chunk-seconds",
        "1",
        "--auto-edit=frozen=true",
        "--cut-list",
        s(&otio),
        "--report",
        s(&report),
        "--events",
    ]);
    let warnings: Vec<&Value> = events
        .iter()
        .filter(|e| {
            e["type"] == "warning" && !e["message"].as_str().unwrap_or("").contains("re-encoded")
        })
        .collect();
    assert!(warnings.is_empty(), "{warnings:?}");
    // Chunks inside the black stretch are skipped, not rendered.
    let skipped = events
        .iter()
        .filter(|e| e["type"] == "chunk_done" && e["frames"] == 0)
        .count();
    assert!(skipped >= 1, "no chunk was cut away whole");

    let r: Value = serde_json::from_slice(&std::fs::read(&report).expect("report")).expect("json");
    let kept = kept_frames(&r["auto_edit"]["cut_list"]);
    let want = [(0, 80), (133, 205), (257, 331), (383, 450)];
    assert_eq!(kept.len(), want.len(), "{kept:?}");
    for (k, w) in kept.iter().zip(want) {
        assert!(
            k.0.abs_diff(w.0) <= 1 && k.1.abs_diff(w.1) <= 1,
            "kept {kept:?}"
        );
    }

    // Picture: exactly the kept source frames, in order, bit for bit (lossless both ends).
    let src = kino_tests::decoded_frames(&video);
    let got = kino_tests::decoded_frames(&out);
    let map: Vec<usize> = kept.iter().flat_map(|&(a, b)| a..b).collect();
    assert_eq!(got.len(), map.len(), "output frames");
    for (j, &i) in map.iter().enumerate() {
        assert!(got[j] == src[i], "output frame {j} is not source frame {i}");
    }
    let times = kino_tests::frame_times(&out);
    for (j, t) in times.iter().enumerate() {
        assert!((t - j as f64 / 25.0).abs() < 1e-3, "frame {j} at {t}");
    }

    // Sound: the clicks of the kept seconds, each where its second lands in the output.
    let (vd, ad) = (
        kino_tests::stream_duration(&out, "v:0"),
        kino_tests::stream_duration(&out, "a:0"),
    );
    assert!((vd - ad).abs() < 0.04, "video {vd} s, audio {ad} s");
    let clicks = clicks(&out);
    let expect: Vec<f64> = (0..18)
        .filter(|&k| !(8..=10).contains(&k)) // silenced
        .filter_map(|k| out_time(&kept, k * 25))
        .collect();
    assert_eq!(
        clicks.len(),
        expect.len(),
        "clicks {clicks:?}, want {expect:?}"
    );
    for (c, e) in clicks.iter().zip(&expect) {
        assert!((c - e).abs() < 0.003, "click at {c} s, want {e} s");
    }

    // The cut list describes the source and reads back.
    assert_eq!(otio_frames(&otio), map.len().to_string());
}

/// Auto-edit with loudness normalisation: the sound inside the black stretch (cut away with its
/// margins) is 25 dB louder than the rest. Loudness is measured on what is kept, so the output meets
/// the target as FFmpeg's ebur128 measures it; measured on the whole source (the loud stretch alone
/// passes R128's relative gate) it came out at -40.4 LUFS.
#[test]
fn auto_edit_normalises_the_loudness_of_what_it_keeps() {
    let video = autoedit_clip(
        "autoedit-loud.mp4",
        "160x120",
        "aevalsrc=exprs='if(between(t\\,3.3\\,5.2)\\,0.9\\,0.05)*sin(2*PI*440*t)':s=48000:d=18",
        &[],
    );
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("cut.mp4");
    kino_tests::render(
        &video,
        &out,
        &dir.path().join("data"),
        &["--auto-edit", "--audio-stage", "loudness:target_lufs=-16"],
    );
    let (i, tp) = kino_tests::ebur128(&out);
    assert!((i + 16.0).abs() <= 0.5, "kept sound at {i} LUFS");
    assert!(tp <= -1.0, "true peak {tp} dBTP");
}
