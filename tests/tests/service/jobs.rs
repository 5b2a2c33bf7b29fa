//! Jobs from upload to download: live events, ranged downloads, a killed server, a failing job
//! beside good ones, cancel and retry.

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn job_from_upload_to_ranged_download_with_live_events() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(&dir.path().join("data"), &[]);
    let client = reqwest::Client::new();
    let input = small_clip();
    let id = common::upload(&client, &node, &input, None).await;
    let job = create_job(
        &client,
        &node,
        serde_json::json!({"input": id, "chunk_seconds": 1, "output": {"preset": "ultrafast"}, "stages": [{"kind": "color", "saturation": 1.3}]}),
    )
    .await;

    // Live events: a snapshot first, then events in order, ending with the output link.
    let mut ws = job_events(&node, &job).await;
    let mut events: Vec<Value> = Vec::new();
    while let Some(ev) = next_event(&mut ws, Duration::from_secs(60)).await {
        let end = ev["type"] == "done" || ev["type"] == "failed";
        events.push(ev);
        if end {
            break;
        }
    }
    assert_eq!(events[0]["type"], "snapshot");
    let last = events.last().unwrap();
    assert_eq!(last["type"], "done", "{last}");
    assert_eq!(last["output"], format!("/api/jobs/{job}/output"));
    let frames: Vec<u64> = events
        .iter()
        .filter(|e| e["type"] == "frames")
        .map(|e| e["frames_done"].as_u64().unwrap())
        .collect();
    assert!(
        frames.windows(2).all(|w| w[0] <= w[1]),
        "frames went backwards: {frames:?}"
    );
    let pos = |t: &str| events.iter().position(|e| e["type"] == t);
    if let (Some(a), Some(b)) = (pos("chunk_done"), pos("job_state")) {
        assert!(events[b]["state"] == "rendering" && b < a || events[b]["state"] != "rendering");
    }

    // A late client gets the finished state as its snapshot.
    let mut late = job_events(&node, &job).await;
    let first = next_event(&mut late, Duration::from_secs(10))
        .await
        .expect("a snapshot");
    assert_eq!(first["type"], "snapshot");
    assert_eq!(first["status"]["state"], "done");

    // Download, whole and by range.
    let full = client
        .get(node.url(&format!("/api/jobs/{job}/output")))
        .send()
        .await
        .unwrap();
    assert_eq!(full.status(), 200);
    let full = full.bytes().await.unwrap();
    let out = dir.path().join("out.mp4");
    std::fs::write(&out, &full).unwrap();
    assert_eq!(count_frames(&out), count_frames(&input));
    let part = client
        .get(node.url(&format!("/api/jobs/{job}/output")))
        .header("Range", "bytes=1000-1999")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(
        part.headers()["content-range"].to_str().unwrap(),
        format!("bytes 1000-1999/{}", full.len())
    );
    assert_eq!(part.bytes().await.unwrap(), full.slice(1000..2000));

    let report: Value = client
        .get(node.url(&format!("/api/jobs/{job}/report")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(report["job"]["state"], "done");
    assert_eq!(
        report["output"]["video"]["frames"].as_u64(),
        Some(0),
        "probe without index reports no frame count"
    );
    assert_eq!(
        report["chunks"].as_array().unwrap().len() as u64,
        report["job"]["chunks_total"].as_u64().unwrap()
    );
    // The output measured against the source, over HTTP as in `render --report`.
    let quality = &report["sections"]["quality"];
    assert_eq!(quality["measured"], true, "{quality}");
    assert!(
        quality["summary"]["psnr"]
            .as_f64()
            .is_some_and(|p| p > 25.0),
        "{quality}"
    );
    assert!(!quality["frames"].as_array().expect("frames").is_empty());

    let metrics = client
        .get(node.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("kino_jobs{state=\"done\"} 1"), "{metrics}");
    assert!(
        metrics.contains("kino_frames_rendered_total 100"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_server_finishes_job_without_redoing_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut node = Node::start(&data, &["--workers", "1"]);
    let client = reqwest::Client::new();
    let input = generated(
        "svc_resume.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=640x360:rate=25:duration=16",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "25",
        ],
    );
    let id = common::upload(&client, &node, &input, None).await;
    let job = create_job(
        &client,
        &node,
        serde_json::json!({"input": id, "chunk_seconds": 2, "output": {"preset": "medium"}}),
    )
    .await;
    let mut ws = job_events(&node, &job).await;
    let mut done_before = Vec::new();
    while let Some(ev) = next_event(&mut ws, Duration::from_secs(120)).await {
        if ev["type"] == "chunk_done" {
            done_before.push(ev["chunk"].as_u64().unwrap());
            break;
        }
    }
    node.kill9();
    {
        let store = kino_node::store::Store::open_sqlite(&data).await.unwrap();
        let rows = store.chunks(&job).await.unwrap();
        let done = rows
            .iter()
            .filter(|r| r.state == kino_shared::ChunkState::Done)
            .count();
        assert!(
            done >= 1 && done < rows.len(),
            "kill must land mid-job: {done}/{}",
            rows.len()
        );
    }

    let node = Node::start(&data, &["--workers", "1"]);
    let status = wait_done(&client, &node, &job, Duration::from_secs(300)).await;
    let store = kino_node::store::Store::open_sqlite(&data).await.unwrap();
    let rows = store.chunks(&job).await.unwrap();
    assert_eq!(rows.len() as u64, status["chunks_total"].as_u64().unwrap());
    assert!(
        rows.iter().all(|r| r.renders == 1),
        "a chunk was rendered twice: {rows:?}"
    );
    assert!(!done_before.is_empty());
    let out = download_output(&client, &node, &job, &dir.path().join("out.mp4")).await;
    assert_eq!(count_frames(&out), count_frames(&input));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_job_fails_with_its_reason_while_others_finish() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(
        &dir.path().join("data"),
        &["--max-attempts", "2", "--max-jobs", "2"],
    );
    let client = reqwest::Client::new();
    // SVT-AV1 refuses frames under 64 pixels: every chunk of that job fails to encode.
    let odd = generated(
        "svc_tiny.mkv",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=32x32:rate=25:duration=2",
            "-c:v",
            "ffv1",
        ],
    );
    let good = small_clip();
    let (odd_id, good_id) = (
        common::upload(&client, &node, &odd, None).await,
        common::upload(&client, &node, &good, None).await,
    );
    let bad_job = create_job(
        &client,
        &node,
        serde_json::json!({"input": odd_id, "chunk_seconds": 1, "output": {"preset": "ultrafast", "codec": "av1"}}),
    )
    .await;
    let good_job = create_job(&client, &node, serde_json::json!({"input": good_id, "chunk_seconds": 1, "output": {"preset": "ultrafast"}})).await;
    wait_done(&client, &node, &good_job, Duration::from_secs(120)).await;
    let start = Instant::now();
    let failed = loop {
        let j: Value = client
            .get(node.url(&format!("/api/jobs/{bad_job}")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if j["state"] == "failed" {
            break j;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "{j}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let reason = failed["error"].as_str().unwrap();
    assert!(
        reason.contains("after 2 attempts") && reason.contains("libsvtav1"),
        "{reason}"
    );
    // The dashboard's list of failures names the job and its chunks, with one-line reasons.
    let recent = common::get(&client, node.url("/api/failures?limit=50")).await;
    let recent = recent.as_array().expect("failures");
    assert!(
        recent
            .iter()
            .any(|f| f["job"] == bad_job.as_str() && f["chunk"].is_null() && f["error"] == reason),
        "{recent:?}"
    );
    assert!(
        recent.iter().any(|f| f["job"] == bad_job.as_str()
            && f["chunk"].is_u64()
            && f["error"]
                .as_str()
                .is_some_and(|e| e.contains("libsvtav1") && !e.contains('\n'))),
        "{recent:?}"
    );
    assert!(
        recent.iter().all(|f| f["job"] != good_job.as_str()),
        "{recent:?}"
    );
    let times: Vec<i64> = recent.iter().filter_map(|f| f["at_ms"].as_i64()).collect();
    assert!(
        times.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {times:?}"
    );
    let bad = client
        .get(node.url("/api/failures?limit=0"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
    // Retry is accepted and fails the same way, cleanly.
    let r = client
        .post(node.url(&format!("/api/jobs/{bad_job}/retry")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// Cancelling a running job stops it; retrying at once (before its workers have wound down) is
/// accepted and the job finishes whole.
#[tokio::test(flavor = "multi_thread")]
async fn a_cancelled_job_can_be_retried_at_once_and_finishes_whole() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(&dir.path().join("data"), &[]);
    let client = reqwest::Client::new();
    let clip = generated(
        "svc_cancel_720p.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=1280x720:rate=25:duration=4",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
        ],
    );
    let id = common::upload(&client, &node, &clip, None).await;
    let job = create_job(
        &client,
        &node,
        serde_json::json!({"input": id, "chunk_seconds": 1, "output": {"preset": "ultrafast"},
            "stages": [{"kind": "sharpen"}, {"kind": "scale", "factor": 2}]}),
    )
    .await;
    let get = |url: String| {
        let client = client.clone();
        async move {
            let r = client.get(url).send().await.unwrap();
            r.json::<Value>().await.unwrap()
        }
    };
    let start = Instant::now();
    loop {
        let j = get(node.url(&format!("/api/jobs/{job}"))).await;
        if j["state"] == "rendering" {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60) && j["state"] != "done",
            "job never seen rendering: {j}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let r = client
        .delete(node.url(&format!("/api/jobs/{job}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = client
        .post(node.url(&format!("/api/jobs/{job}/retry")))
        .send()
        .await
        .unwrap();
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"], "queued", "{body}");
    wait_done(&client, &node, &job, Duration::from_secs(300)).await;
    let out = download_output(&client, &node, &job, &dir.path().join("out.mp4")).await;
    assert_eq!(kino_tests::count_frames(&out), 100);
    let v = kino_tests::ffprobe_json(&out, &["-show_streams"]);
    assert_eq!(v["streams"][0]["width"], 2560, "{v}");
}
