//! The node service end to end: a real `kino-node serve` on 127.0.0.1, a standard tus client
//! (tus-js-client under Node), HTTP and WebSocket clients, crashes by SIGKILL.

#[path = "../common/mod.rs"]
mod common;

mod analysis;
mod bad_requests;
mod bundles;
mod janitor;
mod jobs;
mod presets;
mod resources;
mod stages;
mod uploads;

use futures_util::StreamExt;
use kino_tests::*;
use serde_json::Value;
use std::path::Path;
use std::time::{Duration, Instant};

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
    // Saved under the uploaded file's name, not `output`.
    let disposition = r.headers()["content-disposition"]
        .to_str()
        .expect("ASCII")
        .to_owned();
    assert!(
        disposition.starts_with("inline; filename=\"") && disposition.contains("-kino."),
        "{disposition}"
    );
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
