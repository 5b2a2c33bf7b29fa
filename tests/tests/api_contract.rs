//! What an HTTP client can rely on, against a real `kino-node serve` on 127.0.0.1: no response or
//! event names a path on the node, absent values are absent (no integer sentinels), a retried job
//! creation with an `Idempotency-Key` never makes a second job, and the node refuses up front what
//! the CLI refuses up front.

mod common;

use futures_util::StreamExt;
use kino_tests::*;
use serde_json::{json, Value};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn clip() -> std::path::PathBuf {
    generated(
        "contract_clip.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=25:duration=3",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "25",
            "-movflags",
            "+faststart",
        ],
    )
}

/// GETs `path` and returns the body text (every byte a client would read).
async fn get_text(client: &reqwest::Client, node: &Node, path: &str) -> String {
    client
        .get(node.url(path))
        .send()
        .await
        .expect("request")
        .text()
        .await
        .expect("body")
}

/// Waits for job `id` to reach one of `states`; returns its status JSON.
async fn wait_state(client: &reqwest::Client, node: &Node, id: &str, states: &[&str]) -> Value {
    let start = Instant::now();
    loop {
        let j: Value =
            serde_json::from_str(&get_text(client, node, &format!("/api/jobs/{id}")).await)
                .expect("job JSON");
        if states.iter().any(|s| j["state"] == *s) {
            return j;
        }
        assert!(start.elapsed() < Duration::from_secs(120), "{j}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn post_job(
    client: &reqwest::Client,
    node: &Node,
    spec: &Value,
    key: Option<&str>,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let mut req = client.post(node.url("/api/jobs")).json(spec);
    if let Some(k) = key {
        req = req.header("Idempotency-Key", k);
    }
    let r = req.send().await.expect("POST /api/jobs");
    let (status, headers) = (r.status().as_u16(), r.headers().clone());
    (status, r.json().await.expect("JSON body"), headers)
}

#[tokio::test(flavor = "multi_thread")]
async fn no_client_visible_text_names_the_data_folder() {
    const MARKER: &str = "kino-marker-5e1f9c";
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(&dir.path().join(format!("{MARKER}-data")), &[]);
    let client = reqwest::Client::new();

    // Every event of every job, as the editor's socket receives them.
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let url = node.url("/api/events").replace("http://", "ws://");
    let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .expect("events socket");
    let sink = seen.clone();
    let listener = tokio::spawn(async move {
        while let Some(Ok(msg)) = ws.next().await {
            if let Ok(t) = msg.into_text() {
                sink.lock().unwrap().push(t.to_string());
            }
        }
    });
    let mut texts: Vec<String> = Vec::new();

    // Not a video: refused at once, naming the upload, not where it lies.
    let junk = dir.path().join("notes.txt");
    std::fs::write(
        &junk,
        "these are not the frames you are looking for\n".repeat(50),
    )
    .unwrap();
    let junk_id = common::upload(&client, &node, &junk, None).await;
    let (status, body, _) = post_job(&client, &node, &json!({"input": junk_id}), None).await;
    assert_eq!(status, 422, "{body}");
    let msg = body["message"].as_str().unwrap();
    assert!(
        msg.contains(&junk_id),
        "the message names the upload: {msg}"
    );
    texts.push(body.to_string());
    // The same bytes probed before an upload, and the head of a video without its index.
    let junk_bytes = std::fs::read(&junk).unwrap();
    let clip_bytes = std::fs::read(clip()).unwrap();
    for (bytes, size) in [
        (junk_bytes.clone(), junk_bytes.len()),
        (clip_bytes[..64].to_vec(), clip_bytes.len()),
    ] {
        let head = bytes.len();
        let r = client
            .post(node.url(&format!("/api/probe?size={size}&head={head}&name=x.mp4")))
            .body(bytes)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422);
        texts.push(r.text().await.unwrap());
    }

    // A truncated video passes the header check and fails in the queue: its reason too.
    let good = clip();
    let bytes = std::fs::read(&good).unwrap();
    let cut = dir.path().join("cut.mp4");
    std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let cut_id = common::upload(&client, &node, &cut, None).await;
    let (status, body, _) = post_job(&client, &node, &json!({"input": cut_id}), None).await;
    assert_eq!(status, 201, "{body}");
    let failed = wait_state(&client, &node, body["id"].as_str().unwrap(), &["failed"]).await;
    let reason = failed["error"].as_str().unwrap();
    assert!(
        reason.contains(&cut_id),
        "the reason names the upload: {reason}"
    );

    // A job that works, in chunks: its status, chunks, report and the lists.
    let good_id = common::upload(&client, &node, &good, None).await;
    let spec = json!({"input": good_id, "chunk_seconds": 1, "output": {"preset": "ultrafast"}});
    let (status, body, _) = post_job(&client, &node, &spec, None).await;
    assert_eq!(status, 201, "{body}");
    let job = body["id"].as_str().unwrap().to_owned();
    wait_state(&client, &node, &job, &["done"]).await;
    for path in [
        format!("/api/jobs/{job}"),
        format!("/api/jobs/{job}/report"),
        format!("/api/uploads/{good_id}"),
        "/api/jobs".to_owned(),
        "/api/jobs/nope".to_owned(),
        "/api/openapi.json".to_owned(),
    ] {
        texts.push(get_text(&client, &node, &path).await);
    }
    // The chunk list comes with the snapshot a new listener gets first.
    let url = node
        .url(&format!("/api/jobs/{job}/events"))
        .replace("http://", "ws://");
    let (mut one, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .unwrap();
    let snapshot = one.next().await.unwrap().unwrap().into_text().unwrap();
    let snap: Value = serde_json::from_str(&snapshot).unwrap();
    let chunks = snap["chunks"].as_array().expect("chunks in the snapshot");
    assert!(chunks.len() >= 3, "{snap}");
    assert!(chunks[0].get("start_pts").is_none(), "open start: {snap}");
    assert!(
        chunks.last().unwrap().get("end_pts").is_none(),
        "open end: {snap}"
    );
    assert!(chunks[1]["start_pts"].is_i64());
    texts.push(snapshot.to_string());

    tokio::time::sleep(Duration::from_millis(300)).await;
    listener.abort();
    texts.extend(seen.lock().unwrap().iter().cloned());
    assert!(texts.len() > 10, "events were received: {}", texts.len());
    for t in &texts {
        assert!(!t.contains(MARKER), "a server path reached the client: {t}");
        assert!(
            !t.contains("9223372036854775807") && !t.contains("-9223372036854775808"),
            "an integer sentinel reached the client: {t}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_idempotency_key_makes_one_job_however_often_it_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut node = Node::start(&data, &[]);
    let client = reqwest::Client::new();
    let id = common::upload(&client, &node, &clip(), None).await;
    let spec = json!({"input": id, "output": {"preset": "ultrafast"}});

    let (s1, first, _) = post_job(&client, &node, &spec, Some("render-1")).await;
    assert_eq!(s1, 201, "{first}");
    let (s2, again, headers) = post_job(&client, &node, &spec, Some("render-1")).await;
    assert_eq!(s2, 200, "{again}");
    assert_eq!(again["id"], first["id"]);
    assert_eq!(headers["idempotent-replayed"], "true");

    // Concurrent retries (a double click, a proxy retrying) agree on one job.
    let tries = (0..6).map(|_| {
        let (client, spec, url) = (client.clone(), spec.clone(), node.url("/api/jobs"));
        tokio::spawn(async move {
            let r = client
                .post(url)
                .header("Idempotency-Key", "render-2")
                .json(&spec)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let v: Value = r.json().await.unwrap();
            (status, v["id"].as_str().unwrap_or_default().to_owned())
        })
    });
    let mut ids = Vec::new();
    for t in tries {
        let (status, id) = t.await.unwrap();
        assert!(status == 200 || status == 201, "{status}");
        ids.push(id);
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "one job for one key: {ids:?}");

    // The same key with another body is a client error.
    let other = json!({"input": id, "output": {"preset": "veryfast"}});
    let (s, body, _) = post_job(&client, &node, &other, Some("render-1")).await;
    assert_eq!(s, 422, "{body}");
    assert_eq!(body["code"], "idempotency_key_reused");
    for bad in [String::new(), "k".repeat(300)] {
        let (s, body, _) = post_job(&client, &node, &spec, Some(&bad)).await;
        assert_eq!(s, 400, "{body}");
        assert_eq!(body["field"], "Idempotency-Key");
    }
    // A refused request does not keep its key: the corrected retry is judged afresh.
    let unknown = json!({"input": "0123456789abcdef0123456789abcdef"});
    let (s, _, _) = post_job(&client, &node, &unknown, Some("render-3")).await;
    assert_eq!(s, 422);
    let (s, _, _) = post_job(&client, &node, &spec, Some("render-3")).await;
    assert_eq!(s, 201);

    // Keys survive a restart.
    node.kill9();
    drop(node);
    let node = Node::start(&data, &[]);
    let (s, after, _) = post_job(&client, &node, &spec, Some("render-1")).await;
    assert_eq!(s, 200, "{after}");
    assert_eq!(after["id"], first["id"]);
    let jobs: Value = serde_json::from_str(&get_text(&client, &node, "/api/jobs").await).unwrap();
    assert_eq!(jobs.as_array().unwrap().len(), 3, "{jobs}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_encoder_is_refused_up_front_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let off = [("KINO_DISABLED_ENCODERS", Path::new("libsvtav1"))];
    let node = Node::start_with_env(&dir.path().join("data"), &[], &off);
    let client = reqwest::Client::new();
    let id = common::upload(&client, &node, &clip(), None).await;
    let (st, body, _) = post_job(
        &client,
        &node,
        &json!({"input": id, "output": {"codec": "av1"}}),
        None,
    )
    .await;
    assert_eq!(st, 422, "{body}");
    assert_eq!(body["field"], "output.codec", "{body}");
    assert!(body["message"].as_str().unwrap().contains("libsvtav1"));
    let jobs: Value = serde_json::from_str(&get_text(&client, &node, "/api/jobs").await).unwrap();
    assert_eq!(jobs.as_array().unwrap().len(), 0, "nothing was queued");

    // The CLI refuses the same, exit code 2, naming the same field.
    let out = std::process::Command::new(kino_bin())
        .env("KINO_DISABLED_ENCODERS", "libsvtav1")
        .args([
            "render",
            s(&clip()),
            "-o",
            s(&dir.path().join("o.mp4")),
            "--codec",
            "av1",
            "--data-dir",
            s(dir.path()),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("output.codec"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_openapi_document_passes_an_independent_validator() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(&dir.path().join("data"), &[]);
    let client = reqwest::Client::new();
    let doc = get_text(&client, &node, "/api/openapi.json").await;
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, &doc).unwrap();
    let out = std::process::Command::new(tools_python())
        .args(["-m", "openapi_spec_validator", s(&file)])
        .output()
        .expect("running openapi-spec-validator");
    assert!(
        out.status.success(),
        "openapi-spec-validator: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The idempotency header is documented where clients look for it.
    let v: Value = serde_json::from_str(&doc).unwrap();
    let params = v["paths"]["/api/jobs"]["post"]["parameters"].to_string();
    assert!(params.contains("Idempotency-Key"), "{params}");
}

#[test]
fn render_help_names_every_stage_kind() {
    let out = kino(&["render", "--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for kind in kino_shared::StageSpec::KINDS
        .iter()
        .chain(kino_shared::AudioStageSpec::KINDS.iter())
    {
        assert!(
            help.lines()
                .any(|l| l.trim_start().starts_with(&format!("{kind} "))),
            "render --help does not list {kind}:\n{help}"
        );
    }
}
