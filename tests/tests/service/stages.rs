//! Analysed stages run through the service, and bad ones are refused.

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn analysed_stages_run_through_the_service_and_bad_ones_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(&dir.path().join("data"), &[]);
    let client = reqwest::Client::new();
    let input = small_clip();
    let id = common::upload(&client, &node, &input, None).await;

    let bad = client
        .post(node.url("/api/jobs"))
        .json(&serde_json::json!({"input": id, "stages": [{"kind": "denoise", "strength": -1}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
    let body: Value = bad.json().await.unwrap();
    assert_eq!(body["field"], "stages.denoise.strength", "{body}");

    let job = create_job(
        &client,
        &node,
        serde_json::json!({"input": id, "chunk_seconds": 1, "output": {"preset": "ultrafast"},
            "stages": [{"kind": "stabilize", "mode": "tripod"}, {"kind": "denoise"},
                       {"kind": "color", "auto_levels": true, "auto_white_balance": true}],
            "scenes": {}}),
    )
    .await;
    let mut ws = job_events(&node, &job).await;
    let mut states = Vec::new();
    let mut snapshot_state = None;
    while let Some(ev) = next_event(&mut ws, Duration::from_secs(120)).await {
        match ev["type"].as_str() {
            Some("snapshot") => snapshot_state = ev["status"]["state"].as_str().map(str::to_owned),
            Some("job_state") => states.push(ev["state"].as_str().unwrap_or("").to_owned()),
            Some("failed") => panic!("job failed: {ev}"),
            Some("done") => break,
            _ => {}
        }
    }
    // The analysis pass comes before rendering (unless the snapshot already showed it passed).
    let seen: Vec<&str> = snapshot_state
        .iter()
        .map(String::as_str)
        .chain(states.iter().map(String::as_str))
        .collect();
    let a = seen.iter().position(|s| *s == "analysing");
    let r = seen.iter().position(|s| *s == "rendering");
    assert!(r.is_some(), "{seen:?}");
    if let (Some(a), Some(r)) = (a, r) {
        assert!(a < r, "{seen:?}");
    }
    let j = wait_done(&client, &node, &job, Duration::from_secs(60)).await;
    assert_eq!(j["state"], "done");
    let out = download_output(&client, &node, &job, &dir.path().join("analysed.mp4")).await;
    assert_eq!(count_frames(&out), count_frames(&input));
    // The scene list is in the report, each scene's thumbnail is served, other names are not.
    let report: Value = client
        .get(node.url(&format!("/api/jobs/{job}/report")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let scenes = report["sections"]["scenes"]["scenes"]
        .as_array()
        .expect("scene list");
    assert!(!scenes.is_empty(), "{report}");
    for sc in scenes {
        let name = sc["thumbnail"].as_str().expect("thumbnail");
        let r = client
            .get(node.url(&format!("/api/jobs/{job}/scenes/{name}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "image/jpeg");
        assert_eq!(&r.bytes().await.unwrap()[..2], &[0xff, 0xd8]);
    }
    let r = client
        .get(node.url(&format!("/api/jobs/{job}/scenes/..%2Fkino.db")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // No auto-edit, no cut list.
    let r = client
        .get(node.url(&format!("/api/jobs/{job}/cutlist/edl")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    // Auto-edit through the service: settings checked by field, the cut list served per format.
    let bad = client
        .post(node.url("/api/jobs"))
        .json(&serde_json::json!({"input": id, "auto_edit": {"margin": -1}}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
    let body: Value = bad.json().await.unwrap();
    assert_eq!(body["field"], "auto_edit.margin", "{body}");
    let job = create_job(
        &client,
        &node,
        serde_json::json!({"input": id, "chunk_seconds": 1, "output": {"preset": "ultrafast"},
            "auto_edit": {"frozen": true}}),
    )
    .await;
    let j = wait_done(&client, &node, &job, Duration::from_secs(60)).await;
    assert_eq!(j["state"], "done", "{j}");
    let report: Value = client
        .get(node.url(&format!("/api/jobs/{job}/report")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kept = report["sections"]["auto_edit"]["kept_frames"]
        .as_u64()
        .expect("auto_edit section");
    let out = download_output(&client, &node, &job, &dir.path().join("edited.mp4")).await;
    assert_eq!(count_frames(&out), kept);
    for (format, starts) in [("edl", "TITLE:"), ("fcpxml", "<?xml"), ("otio", "{")] {
        let r = client
            .get(node.url(&format!("/api/jobs/{job}/cutlist/{format}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{format}");
        let text = r.text().await.unwrap();
        assert!(text.starts_with(starts), "{format}: {text}");
    }
    let r = client
        .get(node.url(&format!("/api/jobs/{job}/cutlist/xml")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}
