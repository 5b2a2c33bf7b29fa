//! Cut lists written as CMX 3600 EDL, FCPXML and OpenTimelineIO JSON, read back by OpenTimelineIO
//! (the reference implementation, with its CMX 3600 and FCP X XML adapters, from PyPI in
//! `.venv-tools`): every clip must come back with the source range that was written, in frames.
//!
//! Known limitation of `otio-fcpx-xml-adapter` 1.0.0, so FCPXML times are also checked exactly by
//! parsing the XML with Python's `fractions`: it reads the frame rate as `int(fps)` (29 for 29.97)
//! and truncates `float(N/D × fps)`, so its frame counts can be one low even at 25 fps (29/25 s
//! reads as 28 frames), and it reads media only from the pre-1.9 `asset src` attribute, not from
//! the `media-rep` that 1.9+ requires (the clip's reference comes back missing).

use kino_node::edit::{
    detect, timecode, AudioLevels, AutoEditParams, CutList, ExportFormat, ExportOptions, FrameRate,
    FrameStats, Segment, SourceMedia,
};
use kino_tests::{generated, kino, s, tools_python};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;

/// Reads every manifest entry with OpenTimelineIO and reports what it found, plus (for FCPXML) the
/// XML's own times converted to frames with exact fractions.
const READER: &str = r#"
import json, sys
from fractions import Fraction
import xml.etree.ElementTree as ET
import opentimelineio as otio

def frames(t, rate):
    # "N/Ds" or "Ns" seconds -> frames at rate, as text ("12", or "25/2" when not whole).
    return str(Fraction(t[:-1]) * rate) if t else None

out = []
for e in json.load(open(sys.argv[1])):
    kw = {"rate": e["num"] / e["den"]} if e["adapter"] == "cmx_3600" else {}
    res = otio.adapters.read_from_file(e["path"], adapter_name=e["adapter"], **kw)
    tls = [res] if isinstance(res, otio.schema.Timeline) else \
        [t for t in res if isinstance(t, otio.schema.Timeline)]
    tl = tls[0]
    tracks = []
    for tr in tl.tracks:
        clips = []
        for c in tr.find_clips():
            sr = c.source_range
            clips.append({
                "name": c.name,
                "start": sr.start_time.value, "start_rate": sr.start_time.rate,
                "duration": sr.duration.value, "duration_rate": sr.duration.rate,
                "record": c.range_in_parent().start_time.value,
                "url": getattr(c.media_reference, "target_url", None),
            })
        tracks.append({"name": tr.name, "kind": tr.kind, "clips": clips})
    r = {"timelines": len(tls), "name": tl.name, "tracks": tracks,
         "global_start": tl.global_start_time.value if tl.global_start_time else None}
    if e["adapter"] == "fcpx_xml":
        rate = Fraction(e["num"], e["den"])
        root = ET.parse(e["path"]).getroot()
        fmt = root.find("./resources/format")
        asset = root.find("./resources/asset")
        seq = root.find(".//sequence")
        r["xml"] = {
            "version": root.get("version"),
            "frame_duration": frames(fmt.get("frameDuration"), rate),
            "size": [fmt.get("width"), fmt.get("height")],
            "asset_start": frames(asset.get("start"), rate),
            "asset_duration": frames(asset.get("duration"), rate),
            "has_audio": asset.get("hasAudio"),
            "src": asset.find("media-rep").get("src"),
            "seq_duration": frames(seq.get("duration"), rate),
            "tc_start": frames(seq.get("tcStart"), rate),
            "tc_format": seq.get("tcFormat"),
            "clips": [{k: frames(ac.get(k), rate) for k in ("offset", "start", "duration")}
                      for ac in root.iter("asset-clip")],
        }
    out.append(r)
print(json.dumps(out))
"#;

/// One cut list under test.
struct Case {
    label: &'static str,
    cut: CutList,
}

fn segs(list: &[(u64, u64)]) -> Vec<Segment> {
    list.iter().map(|&(a, b)| Segment::new(a, b)).collect()
}

fn cut(source: SourceMedia, kept: &[(u64, u64)]) -> CutList {
    CutList::new(source, segs(kept), vec![]).expect("valid cut list")
}

/// A cut list made the way the node makes one: synthetic measurements through `detect`.
fn detected() -> CutList {
    let rate = FrameRate::FPS_25;
    let frames: Vec<FrameStats> = (0..750)
        .map(|i| FrameStats {
            pts: 1.4 + i as f64 / 25.0,
            black_ratio: if i < 100 { 1.0 } else { 0.2 }, // black for 4 s at the start
            diff: 0.02,
        })
        .collect();
    let audio = AudioLevels {
        start: 1.4,
        window: 0.01,
        // Silent from 12 s to 17 s.
        rms_db: (0..3000)
            .map(|i| {
                if (1200..1700).contains(&i) {
                    -80.0
                } else {
                    -18.0
                }
            })
            .collect(),
    };
    let d = detect(rate, &frames, Some(&audio), &AutoEditParams::default()).expect("detect");
    assert_eq!(d.kept, segs(&[(95, 305), (420, 750)]));
    let source = SourceMedia::new("/srv/media/interview take.mp4", rate, 750, 1280, 720)
        .with_audio(48_000, 2);
    d.into_cut_list(source).expect("cut list")
}

fn cases() -> Vec<Case> {
    let r = |n, d| FrameRate::new(n, d);
    vec![
        Case {
            // Drop-frame from 01:00:00;00, stereo; kept parts start at frame 0, cross the dropped
            // frame numbers of minute 1 and end at the last frame.
            label: "ntsc_2997_df",
            cut: cut(
                SourceMedia::new(
                    "/media/day 1/A001_C002.mov",
                    r(30000, 1001),
                    3597,
                    1920,
                    1080,
                )
                .with_audio(48_000, 2)
                .with_start_timecode("01:00:00;00")
                .expect("tc"),
                &[(0, 45), (1700, 1900), (3000, 3597)],
            ),
        },
        Case {
            // 25 fps from 10:00:00:00, mono; lengths whose seconds have no exact binary value.
            label: "pal_25",
            cut: cut(
                SourceMedia::new("/media/pal.mxf", r(25, 1), 2000, 720, 576)
                    .with_audio(44_100, 1)
                    .with_start_timecode("10:00:00:00")
                    .expect("tc"),
                &[(29, 57), (113, 246), (1000, 1029), (1999, 2000)],
            ),
        },
        Case {
            label: "film_23976_no_audio",
            cut: cut(
                SourceMedia::new("/media/film.mov", r(24000, 1001), 5000, 3840, 2160),
                &[(0, 24), (100, 1001), (4000, 4999)],
            ),
        },
        Case {
            label: "ntsc_2997_ndf",
            cut: {
                let mut s = SourceMedia::new("/media/ndf.mp4", r(30000, 1001), 4000, 1280, 720)
                    .with_audio(48_000, 2);
                s.drop_frame = false;
                cut(s, &[(0, 1799), (1801, 4000)])
            },
        },
        Case {
            label: "ntsc_5994_df",
            cut: cut(
                SourceMedia::new("/media/hfr.mp4", r(60000, 1001), 40_000, 1920, 1080)
                    .with_audio(48_000, 2),
                &[(3590, 3610), (35_960, 35_970), (39_000, 40_000)],
            ),
        },
        Case {
            label: "int_24",
            cut: cut(
                SourceMedia::new("/media/24.mov", r(24, 1), 1000, 1920, 1080),
                &[(0, 100), (123, 999)],
            ),
        },
        Case {
            label: "int_30",
            cut: cut(
                SourceMedia::new("/media/30.mp4", r(30, 1), 1000, 1920, 1080).with_audio(48_000, 2),
                &[(123, 245), (490, 1000)],
            ),
        },
        Case {
            label: "int_50",
            cut: cut(
                SourceMedia::new("/media/50.mp4", r(50, 1), 1000, 1920, 1080).with_audio(48_000, 2),
                &[(0, 57), (201, 203), (500, 1000)],
            ),
        },
        Case {
            label: "int_60",
            cut: cut(
                SourceMedia::new("/media/60.mp4", r(60, 1), 2000, 1920, 1080).with_audio(48_000, 2),
                &[(1, 2), (245, 1999)],
            ),
        },
        Case {
            label: "detected_25",
            cut: detected(),
        },
    ]
}

fn adapter(format: ExportFormat) -> &'static str {
    match format {
        ExportFormat::Edl => "cmx_3600",
        ExportFormat::Fcpxml => "fcpx_xml",
        ExportFormat::Otio => "otio_json",
    }
}

/// Writes every case in every format, reads them all back in one Python run.
fn write_and_read(dir: &Path, cases: &[Case]) -> Vec<(usize, ExportFormat, Value)> {
    let mut manifest = Vec::new();
    let mut written = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        for format in ExportFormat::ALL {
            let path = dir.join(format!("{}.{}", case.label, format.extension()));
            assert_eq!(ExportFormat::from_path(&path), Some(format));
            let opts = ExportOptions {
                title: Some(format!("Kino {}", case.label)),
                ..Default::default()
            };
            let text = format
                .write(&case.cut, &opts)
                .unwrap_or_else(|e| panic!("{} {format:?}: {e}", case.label));
            std::fs::write(&path, text).expect("write");
            manifest.push(json!({
                "path": path, "adapter": adapter(format),
                "num": case.cut.source.rate.num, "den": case.cut.source.rate.den,
            }));
            written.push((i, format));
        }
    }
    let manifest_path = dir.join("manifest.json");
    std::fs::write(&manifest_path, serde_json::to_vec(&manifest).expect("json")).expect("write");
    let out = Command::new(tools_python())
        .arg("-c")
        .arg(READER)
        .arg(&manifest_path)
        .output()
        .expect("running python");
    assert!(
        out.status.success(),
        "OpenTimelineIO could not read the files: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read: Vec<Value> = serde_json::from_slice(&out.stdout).expect("reader output");
    assert_eq!(read.len(), written.len());
    written
        .into_iter()
        .zip(read)
        .map(|((i, f), v)| (i, f, v))
        .collect()
}

fn num(v: &Value) -> f64 {
    v.as_f64()
        .unwrap_or_else(|| panic!("expected a number, got {v}"))
}

/// Expected placement of each kept segment: (source start incl. timecode, length, record offset).
fn expected(cut: &CutList) -> Vec<(u64, u64, u64)> {
    let mut at = 0;
    cut.kept
        .iter()
        .map(|s| {
            let e = (cut.source.start_timecode + s.start, s.len(), at);
            at += s.len();
            e
        })
        .collect()
}

/// 01:00:00:00 (or ;00) at the source rate, computed independently of the exporters.
fn one_hour(src: &SourceMedia) -> u64 {
    let sep = if src.drop_frame { ';' } else { ':' };
    timecode::parse(&format!("01:00:00{sep}00"), src.rate)
        .expect("tc")
        .0
}

/// Clips of a track match the cut list frame for frame, at the source rate.
fn check_exact_clips(label: &str, track: &Value, cut: &CutList) {
    let rate = cut.source.rate.num as f64 / cut.source.rate.den as f64;
    let clips = track["clips"].as_array().expect("clips");
    let want = expected(cut);
    assert_eq!(clips.len(), want.len(), "{label}: clip count in {track}");
    for (c, (start, len, record)) in clips.iter().zip(want) {
        assert_eq!(num(&c["start"]), start as f64, "{label}: start of {c}");
        assert_eq!(num(&c["duration"]), len as f64, "{label}: duration of {c}");
        assert_eq!(num(&c["record"]), record as f64, "{label}: record of {c}");
        for key in ["start_rate", "duration_rate"] {
            assert!(
                (num(&c[key]) - rate).abs() < 1e-9,
                "{label}: {key} {} vs {rate}",
                c[key]
            );
        }
        assert_eq!(c["name"], cut.source.clip_name(), "{label}: clip name");
    }
}

fn check_edl(label: &str, v: &Value, cut: &CutList) {
    let tracks = v["tracks"].as_array().expect("tracks");
    let want_tracks: &[&str] = match cut.source.audio {
        None => &["V"],
        Some(a) if a.channels == 1 => &["V", "A1"],
        Some(_) => &["V", "A1", "A2"],
    };
    let names: Vec<&str> = tracks.iter().filter_map(|t| t["name"].as_str()).collect();
    assert_eq!(names, want_tracks, "{label}: EDL tracks");
    for t in tracks {
        let kind = if t["name"] == "V" { "Video" } else { "Audio" };
        assert_eq!(t["kind"], kind, "{label}");
        check_exact_clips(label, t, cut);
    }
    assert_eq!(v["name"], format!("Kino {label}"));
}

fn check_otio(label: &str, v: &Value, cut: &CutList) {
    let tracks = v["tracks"].as_array().expect("tracks");
    let want = if cut.source.has_audio() {
        vec![("V1", "Video"), ("A1", "Audio")]
    } else {
        vec![("V1", "Video")]
    };
    assert_eq!(tracks.len(), want.len(), "{label}: OTIO tracks");
    for (t, (name, kind)) in tracks.iter().zip(want) {
        assert_eq!(
            (t["name"].as_str(), t["kind"].as_str()),
            (Some(name), Some(kind))
        );
        check_exact_clips(label, t, cut);
        for c in t["clips"].as_array().expect("clips") {
            let url = c["url"].as_str().expect("external reference");
            assert!(url.starts_with("file:///"), "{label}: {url}");
            assert!(!url.contains(' '), "{label}: spaces are encoded in {url}");
        }
    }
    assert_eq!(num(&v["global_start"]), one_hour(&cut.source) as f64);
    assert_eq!(v["name"], format!("Kino {label}"));
}

fn check_fcpxml(label: &str, v: &Value, cut: &CutList) {
    let src = &cut.source;
    // The exact check: the XML's rational times, in frames.
    let x = &v["xml"];
    assert_eq!(x["version"], "1.10");
    assert_eq!(x["frame_duration"], "1", "{label}: one frame");
    assert_eq!(
        x["size"],
        json!([src.width.to_string(), src.height.to_string()])
    );
    assert_eq!(x["asset_start"], src.start_timecode.to_string(), "{label}");
    assert_eq!(
        x["asset_duration"],
        src.duration_frames.to_string(),
        "{label}"
    );
    assert_eq!(x["seq_duration"], cut.kept_frames().to_string(), "{label}");
    let record = one_hour(src);
    assert_eq!(x["tc_start"], record.to_string(), "{label}");
    assert_eq!(x["tc_format"], if src.drop_frame { "DF" } else { "NDF" });
    let has_audio = x["has_audio"].as_str() == Some("1");
    assert_eq!(has_audio, src.has_audio(), "{label}: hasAudio");
    assert!(x["src"].as_str().is_some_and(|s| s.starts_with("file:///")));
    let clips = x["clips"].as_array().expect("asset-clips");
    let want = expected(cut);
    assert_eq!(clips.len(), want.len(), "{label}: asset-clip count");
    for (c, (start, len, at)) in clips.iter().zip(&want) {
        let got = (&c["offset"], &c["start"], &c["duration"]);
        let exp = (
            json!((record + at).to_string()),
            json!(start.to_string()),
            json!(len.to_string()),
        );
        assert_eq!(got, (&exp.0, &exp.1, &exp.2), "{label}: asset-clip");
    }

    // What the adapter can read: the project as a timeline, one video lane of named clips, and
    // their ranges within the truncation described at the top of this file.
    assert_eq!(v["timelines"], 1);
    assert_eq!(v["name"], format!("Kino {label}"));
    let tracks = v["tracks"].as_array().expect("tracks");
    assert_eq!(tracks.len(), 1, "{label}: one lane");
    assert_eq!(tracks[0]["kind"], "Video");
    let read = tracks[0]["clips"].as_array().expect("clips");
    assert_eq!(read.len(), want.len(), "{label}: clip count");
    let fps = src.rate.fps();
    for (c, (start, len, _)) in read.iter().zip(&want) {
        assert_eq!(c["name"], src.clip_name());
        for (key, frames) in [("start", start), ("duration", len)] {
            let adapter_rate = num(&c[format!("{key}_rate").as_str()]);
            assert_eq!(adapter_rate, fps.trunc(), "{label}: adapter's int(fps)");
            let seconds = num(&c[key]) / adapter_rate;
            let exact = *frames as f64 / fps;
            assert!(
                seconds <= exact + 1e-9 && exact - seconds < 1.0 / adapter_rate + 1e-9,
                "{label}: {key} {} @ {adapter_rate} for {frames} frames @ {fps}",
                c[key]
            );
        }
    }
}

#[test]
fn opentimelineio_reads_back_every_format_frame_exact() {
    let dir = tempfile::tempdir().expect("tmp");
    let cases = cases();
    let results = write_and_read(dir.path(), &cases);
    for (i, format, v) in &results {
        let case = &cases[*i];
        match format {
            ExportFormat::Edl => check_edl(case.label, v, &case.cut),
            ExportFormat::Fcpxml => check_fcpxml(case.label, v, &case.cut),
            ExportFormat::Otio => check_otio(case.label, v, &case.cut),
        }
    }
}

#[test]
fn drop_frame_edl_has_fcm_and_semicolons() {
    let case = &cases()[0];
    let edl = ExportFormat::Edl
        .write(&case.cut, &ExportOptions::default())
        .expect("edl");
    let mut lines = edl.lines();
    assert_eq!(lines.next(), Some("TITLE: A001_C002"));
    assert_eq!(lines.next(), Some("FCM: DROP FRAME"));
    let events: Vec<&str> = edl.lines().filter(|l| l.starts_with("00")).collect();
    assert_eq!(events.len(), 6, "V and AA per segment");
    // Segment 2 starts at frame 1700 after 01:00:00;00: 00:56;20, and ends at 1900: 01:03;12 (two
    // frame numbers skipped at the minute).
    assert_eq!(
        events[2],
        "003  AX       V     C        01:00:56;20 01:01:03;12 01:00:01;15 01:00:08;05"
    );
    assert!(edl.contains("* FROM CLIP NAME:  A001_C002.mov"));
    let pal = ExportFormat::Edl
        .write(&cases()[1].cut, &ExportOptions::default())
        .expect("edl");
    assert!(pal.contains("FCM: NON-DROP FRAME"));
    assert!(pal
        .contains("001  AX       V     C        10:00:01:04 10:00:02:07 01:00:00:00 01:00:01:03"));
    assert!(
        pal.contains("002  AX       A     C        "),
        "mono audio is channel A"
    );
}

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
    let kept: Vec<(usize, usize)> = r["auto_edit"]["cut_list"]["kept"]
        .as_array()
        .expect("kept")
        .iter()
        .map(|k| {
            (
                k["start"].as_u64().unwrap_or(0) as usize,
                k["end"].as_u64().unwrap_or(0) as usize,
            )
        })
        .collect();
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
    let pcm = kino_tests::mono_pcm(&out, 48_000);
    let mut clicks = Vec::new();
    let mut i = 0;
    while i < pcm.len() {
        if pcm[i].abs() > 0.5 {
            clicks.push(i as f64 / 48_000.0);
            i += 24_000;
        } else {
            i += 1;
        }
    }
    let out_time = |src_s: f64| -> Option<f64> {
        let f = (src_s * 25.0).round() as usize;
        let mut before = 0;
        for &(a, b) in &kept {
            if f >= a && f < b {
                return Some((before + f - a) as f64 / 25.0);
            }
            before += b - a;
        }
        None
    };
    let expect: Vec<f64> = (0..18)
        .filter(|&k| !(8..=10).contains(&k)) // silenced
        .filter_map(|k| out_time(k as f64))
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
    let py = Command::new(tools_python())
        .args([
            "-c",
            "import sys, opentimelineio as otio; t = otio.adapters.read_from_file(sys.argv[1]); print(sum(int(c.source_range.duration.to_frames()) for c in t.video_tracks()[0].find_clips()))",
            s(&otio),
        ])
        .output()
        .expect("python");
    assert!(
        py.status.success(),
        "{}",
        String::from_utf8_lossy(&py.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&py.stdout).trim(),
        map.len().to_string()
    );
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
