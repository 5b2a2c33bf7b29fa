//! What the detect stage draws into the output: faces blurred on every frame, boxes in the class
//! colour.

use super::*;

/// Luma planes of every frame, decoded by the ffmpeg CLI.
fn luma_frames(path: &Path, w: usize, h: usize) -> Vec<Vec<u8>> {
    let out = run(
        "ffmpeg",
        &[
            "-v",
            "error",
            "-i",
            s(path),
            "-f",
            "rawvideo",
            "-pix_fmt",
            "gray",
            "-",
        ],
    );
    out.stdout.chunks_exact(w * h).map(|c| c.to_vec()).collect()
}

/// Mean squared difference between horizontal and vertical neighbours inside `r` (x0, y0, x1, y1).
fn hf_energy(y: &[u8], w: usize, r: [usize; 4]) -> f64 {
    let (mut e, mut n) = (0.0, 0.0f64);
    for row in r[1]..r[3] - 1 {
        for col in r[0]..r[2] - 1 {
            let v = y[row * w + col] as f64;
            e += (y[row * w + col + 1] as f64 - v).powi(2)
                + (y[(row + 1) * w + col] as f64 - v).powi(2);
            n += 1.0;
        }
    }
    e / n.max(1.0)
}

/// A track's box (x, y, w, h) on `frame`, interpolated between its detections like the renderer.
fn track_box(t: &Value, frame: u64) -> Option<[f64; 4]> {
    let pts: Vec<(u64, [f64; 4])> = t["frames"]
        .as_array()?
        .iter()
        .map(|b| {
            let f = |k: &str| b[k].as_f64().unwrap_or(0.0);
            (
                b["frame"].as_u64().unwrap_or(0),
                [f("x"), f("y"), f("w"), f("h")],
            )
        })
        .collect();
    let i = pts.partition_point(|p| p.0 <= frame);
    let (a, b) = (
        pts.get(i.checked_sub(1)?)?,
        pts.get(i).unwrap_or(pts.get(i - 1)?),
    );
    let t = if b.0 > a.0 {
        (frame - a.0) as f64 / (b.0 - a.0) as f64
    } else {
        0.0
    };
    Some(std::array::from_fn(|k| a.1[k] + (b.1[k] - a.1[k]) * t))
}

#[test]
fn faces_are_blurred_on_every_frame_and_nothing_else_changes() {
    let Some(media) = shared_media() else {
        println!("SKIP faces_are_blurred_on_every_frame: ../shared/media is missing (needs the real webcam clip with a face)");
        return;
    };
    let clip = media.join("video_webcam_man_speaking.avi");
    let dir = tempfile::tempdir().expect("tempdir");
    let (blurred, plain, json) = (
        dir.path().join("blurred.mp4"),
        dir.path().join("plain.mp4"),
        dir.path().join("faces.json"),
    );
    let data = dir.path().join("data");
    let (ok, _, err) = kino_models(
        &[
            "render",
            s(&clip),
            "-o",
            s(&blurred),
            "--data-dir",
            s(&data),
            "--preset",
            "ultrafast",
            "--crf",
            "12",
            "--chunk-seconds",
            "1",
            "--stage",
            "detect:classes=face,blur=face,every=3",
            "--tracks",
            s(&json),
        ],
        &models_dir(),
    );
    assert!(ok, "{err}");
    render(&clip, &plain, &data, &["--crf", "12"]);
    let tracks: Value =
        serde_json::from_slice(&std::fs::read(&json).expect("tracks")).expect("json");
    let faces: Vec<&Value> = tracks["tracks"]
        .as_array()
        .expect("tracks")
        .iter()
        .filter(|t| t["class"] == "face")
        .collect();
    assert_eq!(faces.len(), 1, "one face expected: {tracks}");
    let (w, h) = (160usize, 120usize);
    let (src, out, reference) = (
        luma_frames(&clip, w, h),
        luma_frames(&blurred, w, h),
        luma_frames(&plain, w, h),
    );
    assert_eq!(src.len(), out.len());
    let (mut worst_ratio, mut worst_outside) = (f64::INFINITY, 0.0f64);
    for (i, ((s_, o), p)) in src.iter().zip(&out).zip(&reference).enumerate() {
        // The whole video is one face track: every frame has the box (held past its ends).
        let b = track_box(faces[0], i as u64).expect("box on every frame");
        let inner = [
            b[0] + 0.1 * b[2],
            b[1] + 0.1 * b[3],
            b[0] + 0.9 * b[2],
            b[1] + 0.9 * b[3],
        ]
        .map(|v| v.max(0.0) as usize);
        let inner = [inner[0], inner[1], inner[2].min(w), inner[3].min(h)];
        let ratio = hf_energy(s_, w, inner) / hf_energy(o, w, inner).max(1e-3);
        worst_ratio = worst_ratio.min(ratio);
        // Outside the padded box (20 % on each side) plus a margin for the encoder's blocks: the
        // blurred output against the plain render of the same settings.
        let pad = [
            b[0] - 0.2 * b[2] - 8.0,
            b[1] - 0.2 * b[3] - 8.0,
            b[0] + 1.2 * b[2] + 8.0,
            b[1] + 1.2 * b[3] + 8.0,
        ];
        let (mut diff, mut n) = (0.0, 0.0f64);
        for y in 0..h {
            for x in 0..w {
                let (fx, fy) = (x as f64, y as f64);
                if fx >= pad[0] && fx < pad[2] && fy >= pad[1] && fy < pad[3] {
                    continue;
                }
                diff += (o[y * w + x] as f64 - p[y * w + x] as f64).abs();
                n += 1.0;
            }
        }
        worst_outside = worst_outside.max(diff / n.max(1.0));
    }
    println!(
        "face blur over {} frames: high-frequency energy in the face box drops by at least {worst_ratio:.0}×; \
         outside the padded box the output differs from a plain render by at most {worst_outside:.2} levels (mean |Δ|)",
        src.len()
    );
    assert!(
        worst_ratio >= 20.0,
        "the face keeps detail: ratio {worst_ratio}"
    );
    assert!(
        worst_outside <= 1.5,
        "outside the box changed: {worst_outside}"
    );
}

#[test]
fn boxes_are_drawn_in_the_class_colour() {
    let Some(media) = shared_media() else {
        println!("SKIP boxes_are_drawn_in_the_class_colour: ../shared/media is missing");
        return;
    };
    let (clip, _, _) = walkers_clip(&media);
    let dir = tempfile::tempdir().expect("tempdir");
    let (out, json) = (dir.path().join("drawn.mp4"), dir.path().join("t.json"));
    let (ok, _, err) = kino_models(
        &[
            "render",
            s(&clip),
            "-o",
            s(&out),
            "--data-dir",
            s(&dir.path().join("data")),
            "--preset",
            "ultrafast",
            "--crf",
            "12",
            "--stage",
            "detect:classes=person,every=2,draw=true",
            "--tracks",
            s(&json),
        ],
        &models_dir(),
    );
    assert!(ok, "{err}");
    let tracks: Value =
        serde_json::from_slice(&std::fs::read(&json).expect("tracks")).expect("json");
    // Frame 20 of the output as RGB: the left edge of every person's box is red (person's colour).
    let rgb = run(
        "ffmpeg",
        &[
            "-v",
            "error",
            "-i",
            s(&out),
            "-vf",
            "select=eq(n\\,20)",
            "-frames:v",
            "1",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-",
        ],
    )
    .stdout;
    let mut checked = 0;
    for t in tracks["tracks"].as_array().expect("tracks") {
        let Some(b) = track_box(t, 20) else { continue };
        let (x, y0, y1) = (
            b[0] as usize + 1,
            b[1] as usize + 4,
            (b[1] + b[3]) as usize - 4,
        );
        let red = (y0..y1)
            .filter(|&y| {
                let p = &rgb[(y * 640 + x) * 3..(y * 640 + x) * 3 + 3];
                p[0] > 180 && p[1] < 110 && p[2] < 110
            })
            .count();
        assert!(
            red * 10 >= (y1 - y0) * 8,
            "track {}: {red} of {} edge pixels red",
            t["id"],
            y1 - y0
        );
        checked += 1;
    }
    assert!(checked >= 3, "{tracks}");
}
