//! Cut lists written in every format and read back by OpenTimelineIO, frame exact.
//!
//! Known limitation of `otio-fcpx-xml-adapter` 1.0.0, so FCPXML times are also checked exactly by
//! parsing the XML with Python's `fractions`: it reads the frame rate as `int(fps)` (29 for 29.97)
//! and truncates `float(N/D × fps)`, so its frame counts can be one low even at 25 fps (29/25 s
//! reads as 28 frames), and it reads media only from the pre-1.9 `asset src` attribute, not from
//! the `media-rep` that 1.9+ requires (the clip's reference comes back missing).

use kino_node::edit::{
    find_stretches, timecode, AudioLevels, AutoEditParams, CutList, ExportFormat, ExportOptions,
    FrameMeasure, FrameRate, Segment, SourceMedia,
};
use kino_tests::tools_python;
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
    let frames: Vec<FrameMeasure> = (0..750)
        .map(|i| FrameMeasure {
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
    let d =
        find_stretches(rate, &frames, Some(&audio), &AutoEditParams::default()).expect("detect");
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
