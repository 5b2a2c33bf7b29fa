//! The node service end to end: a real `kino-node serve` on 127.0.0.1, a standard tus client
//! (tus-js-client under Node), HTTP and WebSocket clients, crashes by SIGKILL.

mod common;

use futures_util::StreamExt;
use kino_tests::*;
use serde_json::Value;
use std::path::Path;
use std::time::{Duration, Instant};

/// A file of pseudo-random bytes (incompressible, reproducible).
fn random_file(path: &Path, len: usize) {
    let mut x: u64 = 0x9E3779B97F4A7C15;
    let mut buf = Vec::with_capacity(len);
    while buf.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        buf.extend_from_slice(&x.to_le_bytes());
    }
    buf.truncate(len);
    std::fs::write(path, buf).unwrap();
}

async fn upload_info(client: &reqwest::Client, node: &Node, url: &str) -> Value {
    let id = url.rsplit('/').next().unwrap();
    client
        .get(node.url(&format!("/api/uploads/{id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn tus_upload_resumes_after_interrupt_and_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("payload.bin");
    random_file(&file, 24 * 1024 * 1024);
    let want = sha256_file(&file);
    let data = dir.path().join("data");
    let client = reqwest::Client::new();

    // Interrupted at ~50 %, resumed against the same node.
    let mut node = Node::start(&data, &[]);
    let endpoint = node.url("/api/uploads");
    let first = tus_js(&[&endpoint, s(&file), "--abort-at", "0.5"]);
    let url = first["url"].as_str().unwrap().to_owned();
    let half = upload_info(&client, &node, &url).await;
    let offset = half["offset"].as_u64().unwrap();
    assert!(
        offset > 0 && offset < 24 * 1024 * 1024,
        "offset after interrupt: {half}"
    );
    assert_eq!(half["complete"], false);
    let done = tus_js(&[&endpoint, s(&file), "--resume-url", &url]);
    assert_eq!(done["done"], true);
    let info = upload_info(&client, &node, &url).await;
    assert_eq!(info["sha256"].as_str(), Some(want.as_str()), "{info}");
    assert_eq!(info["metadata"]["filename"], "payload.bin");

    // Interrupted, node killed and restarted, resumed.
    let second = tus_js(&[&endpoint, s(&file), "--abort-at", "0.5"]);
    let path = second["url"]
        .as_str()
        .unwrap()
        .split("/api/")
        .nth(1)
        .unwrap()
        .to_owned();
    node.kill9();
    let node = Node::start(&data, &[]);
    let url = node.url(&format!("/api/{path}"));
    let resumed = tus_js(&[&node.url("/api/uploads"), s(&file), "--resume-url", &url]);
    assert_eq!(resumed["done"], true);
    let info = upload_info(&client, &node, &url).await;
    assert_eq!(info["sha256"].as_str(), Some(want.as_str()), "{info}");
}

type Events =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A WebSocket client of a job's progress events.
async fn job_events(node: &Node, job: &str) -> Events {
    let url = node
        .url(&format!("/api/jobs/{job}/events"))
        .replace("http://", "ws://");
    tokio_tungstenite::connect_async(url.as_str())
        .await
        .expect("connecting to the events WebSocket")
        .0
}

/// The next event, `None` when the stream ends; panics when none comes within `limit`.
async fn next_event(ws: &mut Events, limit: Duration) -> Option<Value> {
    let msg = tokio::time::timeout(limit, ws.next())
        .await
        .expect("events stalled")?;
    let text = msg
        .expect("WebSocket message")
        .into_text()
        .expect("text frame");
    Some(serde_json::from_str(&text).expect("event JSON"))
}

/// Downloads a finished job's output to `path` (returned, for chaining).
async fn download_output(
    client: &reqwest::Client,
    node: &Node,
    job: &str,
    path: &Path,
) -> std::path::PathBuf {
    let r = client
        .get(node.url(&format!("/api/jobs/{job}/output")))
        .send()
        .await
        .expect("output request");
    assert_eq!(r.status(), 200);
    std::fs::write(path, r.bytes().await.expect("output body")).expect("writing the output");
    path.to_owned()
}

async fn create_job(client: &reqwest::Client, node: &Node, spec: Value) -> String {
    let r = client
        .post(node.url("/api/jobs"))
        .json(&spec)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

async fn wait_done(client: &reqwest::Client, node: &Node, id: &str, limit: Duration) -> Value {
    let start = Instant::now();
    loop {
        let j: Value = client
            .get(node.url(&format!("/api/jobs/{id}")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        match j["state"].as_str() {
            Some("done") => return j,
            Some("failed") | Some("cancelled") => panic!("job ended as {j}"),
            _ => {}
        }
        assert!(start.elapsed() < limit, "job not done in time: {j}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn small_clip() -> std::path::PathBuf {
    generated(
        "svc_small.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=25:duration=4",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=300:duration=4",
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
    )
}

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
async fn bad_requests_get_clear_json_errors_and_the_node_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(
        &dir.path().join("data"),
        &["--token", "s3cret", "--max-upload-bytes", "1000000"],
    );
    let client = reqwest::Client::new();
    let api = |p: &str| node.url(p);
    async fn err(r: reqwest::Response, status: u16) -> Value {
        assert_eq!(r.status().as_u16(), status);
        let v: Value = r.json().await.unwrap();
        assert!(v["code"].is_string() && v["message"].is_string(), "{v}");
        v
    }
    // No token, wrong token; health stays open.
    err(client.get(api("/api/jobs")).send().await.unwrap(), 401).await;
    err(
        client
            .get(api("/api/jobs"))
            .bearer_auth("nope")
            .send()
            .await
            .unwrap(),
        401,
    )
    .await;
    assert_eq!(
        client
            .get(api("/api/health"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let post = |body: &'static str| {
        client
            .post(api("/api/jobs"))
            .bearer_auth("s3cret")
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let v = err(post("{\"input\": ").await.unwrap(), 400).await;
    assert_eq!(v["code"], "invalid_json");
    let v = err(
        post(r#"{"input":"x","stages":[{"kind":"warp"}]}"#)
            .await
            .unwrap(),
        422,
    )
    .await;
    assert_eq!(v["field"], "stages[0].kind");
    let v = err(
        post(r#"{"input":"x","stages":[{"kind":"scale","width":0}]}"#)
            .await
            .unwrap(),
        422,
    )
    .await;
    assert_eq!(v["field"], "stages.scale.width");
    let v = err(
        post(r#"{"input":"0123456789abcdef0123456789abcdef"}"#)
            .await
            .unwrap(),
        422,
    )
    .await;
    assert_eq!(v["field"], "input");
    // Upload over the cap, wrong offset, unknown ids.
    let tus = |m: reqwest::Method, p: String| {
        client
            .request(m, api(&p))
            .bearer_auth("s3cret")
            .header("Tus-Resumable", "1.0.0")
    };
    let v = err(
        tus(reqwest::Method::POST, "/api/uploads".into())
            .header("Upload-Length", "2000000")
            .send()
            .await
            .unwrap(),
        413,
    )
    .await;
    assert_eq!(v["field"], "Upload-Length");
    let r = tus(reqwest::Method::POST, "/api/uploads".into())
        .header("Upload-Length", "10")
        .send()
        .await
        .unwrap();
    let loc = r.headers()["location"].to_str().unwrap().to_owned();
    let v = err(
        tus(reqwest::Method::PATCH, loc.clone())
            .header("Upload-Offset", "5")
            .header("Content-Type", "application/offset+octet-stream")
            .body("abc")
            .send()
            .await
            .unwrap(),
        409,
    )
    .await;
    assert_eq!(v["code"], "offset_mismatch");
    err(
        tus(reqwest::Method::PATCH, loc.clone())
            .header("Upload-Offset", "0")
            .body("abc")
            .send()
            .await
            .unwrap(),
        415,
    )
    .await;
    err(
        client
            .get(api("/api/jobs/does-not-exist"))
            .bearer_auth("s3cret")
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    err(
        client
            .delete(api("/api/jobs/does-not-exist"))
            .bearer_auth("s3cret")
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    // A text file uploaded as a video is refused when the job is created.
    let notes = dir.path().join("notes.mp4");
    std::fs::write(&notes, "not a video\n".repeat(100)).unwrap();
    let id = common::upload(&client, &node, &notes, Some("s3cret")).await;
    let r = client
        .post(api("/api/jobs"))
        .bearer_auth("s3cret")
        .json(&serde_json::json!({"input": id}))
        .send()
        .await
        .unwrap();
    let v = err(r, 422).await;
    assert_eq!(v["code"], "bad_media");
    // Still serving; docs and OpenAPI available.
    assert_eq!(
        client
            .get(api("/api/jobs"))
            .bearer_auth("s3cret")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let doc: Value = client
        .get(api("/api/openapi.json"))
        .bearer_auth("s3cret")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert!(doc["paths"]["/api/jobs"].is_object());
    assert!(doc["paths"]["/api/uploads/{id}"]["patch"].is_object());
    let landing = client
        .get(api("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(landing.contains("/api/docs"));
    let html = client
        .get(api("/api/docs?token=s3cret"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("swagger-ui-bundle.js"));
}

#[test]
fn refuses_public_address_without_token() {
    let o = kino(&[
        "serve",
        "--listen",
        "0.0.0.0:0",
        "--data-dir",
        s(tempfile::tempdir().unwrap().path()),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("without a token"), "{err}");
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
    // Retry is accepted and fails the same way, cleanly.
    let r = client
        .post(node.url(&format!("/api/jobs/{bad_job}/retry")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

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
