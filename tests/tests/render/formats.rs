//! Probing, other codecs and containers, and rotation, colour tags and HDR10 metadata kept.

use super::*;

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
