//! Audio sync (issue 7): external recordings found, replaced or mixed in sync, drift measured,
//! refusals, and the service taking the recording as an upload.

use super::*;

/// The speech clip at 48 kHz as a video's sound (AAC, as a camera writes it).
fn speech_video() -> PathBuf {
    let wav = generated(
        "speech48k.wav",
        &[
            "-i",
            s(&medium("speech_read_english_16k_11s.wav")),
            "-ar",
            "48000",
            "-c:a",
            "pcm_s16le",
        ],
    );
    with_picture(&wav, "speech_video.mp4")
}

/// An "external recorder" take of the video's sound, `offset` seconds late (negative: started
/// late, so the start is missing), at 44.1 kHz, through another microphone: high-passed, with its
/// own hiss at about 25 dB below the speech.
fn external_take(offset: f64, name: &str) -> PathBuf {
    let shift = if offset >= 0.0 {
        format!("adelay={}:all=1", (offset * 1000.0).round() as i64)
    } else {
        format!("atrim=start={},asetpts=PTS-STARTPTS", -offset)
    };
    generated(
        name,
        &[
            "-i",
            s(&medium("speech_read_english_16k_11s.wav")),
            "-f",
            "lavfi",
            "-i",
            "anoisesrc=color=white:amplitude=0.004:sample_rate=44100:seed=3",
            "-filter_complex",
            &format!("[0]aresample=48000,{shift},aresample=44100,highpass=f=120[s];[s][1]amix=inputs=2:duration=first:normalize=0"),
            "-c:a",
            "pcm_s16le",
        ],
    )
}

#[test]
fn external_recordings_are_found_within_a_millisecond_and_replace_in_sync() {
    let video = speech_video();
    let reference = mono_pcm(&video, 16_000);
    let dir = tempfile::tempdir().unwrap();
    for (i, offset) in [0.040, -0.040, 1.3, -1.3].into_iter().enumerate() {
        let take = external_take(offset, &format!("take{i}.wav"));
        let out = dir.path().join(format!("synced{i}.mp4"));
        let t = std::time::Instant::now();
        let (r, events) = synced(
            &video,
            &format!("sync:track={}", s(&take)),
            &out,
            dir.path(),
        );
        let found = r["offset_ms"].as_f64().expect("offset_ms");
        eprintln!(
            "offset {:+.1} ms: found {found:+.3} ms (error {:+.3} ms), confidence {:.1}, drift {} ms, render {:.1} s",
            offset * 1000.0,
            found - offset * 1000.0,
            r["confidence"].as_f64().unwrap_or(0.0),
            r["drift_ms"],
            t.elapsed().as_secs_f64()
        );
        assert!(
            (found - offset * 1000.0).abs() < 1.0,
            "offset {offset}: found {found} ms"
        );
        assert_eq!(r["low_confidence"], false, "{r}");
        assert!(!events.contains("low confidence"), "{events}");
        assert!(r["drift_ppm"].as_f64().expect("drift").abs() < 50.0, "{r}");
        // Replaced: the output's sound lines up with the original's (what the camera heard).
        let got = mono_pcm(&out, 16_000);
        let lag = best_lag(&reference, &got, 160);
        assert!(
            lag.abs() <= 16,
            "offset {offset}: output {lag} samples off at 16 kHz"
        );
        assert!(
            (stream_duration(&out, "a:0") - stream_duration(&video, "a:0")).abs() < 0.1,
            "replaced audio keeps the video's length"
        );
        if offset < -1.0 {
            // The recorder started 1.3 s late: silence until it did.
            assert!(power(&got[..16_000]) < 1e-7, "{}", power(&got[..16_000]));
        }
    }
}

#[test]
fn mixing_keeps_both_and_drift_is_measured() {
    // 18 s of speech, recorded by a clock 500 ppm fast: 9 ms of drift end to end.
    let long = generated(
        "speech_long.wav",
        &[
            "-i",
            s(&medium("speech_read_english_16k_11s.wav")),
            "-i",
            s(&medium("speech_audiobook_male_16k_7s.wav")),
            "-filter_complex",
            "[0][1]concat=n=2:v=0:a=1,aresample=48000",
            "-c:a",
            "pcm_s16le",
        ],
    );
    let video = with_picture(&long, "speech_long.mp4");
    let take = generated(
        "take_drift.wav",
        &[
            "-i",
            s(&long),
            "-af",
            "adelay=250:all=1,asetrate=48024,aresample=48000",
            "-c:a",
            "pcm_s16le",
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("mixed.mp4");
    let (r, events) = synced(
        &video,
        &format!("sync:track={},mode=mix,level=0.5", s(&take)),
        &out,
        dir.path(),
    );
    eprintln!("drift report: {r}");
    let ppm = r["drift_ppm"].as_f64().expect("drift_ppm");
    assert!((ppm + 500.0).abs() < 30.0, "drift {ppm} ppm");
    assert_eq!(r["mode"], "mix");
    // 0.25 s × 48024/48000 late in the middle on average.
    let mid = r["offset_ms"].as_f64().expect("offset");
    assert!((mid - 245.0).abs() < 10.0, "offset {mid}");
    // 9 ms over the video is under the warning threshold of 20 ms.
    assert!(!events.contains("drifts"), "{events}");
    // Mixed: both sources are in the output, at half level each.
    let got = mono_pcm(&out, 16_000);
    let orig = mono_pcm(&video, 16_000);
    let ratio = power(&got) / power(&orig);
    assert!((0.2..1.1).contains(&ratio), "mixed power ratio {ratio}");
}

#[test]
fn sync_refuses_what_it_cannot_align() {
    let video = speech_video();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.mp4");
    let run_with = |input: &Path, stage: &str| {
        kino(&[
            "render",
            s(input),
            "-o",
            s(&out),
            "--data-dir",
            s(dir.path()),
            "--preset",
            "ultrafast",
            "--audio-stage",
            stage,
        ])
    };
    let expect = |o: std::process::Output, code: i32, text: &str| {
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert_eq!(o.status.code(), Some(code), "{err}");
        assert!(err.contains(text), "'{text}' not in: {err}");
    };
    // Missing recording, and one without sound (a video-only file).
    let missing = dir.path().join("nowhere.wav");
    expect(
        run_with(&video, &format!("sync:track={}", s(&missing))),
        3,
        "cannot be read: input not found",
    );
    let mute = mute_clip();
    expect(
        run_with(&video, &format!("sync:track={}", s(&mute))),
        3,
        "has no audio stream",
    );
    // A video without sound gives nothing to align to.
    let take = external_take(0.0, "take_zero.wav");
    expect(
        run_with(&mute, &format!("sync:track={}", s(&take))),
        3,
        "the video has no audio stream",
    );
    // A silent recording: nothing to find.
    let silent = generated(
        "silent_take.wav",
        &[
            "-f",
            "lavfi",
            "-i",
            "anullsrc=r=44100:cl=mono",
            "-t",
            "5",
            "-c:a",
            "pcm_s16le",
        ],
    );
    let o = run_with(&video, &format!("sync:track={}", s(&silent)));
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("external recording is silent"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // An unrelated recording is aligned as well as it can be, with a warning.
    let noise = generated(
        "noise_take.wav",
        &[
            "-f",
            "lavfi",
            "-i",
            "anoisesrc=color=pink:amplitude=0.2:sample_rate=44100:seed=5:duration=11",
            "-c:a",
            "pcm_s16le",
        ],
    );
    let (r, events) = synced(
        &video,
        &format!("sync:track={}", s(&noise)),
        &out,
        dir.path(),
    );
    eprintln!("unrelated recording: confidence {}", r["confidence"]);
    assert_eq!(r["low_confidence"], true, "{r}");
    assert!(events.contains("low confidence"), "{events}");
    // Bad parameters are refused before anything runs.
    expect(
        run_with(&video, "sync:track=a.wav,level=2"),
        2,
        "audio_stages.sync.level",
    );
}

#[tokio::test]
async fn service_takes_the_recording_as_an_upload_and_reports_the_offset() {
    let video = speech_video();
    let take = external_take(1.3, "take_service.wav");
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(&dir.path().join("data"), &[]);
    let client = reqwest::Client::new();
    let (v, t) = (
        common::upload(&client, &node, &video, None).await,
        common::upload(&client, &node, &take, None).await,
    );
    let post = |track: String| {
        let body = serde_json::json!({
            "input": v,
            "audio_stages": [{"kind": "sync", "track": track}],
            "output": {"preset": "ultrafast"},
        });
        client.post(node.url("/api/jobs")).json(&body).send()
    };
    // Only uploads: a path on the node, or an unknown id, is refused with the field named.
    for bad in [
        "/etc/passwd".to_owned(),
        s(&take).to_owned(),
        "0".repeat(32),
    ] {
        let r = post(bad.clone()).await.expect("POST /api/jobs");
        assert_eq!(r.status(), 422, "{bad}");
        let e: serde_json::Value = r.json().await.expect("error JSON");
        assert_eq!(e["field"], "audio_stages.sync.track", "{e}");
    }
    let r = post(t).await.expect("POST /api/jobs");
    assert_eq!(r.status(), 201);
    let job: serde_json::Value = r.json().await.expect("job JSON");
    let id = job["id"].as_str().expect("job id").to_owned();
    let started = std::time::Instant::now();
    loop {
        let j: serde_json::Value = client
            .get(node.url(&format!("/api/jobs/{id}")))
            .send()
            .await
            .expect("GET job")
            .json()
            .await
            .expect("job JSON");
        match j["state"].as_str() {
            Some("done") => break,
            Some("failed") | Some("cancelled") => panic!("job ended: {j}"),
            _ => {}
        }
        assert!(started.elapsed().as_secs() < 120, "job too slow: {j}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let report: serde_json::Value = client
        .get(node.url(&format!("/api/jobs/{id}/report")))
        .send()
        .await
        .expect("GET report")
        .json()
        .await
        .expect("report JSON");
    let found = report["sections"]["audio_sync"]["offset_ms"]
        .as_f64()
        .expect("audio_sync in the report");
    assert!((found - 1300.0).abs() < 1.0, "offset {found}");
}
