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

/// Noisy speech at `rate` (the 8 kHz case is band-limited like radio), mono or stereo (the right
/// channel quieter and a few samples late, so the two channels peak apart).
fn speech_at(rate: u32, stereo: bool) -> PathBuf {
    let speech = medium("speech_read_english_16k_11s.wav");
    let layout = if stereo {
        "stereo,aeval=val(0)|0.8*val(0):c=stereo,adelay=0|3S"
    } else {
        "mono"
    };
    let band = if rate == 8000 {
        ",highpass=f=300,lowpass=f=3400"
    } else {
        ""
    };
    let graph = format!(
        "[1:a]aresample={rate},atrim=0:6[s];[2:a]aresample={rate}[n];\
         [s][n]amix=inputs=2:duration=first:normalize=0{band},aformat=channel_layouts={layout}[a]"
    );
    generated(
        &format!(
            "speech_{rate}_{}.mkv",
            if stereo { "stereo" } else { "mono" }
        ),
        &[
            "-f",
            "lavfi",
            "-i",
            "color=c=gray:size=160x120:rate=10",
            "-i",
            s(&speech),
            "-f",
            "lavfi",
            "-i",
            "anoisesrc=c=pink:r=48000:a=0.03:seed=7",
            "-filter_complex",
            &graph,
            "-map",
            "0:v",
            "-map",
            "[a]",
            "-shortest",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-c:a",
            "pcm_s16le",
        ],
    )
}

/// The ceiling holds on the encoded file at every rate and layout, with AAC (MP4) and Opus (WebM),
/// by FFmpeg's meter (which oversamples to 192 kHz): codecs overshoot the peaks they are given,
/// by more than a dB for AAC at 8 kHz, so a limiter that only holds the samples fails here.
#[test]
fn the_true_peak_ceiling_holds_after_encoding_at_every_rate_and_layout() {
    let mut failures = Vec::new();
    for rate in [8000, 16000, 44100, 48000] {
        for stereo in [false, true] {
            let clip = speech_at(rate, stereo);
            for (codec, ext) in [("h264", "mp4"), ("vp9", "webm")] {
                let dir = tempfile::tempdir().unwrap();
                let out = dir.path().join(format!("out.{ext}"));
                let stage = "loudness:target_lufs=-16,true_peak_db=-1";
                render(
                    &clip,
                    &out,
                    dir.path(),
                    &["--codec", codec, "--audio-stage", stage],
                );
                let (i, tp) = ebur128(&out);
                let line = format!("{rate} Hz, stereo {stereo}, {codec}: {i} LUFS, {tp} dBTP");
                eprintln!("{line}");
                if tp > -1.0 || (i + 16.0).abs() > 0.5 {
                    failures.push(line);
                }
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// The job report's quality section carries the output's loudness, range and true peak, and they
/// read as FFmpeg's meter reads the file (to its printed 0.1).
#[test]
fn the_report_meters_the_sound_as_ffmpeg_does() {
    let dir = tempfile::tempdir().unwrap();
    for (name, clip, extra) in [
        (
            "8k",
            speech_at(8000, false),
            vec!["--audio-stage", "loudness:target_lufs=-16"],
        ),
        ("48k", speech_at(48000, true), vec![]),
    ] {
        let out = dir.path().join(format!("{name}.mp4"));
        let report = dir.path().join(format!("{name}.json"));
        let mut args = vec!["--report", s(&report)];
        args.extend(extra);
        render(&clip, &out, &dir.path().join(name), &args);
        let text = std::fs::read_to_string(&report).expect("report");
        let v: serde_json::Value = serde_json::from_str(&text).expect("json");
        let a = &v["quality"]["audio"][0];
        let [i, lra, tp] = ebur128_summary(&out);
        let ours = |k: &str| a[k].as_f64().unwrap_or_else(|| panic!("{k} in {a}"));
        eprintln!("{name}: ours {a}, FFmpeg's I {i} LRA {lra} TP {tp}");
        assert!(
            (ours("integrated_lufs") - i).abs() <= 0.1,
            "{name}: {a} vs {i}"
        );
        assert!(
            (ours("loudness_range_lu") - lra).abs() <= 0.2,
            "{name}: {a} vs {lra}"
        );
        assert!(
            (ours("true_peak_db") - tp).abs() <= 0.1,
            "{name}: {a} vs {tp}"
        );
        assert_eq!(a["stream"], 1);
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
