//! An analysis-only job over HTTP: the scenes and the auto-edit cut list in the report, no output.

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn an_analysis_only_job_reports_the_cuts_and_renders_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(&dir.path().join("data"), &[]);
    let client = reqwest::Client::new();
    // 6 s at 25 fps, black from 1.5 to 4 s (auto-edit cuts black of 2 s or more).
    let clip = generated(
        "svc_black.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=25:duration=6",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=300:duration=6",
            "-vf",
            "drawbox=x=0:y=0:w=iw:h=ih:color=black:t=fill:enable='between(t,1.5,4)'",
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
    let id = common::upload(&client, &node, &clip, None).await;
    // Nothing to analyse is refused by name.
    let r = client
        .post(node.url("/api/jobs"))
        .json(&serde_json::json!({"input": id, "analyse_only": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["field"], "analyse_only", "{e}");

    let job = create_job(
        &client,
        &node,
        serde_json::json!({"input": id, "analyse_only": true, "scenes": {}, "auto_edit": {"silence": false}}),
    )
    .await;
    let done = wait_done(&client, &node, &job, Duration::from_secs(120)).await;
    assert!(done["output"].is_null(), "{done}");
    let report: Value = client
        .get(node.url(&format!("/api/jobs/{job}/report")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let cut = &report["sections"]["auto_edit"]["cut_list"];
    let removed = cut["removed"].as_array().expect("removed stretches");
    assert_eq!(removed.len(), 1, "{cut}");
    let (a, b) = (removed[0]["start"].as_u64(), removed[0]["end"].as_u64());
    // Black 1.5–4 s is frames 38–100, less auto-edit's default 0.2 s margins: 43–95.
    assert!(a.is_some_and(|a| a.abs_diff(43) <= 2), "{cut}");
    assert!(b.is_some_and(|b| b.abs_diff(96) <= 2), "{cut}");
    assert_eq!(removed[0]["reasons"][0], "black");
    assert!(
        report["sections"]["scenes"]["scenes"].is_array(),
        "{report}"
    );
    // No output to download, and the cut list is there for editors.
    let out = client
        .get(node.url(&format!("/api/jobs/{job}/output")))
        .send()
        .await
        .unwrap();
    assert!(out.status().is_client_error(), "{}", out.status());
    let edl = client
        .get(node.url(&format!("/api/jobs/{job}/cutlist/edl")))
        .send()
        .await
        .unwrap();
    assert_eq!(edl.status(), 200);
}

/// The timeline of a file the browser cannot play (AVI: MPEG-4 Part 2 and PCM), made by the node.
#[tokio::test(flavor = "multi_thread")]
async fn an_upload_overview_has_its_filmstrip_and_waveform() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(&dir.path().join("data"), &[]);
    let client = reqwest::Client::new();
    let clip = generated(
        "svc_overview.avi",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=25:duration=4",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=300:duration=4,volume=volume='gt(t,2)':eval=frame",
            "-c:v",
            "mpeg4",
            "-c:a",
            "pcm_s16le",
            "-shortest",
        ],
    );
    let id = common::upload(&client, &node, &clip, None).await;
    let get = |q: String| {
        client
            .get(node.url(&format!("/api/uploads/{id}/overview{q}")))
            .send()
    };
    let r = get("?thumbs=8&columns=100&height=48".into()).await.unwrap();
    let status = r.status();
    let v: Value = r.json().await.unwrap();
    assert_eq!(status, 200, "{v}");
    let thumbs = v["thumbs"].as_array().expect("thumbs");
    assert_eq!(thumbs.len(), 8);
    assert!(thumbs.iter().all(|t| t
        .as_str()
        .unwrap_or("")
        .starts_with("data:image/jpeg;base64,/9j/")));
    let distinct: std::collections::HashSet<&str> =
        thumbs.iter().filter_map(Value::as_str).collect();
    assert_eq!(distinct.len(), 8, "thumbnails of different moments");
    let peaks: Vec<f64> = v["peaks"]
        .as_array()
        .expect("peaks")
        .iter()
        .filter_map(Value::as_f64)
        .collect();
    assert_eq!(peaks.len(), 100);
    // Silent for 2 s, then the tone (sine at 1/8 of full scale: RMS 0.088).
    assert!(peaks[10] < 0.01 && peaks[90] > 0.05, "{peaks:?}");
    assert!(
        (v["duration"].as_f64().unwrap_or(0.0) - 4.0).abs() < 0.1,
        "{v}"
    );
    let r = get("?thumbs=0".into()).await.unwrap();
    assert_eq!(r.status(), 422);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["field"], "thumbs");
    let r = client
        .get(node.url("/api/uploads/0123456789abcdef0123456789abcdef/overview"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
}
