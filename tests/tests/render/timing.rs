//! Frame counts, timestamps and durations kept (constant and variable frame rate), and audio in
//! sync.

use super::*;

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
