//! Cut lists written as CMX 3600 EDL, FCPXML and OpenTimelineIO JSON, read back by OpenTimelineIO
//! (the reference implementation, with its CMX 3600 and FCP X XML adapters, from PyPI in
//! `.venv-tools`): every clip must come back with the source range that was written, in frames.
//!
//! Also the auto-edit end to end: the `cutlist` command and `render --auto-edit` on generated clips
//! with known black, silent and frozen stretches.

mod autoedit;
mod export;
mod trim;

use serde_json::Value;
use std::path::Path;

/// The `kept` segments of a cut list in a report, as frame ranges.
fn kept_frames(cut_list: &Value) -> Vec<(usize, usize)> {
    cut_list["kept"]
        .as_array()
        .unwrap_or_else(|| panic!("no kept segments: {cut_list}"))
        .iter()
        .map(|k| {
            (
                k["start"].as_u64().unwrap_or(0) as usize,
                k["end"].as_u64().unwrap_or(0) as usize,
            )
        })
        .collect()
}

/// Where source frame `f` lands in the output (seconds at 25 fps), if `kept` keeps it.
fn out_time(kept: &[(usize, usize)], f: usize) -> Option<f64> {
    let mut before = 0;
    for &(a, b) in kept {
        if (a..b).contains(&f) {
            return Some((before + f - a) as f64 / 25.0);
        }
        before += b - a;
    }
    None
}

/// Times (seconds) of the clicks in `out`'s sound: samples above 0.5, at most one per half second.
fn clicks(out: &Path) -> Vec<f64> {
    let pcm = kino_tests::mono_pcm(out, 48_000);
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
    clicks
}

/// Frames of the video track of an OpenTimelineIO file, as OpenTimelineIO reads them.
fn otio_frames(otio: &Path) -> String {
    let py = std::process::Command::new(kino_tests::tools_python())
        .args([
            "-c",
            "import sys, opentimelineio as otio; t = otio.adapters.read_from_file(sys.argv[1]); print(sum(int(c.source_range.duration.to_frames()) for c in t.video_tracks()[0].find_clips()))",
            kino_tests::s(otio),
        ])
        .output()
        .expect("python");
    assert!(
        py.status.success(),
        "{}",
        String::from_utf8_lossy(&py.stderr)
    );
    String::from_utf8_lossy(&py.stdout).trim().to_owned()
}
