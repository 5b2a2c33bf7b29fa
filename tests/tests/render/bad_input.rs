//! Bad inputs and parameters fail with one-line reasons naming the field.

use super::*;

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
