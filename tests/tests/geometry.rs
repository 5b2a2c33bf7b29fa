//! Picture geometry end to end: the pixel aspect ratio through stages and containers, exact crops of
//! visible sizes that are not a multiple of the coded block size, the frame rate of streams that
//! state only a nominal one, and interlaced fields. Measured with the `ffmpeg`/`ffprobe` command line.

use kino_tests::*;
use serde_json::Value;
use std::path::Path;

/// Width, height and pixel aspect ratio of the first video stream as ffprobe reads them (the
/// container's SAR where it has one: MP4 `pasp`, Matroska display size).
fn stream_geometry(path: &Path) -> (u32, u32, f64) {
    let v = ffprobe_json(
        path,
        &[
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=width,height,sample_aspect_ratio",
        ],
    );
    let s = &v["streams"][0];
    let w = s["width"].as_u64().expect("width") as u32;
    let h = s["height"].as_u64().expect("height") as u32;
    (
        w,
        h,
        ratio(s["sample_aspect_ratio"].as_str().unwrap_or("1:1")),
    )
}

fn ratio(s: &str) -> f64 {
    let (n, d) = s.split_once(':').unwrap_or(("1", "1"));
    let (n, d): (f64, f64) = (n.parse().unwrap_or(1.0), d.parse().unwrap_or(1.0));
    if n > 0.0 && d > 0.0 {
        n / d
    } else {
        1.0
    }
}

/// The pixel aspect ratio written in the H.264 bitstream itself (VUI): the stream copied into a raw
/// Annex B file, which has no container to state one.
fn bitstream_sar(path: &Path, dir: &Path) -> f64 {
    let raw = dir.join(format!(
        "{}.h264",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("x")
    ));
    ffmpeg(&[
        "-y",
        "-v",
        "error",
        "-i",
        s(path),
        "-map",
        "0:v:0",
        "-c",
        "copy",
        "-f",
        "h264",
        s(&raw),
    ]);
    stream_geometry(&raw).2
}

fn display_aspect(path: &Path) -> f64 {
    let (w, h, sar) = stream_geometry(path);
    w as f64 * sar / h as f64
}

/// A clip whose pixels are `sar_num:sar_den`, with a disc that is round on screen (an ellipse in
/// the stored pixels) on black.
fn anamorphic_clip(name: &str, w: u32, h: u32, sar: (u32, u32), frames: u32) -> std::path::PathBuf {
    let r = h as f64 * 0.35;
    let geq = format!(
        "geq=lum='if(lt(pow((X-{cx})*{n}/{d},2)+pow(Y-{cy},2),{r2}),235,16)':cb=128:cr=128",
        cx = w / 2,
        cy = h / 2,
        n = sar.0,
        d = sar.1,
        r2 = r * r
    );
    let vf = format!(
        "format=yuv420p,{geq},setsar=sar={}/{}:max=1000",
        sar.0, sar.1
    );
    generated(
        name,
        &[
            "-f",
            "lavfi",
            "-i",
            &format!("color=black:size={w}x{h}:rate=25"),
            "-frames:v",
            &frames.to_string(),
            "-vf",
            &vf,
            "-c:v",
            "libx264",
            "-crf",
            "8",
            "-preset",
            "veryfast",
        ],
    )
}

/// Width and height (in displayed pixels) of the bright disc in the middle frame of `path`.
fn disc_extent(path: &Path) -> (f64, f64) {
    let (w, h, sar) = stream_geometry(path);
    let out = run(
        "ffmpeg",
        &[
            "-v",
            "error",
            "-i",
            s(path),
            "-frames:v",
            "1",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "gray",
            "-",
        ],
    );
    let px = &out.stdout;
    assert_eq!(px.len(), (w * h) as usize, "one grey frame");
    let at = |x: u32, y: u32| px[(y * w + x) as usize] > 125;
    let row = (0..w).filter(|&x| at(x, h / 2)).count() as f64;
    let col = (0..h).filter(|&y| at(w / 2, y)).count() as f64;
    (row * sar, col)
}

#[test]
fn anamorphic_sources_keep_their_display_aspect_through_stages_and_containers() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        // CIF at 128:117 (DV/VCD-era PAL), shown 1.34:1 though stored 1.22:1.
        (
            anamorphic_clip("sar_cif.mp4", 176, 144, (128, 117), 20),
            (128u32, 117u32),
        ),
        // HDV: 1440x1080 stored, 1920x1080 shown.
        (
            anamorphic_clip("sar_hdv.mp4", 1440, 1080, (4, 3), 4),
            (4, 3),
        ),
    ];
    for (input, sar) in &cases {
        let want = display_aspect(input);
        let (iw, ih, _) = stream_geometry(input);
        assert!(
            (want - iw as f64 * sar.0 as f64 / sar.1 as f64 / ih as f64).abs() < 1e-3,
            "the generated clip carries its SAR"
        );
        for (label, stages) in [
            ("none", vec![]),
            ("x2", vec!["--stage", "scale:factor=2"]),
            ("h240", vec!["--stage", "scale:height=240"]),
            ("keep", vec!["--stage", "scale:factor=2,pixels=keep"]),
        ] {
            for ext in ["mp4", "mkv"] {
                let out = dir
                    .path()
                    .join(format!("{}-{label}.{ext}", sar.0 * 1000 + sar.1));
                render(input, &out, dir.path(), &stages);
                let got = display_aspect(&out);
                assert!(
                    (got / want - 1.0).abs() < 0.005,
                    "{} {label} {ext}: display aspect {got:.4}, source {want:.4}",
                    input.display()
                );
                let (w, h, container_sar) = stream_geometry(&out);
                let coded = bitstream_sar(&out, dir.path());
                assert!(
                    (coded - container_sar).abs() < 1e-3,
                    "{label} {ext}: bitstream SAR {coded} vs container {container_sar}"
                );
                match label {
                    // Square pixels at the display size: what the editor's preview shows.
                    "x2" => {
                        assert!((container_sar - 1.0).abs() < 1e-9, "{label}: square pixels");
                        assert_eq!(h, ih * 2);
                        let shown = (iw as f64 * sar.0 as f64 / sar.1 as f64 * 2.0 / 2.0).round()
                            as u32
                            * 2;
                        assert_eq!(w, shown, "{label}: display width");
                    }
                    "h240" => assert_eq!(h, 240),
                    "keep" => assert_eq!((w, h), (iw * 2, ih * 2)),
                    _ => assert_eq!((w, h), (iw, ih)),
                }
                if ext == "mp4" && sar.0 == 128 {
                    // A disc that is round on screen stays round.
                    let (dw, dh) = disc_extent(&out);
                    assert!(
                        (dw / dh - 1.0).abs() < 0.03,
                        "{label}: disc {dw:.1}x{dh:.1} is not round"
                    );
                }
            }
        }
    }
}

#[test]
fn visible_size_is_exact_when_the_coded_size_is_larger() {
    // A 214x160 picture cropped from 224x160 coded (the SPS states the crop, as a Theora picture
    // region does): FFmpeg's default cropping keeps the pointers aligned and leaves 220 columns.
    let input = generated(
        "crop214.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=224x160:rate=25:duration=1",
            "-c:v",
            "libx264",
            "-bsf:v",
            "h264_metadata=crop_left=6:crop_right=4",
        ],
    );
    assert_eq!(stream_geometry(&input).0, 214);
    let dir = tempfile::tempdir().unwrap();
    for (stages, want) in [
        (vec![], (214, 160)),
        (vec!["--stage", "scale:factor=2"], (428, 320)),
    ] {
        let out = dir.path().join(format!("{}.mp4", want.0));
        render(&input, &out, dir.path(), &stages);
        let (w, h, _) = stream_geometry(&out);
        assert_eq!((w, h), want);
    }
    // The picture is the visible region, not shifted by the left crop: compare with FFmpeg's
    // exact (unaligned) crop.
    let out = dir.path().join("214.mp4");
    let reference = dir.path().join("ref.y4m");
    ffmpeg(&[
        "-y",
        "-v",
        "error",
        "-flags",
        "unaligned",
        "-i",
        s(&input),
        s(&reference),
    ]);
    let (psnr, _) = psnr_ssim(&out, &reference);
    assert!(psnr > 35.0, "visible region differs: {psnr:.1} dB");
}

#[test]
fn nominal_frame_rate_is_reported_when_the_container_has_no_average() {
    // Ogg/Theora states no average frame rate, only the nominal one.
    let input = generated(
        "theora214.ogv",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=214x160:rate=25:duration=1",
            "-c:v",
            "libtheora",
        ],
    );
    let out = kino(&["probe", s(&input)]);
    assert!(out.status.success());
    let info: Value = serde_json::from_slice(&out.stdout).expect("probe json");
    assert_eq!(info["video"]["fps"].as_f64(), Some(25.0));
    assert_eq!(info["video"]["avg_frame_rate"], serde_json::json!([25, 1]));
    let dir = tempfile::tempdir().unwrap();
    let o = dir.path().join("x2.mp4");
    render(&input, &o, dir.path(), &["--stage", "scale:factor=2"]);
    let (w, h, _) = stream_geometry(&o);
    assert_eq!((w, h), (428, 320));
    assert_eq!(count_frames(&o), 25);
}

/// `idet`'s multi-frame verdict on `path`: (interlaced, progressive) frame counts.
fn idet(path: &Path) -> (u64, u64) {
    let out = run(
        "ffmpeg",
        &[
            "-hide_banner",
            "-i",
            s(path),
            "-vf",
            "idet",
            "-f",
            "null",
            "-",
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    let line = err
        .lines()
        .find(|l| l.contains("Multi frame detection"))
        .expect("idet summary");
    let num = |key: &str| -> u64 {
        let at = line.find(key).expect(key) + key.len();
        line[at..]
            .split_whitespace()
            .next()
            .and_then(|v| v.parse().ok())
            .expect("count")
    };
    (num("TFF:") + num("BFF:"), num("Progressive:"))
}

/// Interlaced clips made from real handheld footage the way cameras make them: each frame weaves
/// two moments, one per field (`tinterlace`), coded as fields and flagged (H.264 `+ildct+ilme`), or
/// unflagged (MPEG-4 Part 2 states no field order).
fn interlaced_clip(order: &str, flagged: bool) -> std::path::PathBuf {
    let source = medium("video_cockatoo_handheld_shaky.mp4");
    let weave = if order == "tff" {
        "tinterlace=interleave_top"
    } else {
        "tinterlace=interleave_bottom"
    };
    let vf = format!("{weave},setfield={order}");
    let params = format!("{order}=1");
    let mut args = vec!["-i", s(&source), "-t", "3", "-vf", &vf];
    let name = if flagged {
        args.extend([
            "-c:v",
            "libx264",
            "-crf",
            "6",
            "-g",
            "10",
            "-preset",
            "veryfast",
            "-flags",
            "+ildct+ilme",
            "-x264-params",
            &params,
        ]);
        format!("interlaced_{order}.mp4")
    } else {
        args.extend(["-c:v", "mpeg4", "-q:v", "2"]);
        format!("interlaced_{order}_unflagged.mp4")
    };
    generated(&name, &args)
}

#[test]
fn interlaced_sources_come_out_progressive_as_well_as_bwdif_makes_them() {
    let dir = tempfile::tempdir().unwrap();
    let source = medium("video_cockatoo_handheld_shaky.mp4");
    // The moment each output frame shows: the first field's, the even frames of the original.
    let truth = dir.path().join("truth.mp4");
    ffmpeg(&[
        "-y",
        "-v",
        "error",
        "-i",
        s(&source),
        "-t",
        "3",
        "-vf",
        "select='not(mod(n\\,2))',setpts=N*2/FRAME_RATE/TB",
        "-fps_mode",
        "passthrough",
        "-c:v",
        "libx264",
        "-crf",
        "0",
        s(&truth),
    ]);
    for (order, flagged) in [("tff", true), ("bff", true), ("tff", false)] {
        let input = interlaced_clip(order, flagged);
        let out = dir.path().join(format!("k_{order}_{flagged}.mp4"));
        render(
            &input,
            &out,
            dir.path(),
            &["--crf", "0", "--chunk-seconds", "1"],
        );
        let reference = dir.path().join(format!("bwdif_{order}_{flagged}.mp4"));
        let vf = format!("bwdif=mode=send_frame:parity={order}:deint=all");
        ffmpeg(&[
            "-y",
            "-v",
            "error",
            "-i",
            s(&input),
            "-vf",
            &vf,
            "-c:v",
            "libx264",
            "-crf",
            "0",
            s(&reference),
        ]);
        assert_eq!(
            count_frames(&out),
            count_frames(&input),
            "one frame per frame"
        );
        let (ours, _) = psnr_ssim(&out, &truth);
        let (theirs, _) = psnr_ssim(&reference, &truth);
        let (combed, _) = psnr_ssim(&input, &truth);
        assert!(
            ours >= theirs - 0.01 && ours > combed + 3.0,
            "{order} flagged={flagged}: {ours:.2} dB, bwdif {theirs:.2}, combed input {combed:.2}"
        );
        let (interlaced, progressive) = idet(&out);
        let (ref_interlaced, _) = idet(&reference);
        assert!(
            interlaced <= ref_interlaced && interlaced * 20 <= progressive,
            "{order} flagged={flagged}: idet finds {interlaced} interlaced frames (bwdif's output {ref_interlaced})"
        );
        assert_eq!(
            frame_times(&out),
            frame_times(&input),
            "timestamps stay the source's"
        );
    }
    // Chunk seams are invisible: one chunk or many, the same frames.
    let input = interlaced_clip("tff", true);
    let whole = dir.path().join("whole.mp4");
    render(
        &input,
        &whole,
        dir.path(),
        &["--crf", "0", "--chunk-seconds", "100"],
    );
    assert_eq!(
        frame_md5s(&whole),
        frame_md5s(&dir.path().join("k_tff_true.mp4"))
    );
}

/// Field mode: each field becomes a frame (50i → 50p) at its own moment, as good as FFmpeg's
/// `bwdif=mode=send_field` against the progressive original, whatever the stream's clock (AVI
/// counts whole frames, so a field's moment needs a finer time base).
#[test]
fn field_mode_doubles_the_rate_with_exact_timestamps() {
    let dir = tempfile::tempdir().unwrap();
    let source = medium("video_cockatoo_handheld_shaky.mp4");
    // Every frame of the original: field k of the interlaced clip is frame k.
    let truth = dir.path().join("truth.mp4");
    ffmpeg(&[
        "-y",
        "-v",
        "error",
        "-i",
        s(&source),
        "-t",
        "3",
        "-fps_mode",
        "passthrough",
        "-c:v",
        "libx264",
        "-crf",
        "0",
        s(&truth),
    ]);
    let avi = generated(
        "interlaced_tff_intra.avi",
        &[
            "-i",
            s(&source),
            "-t",
            "3",
            "-an",
            "-bf",
            "0",
            "-vf",
            "tinterlace=interleave_top,setfield=tff",
            "-c:v",
            "mpeg4",
            "-q:v",
            "2",
        ],
    );
    for (input, order) in [(interlaced_clip("bff", true), "bff"), (avi, "tff")] {
        let out = dir.path().join(format!("fields_{order}.mp4"));
        render(
            &input,
            &out,
            dir.path(),
            &[
                "--crf",
                "0",
                "--chunk-seconds",
                "1",
                "--stage",
                "deinterlace:mode=field",
            ],
        );
        let (ins, outs) = (frame_times(&input), frame_times(&out));
        assert_eq!(outs.len(), 2 * ins.len(), "{order}: a frame per field");
        for (k, pair) in outs.chunks(2).enumerate() {
            let next = ins
                .get(k + 1)
                .copied()
                .unwrap_or_else(|| 2.0 * ins[k] - ins[k - 1]);
            let expected = [ins[k], (ins[k] + next) / 2.0];
            assert!(
                (pair[0] - expected[0]).abs() < 1e-5 && (pair[1] - expected[1]).abs() < 1e-5,
                "{order}: frame {k}'s fields at {pair:?}, expected {expected:?}"
            );
        }
        let reference = dir.path().join(format!("bwdif_fields_{order}.mp4"));
        let vf = format!("bwdif=mode=send_field:parity={order}:deint=all");
        ffmpeg(&[
            "-y",
            "-v",
            "error",
            "-i",
            s(&input),
            "-vf",
            &vf,
            "-fps_mode",
            "passthrough",
            "-c:v",
            "libx264",
            "-crf",
            "0",
            s(&reference),
        ]);
        let (ours, _) = psnr_ssim(&out, &truth);
        let (theirs, _) = psnr_ssim(&reference, &truth);
        eprintln!("fields {order}: {ours:.2} dB against the original, bwdif {theirs:.2} dB");
        assert!(
            ours >= theirs - 0.01,
            "{order}: {ours:.2} dB against the original, bwdif's fields {theirs:.2}"
        );
        let (interlaced, progressive) = idet(&out);
        assert!(
            interlaced * 20 <= progressive,
            "{order}: idet finds {interlaced} interlaced frames of {progressive}"
        );
    }
    // Chunk seams are invisible at field rate too.
    let whole = dir.path().join("whole.mp4");
    render(
        &interlaced_clip("bff", true),
        &whole,
        dir.path(),
        &[
            "--crf",
            "0",
            "--chunk-seconds",
            "100",
            "--stage",
            "deinterlace:mode=field",
        ],
    );
    assert_eq!(
        frame_md5s(&whole),
        frame_md5s(&dir.path().join("fields_bff.mp4"))
    );
}

#[test]
fn progressive_sources_are_never_touched() {
    let input = medium("video_street_bikes_4cuts.mp4");
    let dir = tempfile::tempdir().unwrap();
    let auto = dir.path().join("auto.mp4");
    let off = dir.path().join("off.mp4");
    render(
        &input,
        &auto,
        dir.path(),
        &["--crf", "0", "--chunk-seconds", "2"],
    );
    render(
        &input,
        &off,
        dir.path(),
        &[
            "--crf",
            "0",
            "--chunk-seconds",
            "2",
            "--stage",
            "deinterlace:mode=off",
        ],
    );
    assert_eq!(frame_md5s(&auto), frame_md5s(&off));
}
