//! Loudness normalisation, measured by FFmpeg's `ebur128` filter.

use super::*;

fn normalise(input: &Path, target: f64, ceiling: f64) -> (f64, f64) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.mp4");
    let stage = format!("loudness:target_lufs={target},true_peak_db={ceiling}");
    render(input, &out, dir.path(), &["--audio-stage", &stage]);
    assert_eq!(count_frames(&out), count_frames(input));
    ebur128(&out)
}

#[test]
fn speech_is_normalised_to_each_preset_under_the_ceiling() {
    let cases = [
        ("speech_read_english_16k_11s.wav", -16.0),
        ("speech_read_english_16k_11s.wav", -14.0),
        ("speech_audiobook_male_16k_7s.wav", -23.0),
    ];
    for (name, target) in cases {
        let clip = with_picture(&medium(name), &format!("pic_{name}.mp4"));
        let (i, tp) = normalise(&clip, target, -1.0);
        assert!(
            (i - target).abs() <= 0.5,
            "{name} at {target}: measured {i} LUFS"
        );
        assert!(
            tp <= -1.0,
            "{name} at {target}: true peak {tp} dBTP over the ceiling"
        );
    }
}

#[test]
fn six_channel_audio_is_normalised_per_programme() {
    let clip = medium("av_speech_6ch_channel_ident_EBU.mp4");
    let (i, tp) = normalise(&clip, -23.0, -2.0);
    assert!((i + 23.0).abs() <= 0.5, "measured {i}");
    assert!(tp <= -2.0, "true peak {tp}");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.mp4");
    let o = kino(&[
        "render",
        s(&clip),
        "-o",
        s(&out),
        "--data-dir",
        s(dir.path()),
        "--preset",
        "ultrafast",
        "--audio-stage",
        "loudness",
    ]);
    assert!(o.status.success());
    let v = ffprobe_json(
        &out,
        &["-select_streams", "a:0", "-show_entries", "stream=channels"],
    );
    assert_eq!(v["streams"][0]["channels"], 6);
}

#[test]
fn silence_and_missing_audio_are_handled_cleanly() {
    // Silence: no gain can reach a target, so it stays silent; the render succeeds.
    let silent = generated(
        "silent.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "color=c=black:size=160x120:rate=10:duration=3",
            "-f",
            "lavfi",
            "-i",
            "anullsrc=r=48000:cl=stereo",
            "-shortest",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-c:a",
            "aac",
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.mp4");
    let o = kino(&[
        "render",
        s(&silent),
        "-o",
        s(&out),
        "--data-dir",
        s(dir.path()),
        "--audio-stage",
        "loudness",
        "--events",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // No audio stream at all: the stage has nothing to do and says so.
    let mute = mute_clip();
    let out2 = dir.path().join("out2.mp4");
    let o = kino(&[
        "render",
        s(&mute),
        "-o",
        s(&out2),
        "--data-dir",
        s(dir.path()),
        "--audio-stage",
        "loudness",
        "--events",
    ]);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("no audio stream to process"));
    // Out-of-range and contradictory parameters are refused.
    let bad = kino(&[
        "render",
        s(&mute),
        "-o",
        s(&out2),
        "--data-dir",
        s(dir.path()),
        "--audio-stage",
        "loudness:target_lufs=3",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("audio_stages.loudness.target_lufs"));
    let bad = kino(&[
        "render",
        s(&mute),
        "-o",
        s(&out2),
        "--data-dir",
        s(dir.path()),
        "--audio-stage",
        "loudness",
        "--audio",
        "copy",
    ]);
    assert_eq!(bad.status.code(), Some(2));
}
