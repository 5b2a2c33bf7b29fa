//! Trim: `render --trim` keeps exactly the frames of the given ranges, picture and sound together,
//! skips chunks it cuts away whole, writes the cut list for editors, and refuses ranges it cannot
//! keep with a one-line reason.

use super::{clicks, kept_frames, otio_frames, out_time};
use kino_tests::{generated, kino, s};
use serde_json::Value;

/// 10 s of `testsrc2` at 25 fps, lossless H.264 with a keyframe every second, and a 10 ms click at
/// every whole second of a quiet tone (PCM, MOV).
fn clicking_clip() -> std::path::PathBuf {
    generated(
        "trim-clicks.mov",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=160x120:rate=25:duration=10",
            "-f",
            "lavfi",
            "-i",
            "aevalsrc=exprs='if(lt(mod(t\\,1)\\,0.01)\\,0.9\\,0.1*sin(2*PI*440*t))':s=48000:d=10",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-qp",
            "0",
            "-g",
            "25",
            "-c:a",
            "pcm_s16le",
            "-f",
            "mov",
        ],
    )
}

/// Two ranges, as a user marks them: 00:01.5–00:04 and 6–7.2 s keep frames 38–99 and 150–179 (a
/// time snaps to the nearest frame start). The output holds exactly those source frames, bit for
/// bit, on an unbroken clock; each click of a kept second sits where that second lands; the sound
/// lasts as long as the picture; the first second's chunk is cut away whole; the cut list reads
/// back in OpenTimelineIO with the kept frames.
#[test]
fn render_with_trim_keeps_exactly_the_marked_frames_and_their_sound() {
    let video = clicking_clip();
    let dir = tempfile::tempdir().expect("tmp");
    let (out, otio, report) = (
        dir.path().join("trimmed.mp4"),
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
        "--trim",
        "00:01.5-00:04",
        "--trim",
        "6-7.2",
        "--cut-list",
        s(&otio),
        "--report",
        s(&report),
        "--events",
    ]);
    let last = events.last().expect("events");
    assert_eq!(last["type"], "done", "{last}");
    let skipped = events
        .iter()
        .filter(|e| e["type"] == "chunk_done" && e["frames"] == 0)
        .count();
    assert!(skipped >= 1, "no chunk was cut away whole");

    let r: Value = serde_json::from_slice(&std::fs::read(&report).expect("report")).expect("json");
    let kept = kept_frames(&r["trim"]["cut_list"]);
    assert_eq!(kept, [(38, 100), (150, 180)]);
    assert_eq!(r["trim"]["kept_frames"], 92);
    assert_eq!(r["trim"]["cut_list"]["removed"][0]["reasons"][0], "trimmed");

    let src = kino_tests::decoded_frames(&video);
    let got = kino_tests::decoded_frames(&out);
    let map: Vec<usize> = kept.iter().flat_map(|&(a, b)| a..b).collect();
    assert_eq!(got.len(), map.len(), "output frames");
    for (j, &i) in map.iter().enumerate() {
        assert!(got[j] == src[i], "output frame {j} is not source frame {i}");
    }
    for (j, t) in kino_tests::frame_times(&out).iter().enumerate() {
        assert!((t - j as f64 / 25.0).abs() < 1e-3, "frame {j} at {t}");
    }

    let (vd, ad) = (
        kino_tests::stream_duration(&out, "v:0"),
        kino_tests::stream_duration(&out, "a:0"),
    );
    assert!((vd - ad).abs() < 0.04, "video {vd} s, audio {ad} s");
    let clicks = clicks(&out);
    let expect: Vec<f64> = (0..10).filter_map(|k| out_time(&kept, k * 25)).collect();
    assert_eq!(expect.len(), 4);
    assert_eq!(
        clicks.len(),
        expect.len(),
        "clicks {clicks:?}, want {expect:?}"
    );
    for (c, e) in clicks.iter().zip(&expect) {
        assert!((c - e).abs() < 0.003, "click at {c} s, want {e} s");
    }

    assert_eq!(otio_frames(&otio), "92");
}

/// Ranges that cannot be kept are refused before anything is rendered, with exit code 2 and a
/// reason that names the range.
#[test]
fn trim_ranges_that_cannot_be_kept_are_refused_with_the_reason() {
    let video = clicking_clip();
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("x.mp4");
    for (trim, says) in [
        (vec!["5-3"], "end must be after the start"),
        (vec!["abc"], "not a range"),
        (vec!["30-"], "after the video's end"),
        (vec!["0-2", "1-3"], "keep[1]"),
    ] {
        let mut args = vec!["render", s(&video), "-o", s(&out)];
        for t in &trim {
            args.extend(["--trim", t]);
        }
        let data = dir.path().join("data");
        args.extend(["--data-dir", s(&data)]);
        let o = kino(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{trim:?}: {err}");
        assert!(err.contains(says), "{trim:?}: {err}");
        assert!(!out.exists(), "{trim:?} wrote an output");
    }
}
