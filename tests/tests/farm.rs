//! Farm mode: several `kino-node` processes (two serving HTTP, one worker only) share one job queue
//! on a PostgreSQL the test starts, and one data folder. The job's chunks spread over the nodes; a
//! node that stops answering loses its chunk to another after its lease, and its late finish
//! changes nothing; the output decodes to exactly the frames one node renders alone.

mod common;

use kino_tests::*;
use serde_json::Value;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Lease length the nodes run with, seconds: short, so a takeover happens within the test.
const LEASE: &str = "3";

/// A `kino-node worker` process, killed when dropped.
struct Worker(Child);

impl Worker {
    fn start(db: &str, data: &Path, name: &str) -> Worker {
        Worker::start_with_env(db, data, name, &[])
    }

    fn start_with_env(db: &str, data: &Path, name: &str, env: &[(&str, &str)]) -> Worker {
        Worker::start_with(db, data, name, |c| {
            c.envs(env.iter().copied());
        })
    }

    fn start_with(db: &str, data: &Path, name: &str, adjust: impl FnOnce(&mut Command)) -> Worker {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(data.join(format!("worker-{name}.log")))
            .expect("log");
        let mut cmd = Command::new(kino_bin());
        cmd.args(["worker", "--db", db, "--data-dir"])
            .arg(data)
            .args(["--name", name, "--workers", "1", "--lease-seconds", LEASE])
            .stdout(Stdio::null())
            .stderr(log);
        adjust(&mut cmd);
        Worker(cmd.spawn().expect("starting kino-node worker"))
    }

    /// Its exit status, if it exits within `limit`.
    fn exits_within(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Ok(Some(status)) = self.0.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        None
    }

    fn signal(&self, sig: i32) {
        // SAFETY: a signal to our own child process.
        unsafe { libc::kill(self.0.id() as i32, sig) };
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.signal(libc::SIGCONT);
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn get(client: &reqwest::Client, url: String) -> Value {
    let r = client.get(&url).send().await.expect("request");
    assert!(r.status().is_success(), "{url}: {}", r.status());
    r.json().await.expect("JSON")
}

/// Uploads `clip` to node `to` and submits to node `via` the farm tests' job (lossless, 1 s chunks,
/// sharpen and ×2: slow enough to share); its id.
async fn submit(client: &reqwest::Client, to: &Node, via: &Node, clip: &Path) -> String {
    let upload = common::upload(client, to, clip, None).await;
    let spec = serde_json::json!({
        "input": upload,
        "chunk_seconds": 1,
        "stages": [{"kind": "sharpen"}, {"kind": "scale", "factor": 2}],
        "output": {"codec": "h264", "crf": 0, "preset": "ultrafast", "audio": "none"},
    });
    let r = client
        .post(via.url("/api/jobs"))
        .json(&spec)
        .send()
        .await
        .expect("create");
    assert_eq!(r.status(), 201);
    let job: Value = r.json().await.expect("job");
    job["id"].as_str().expect("id").to_owned()
}

/// The node name part of a lease owner (`node:host:pid:random`).
fn node_of(owner: &Value) -> Option<String> {
    owner.as_str()?.split(':').next().map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread")]
async fn three_nodes_share_a_job_and_take_over_a_stalled_one() {
    let Some(pg) = Postgres::start() else { return };
    let db = pg.database("farm");
    let dir = tempfile::tempdir().expect("tempdir");
    let shared = dir.path().join("shared");
    let node = |name: &str| {
        Node::start(
            &shared,
            &[
                "--db",
                &db,
                "--name",
                name,
                "--workers",
                "1",
                "--lease-seconds",
                LEASE,
            ],
        )
    };
    let (a, b) = (node("a"), node("b"));
    let c = Worker::start(&db, &shared, "c");
    let clip = generated(
        "farm_640x360.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=640x360:rate=25:duration=8",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "25",
        ],
    );
    let client = reqwest::Client::new();
    // Node a's event stream, from before the job: it must carry what the other nodes do.
    let (ws, _) =
        tokio_tungstenite::connect_async(a.url("/api/events").replace("http://", "ws://"))
            .await
            .expect("events WebSocket");
    let seen = tokio::spawn(async move {
        use futures_util::StreamExt;
        let mut ws = ws;
        let mut events = Vec::new();
        // Until a little after the end: what other nodes did is relayed from the store, so it
        // can come shortly after this node's own last event.
        let mut limit = Duration::from_secs(60);
        while let Ok(Some(Ok(msg))) = tokio::time::timeout(limit, ws.next()).await {
            if let Ok(text) = msg.into_text() {
                if let Ok(v) = serde_json::from_str::<Value>(&text) {
                    if v["type"] == "job_state" && v["state"] == "done" {
                        limit = Duration::from_secs(3);
                    }
                    events.push(v);
                }
            }
        }
        events
    });
    // Uploaded to one serving node, submitted to the other.
    let job = submit(&client, &a, &b, &clip).await;

    // Stop the worker while it holds a chunk: it neither renews nor finishes.
    let report = |n: &Node| n.url(&format!("/api/jobs/{job}/report"));
    let start = Instant::now();
    let stalled = loop {
        let r = get(&client, report(&a)).await;
        let held =
            r["chunks"].as_array().into_iter().flatten().find(|ch| {
                ch["state"] == "running" && node_of(&ch["worker"]).as_deref() == Some("c")
            });
        if let Some(ch) = held {
            c.signal(libc::SIGSTOP);
            break ch["index"].as_u64().expect("index");
        }
        assert!(
            start.elapsed() < Duration::from_secs(90) && r["job"]["state"] != "done",
            "the worker never held a chunk: {r}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let stopped_at = Instant::now();
    // The farm's list shows which chunk the stopped worker holds.
    let listed = get(&client, a.url("/api/nodes")).await;
    let row = listed
        .as_array()
        .into_iter()
        .flatten()
        .find(|n| n["name"] == "c")
        .expect("c listed");
    assert!(
        row["current"]
            .as_array()
            .expect("current")
            .iter()
            .any(|x| x["job"] == job.as_str() && x["chunk"] == stalled),
        "{row}"
    );
    assert!(row["gpus"].is_array(), "{row}");

    // The others finish the job, the stalled chunk included.
    let done = loop {
        let r = get(&client, report(&b)).await;
        match r["job"]["state"].as_str() {
            Some("done") => break r,
            Some("failed") | Some("cancelled") => panic!("job ended: {r}"),
            _ => {}
        }
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "not done in time: {r}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let taken_over = done["chunks"][stalled as usize].clone();
    assert_eq!(taken_over["state"], "done", "{done}");
    assert_ne!(node_of(&taken_over["worker"]).as_deref(), Some("c"));
    assert!(
        stopped_at.elapsed() < Duration::from_secs(3 + 10 + 120),
        "the takeover took {:?}",
        stopped_at.elapsed()
    );
    let nodes: std::collections::BTreeSet<String> = done["chunks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|ch| node_of(&ch["worker"]))
        .collect();
    assert!(nodes.len() >= 2, "chunks rendered by {nodes:?} only");

    // Node a's clients saw the chunks the other nodes rendered, and the end.
    let events = tokio::time::timeout(Duration::from_secs(30), seen)
        .await
        .expect("the event stream ends with the job")
        .expect("event task");
    let elsewhere: Vec<u64> = done["chunks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|ch| node_of(&ch["worker"]).as_deref() != Some("a"))
        .filter_map(|ch| ch["index"].as_u64())
        .collect();
    assert!(!elsewhere.is_empty(), "{done}");
    for i in &elsewhere {
        assert!(
            events
                .iter()
                .any(|e| e["type"] == "chunk_done" && e["chunk"] == *i),
            "node a never told of chunk {i}: {events:?}"
        );
    }

    // The stalled worker wakes after its lease was taken: its finish counts for nothing.
    c.signal(libc::SIGCONT);
    tokio::time::sleep(Duration::from_secs(4)).await;
    let twice = pg.psql("farm", "SELECT COUNT(*) FROM chunks WHERE renders <> 1");
    assert_eq!(twice, "0", "chunks not rendered exactly once (as counted)");
    let after = get(&client, report(&a)).await;
    assert_eq!(after["job"]["state"], "done", "{after}");

    // Every node is listed, from either serving node.
    let listed = get(&client, a.url("/api/nodes")).await;
    let names: Vec<&str> = listed
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n["name"].as_str())
        .collect();
    assert_eq!(names, ["a", "b", "c"], "{listed}");

    // The farm's output is the single-node render, frame for frame.
    let r = client
        .get(a.url(&format!("/api/jobs/{job}/output")))
        .send()
        .await
        .expect("output");
    assert_eq!(r.status(), 200);
    let farm_out = dir.path().join("farm.mp4");
    std::fs::write(&farm_out, r.bytes().await.expect("bytes")).expect("write");
    let alone = dir.path().join("alone.mp4");
    let out = run(
        kino_bin().to_str().expect("utf-8"),
        &[
            "render",
            clip.to_str().expect("utf-8"),
            "-o",
            alone.to_str().expect("utf-8"),
            "--data-dir",
            dir.path().join("alone-data").to_str().expect("utf-8"),
            "--chunk-seconds",
            "1",
            "--stage",
            "sharpen",
            "--stage",
            "scale:factor=2",
            "--crf",
            "0",
            "--preset",
            "ultrafast",
            "--audio",
            "none",
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let (farm, single) = (frame_md5s(&farm_out), frame_md5s(&alone));
    assert_eq!(farm.len(), 200);
    assert!(farm == single, "the farm's frames differ from one node's");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_node_without_the_encoder_leaves_the_job_to_the_others() {
    let Some(pg) = Postgres::start() else { return };
    let db = pg.database("caps");
    let dir = tempfile::tempdir().expect("tempdir");
    let shared = dir.path().join("shared");
    let a = Node::start(
        &shared,
        &[
            "--db",
            &db,
            "--name",
            "a",
            "--workers",
            "1",
            "--lease-seconds",
            LEASE,
        ],
    );
    let _d = Worker::start_with_env(
        &db,
        &shared,
        "d",
        &[("KINO_DISABLED_ENCODERS", "libx264,libx264rgb")],
    );
    let client = reqwest::Client::new();
    let start = Instant::now();
    loop {
        let nodes = get(&client, a.url("/api/nodes")).await;
        let d = nodes
            .as_array()
            .into_iter()
            .flatten()
            .find(|n| n["name"] == "d");
        if let Some(d) = d {
            assert_eq!(d["alive"], true, "{d}");
            assert!(
                !d["encoders"]
                    .as_array()
                    .expect("encoders")
                    .contains(&"h264".into()),
                "{d}"
            );
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "d never joined: {nodes}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let clip = generated(
        "farm_caps_320x240.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=25:duration=8",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "25",
        ],
    );
    let job = submit(&client, &a, &a, &clip).await;
    let report = a.url(&format!("/api/jobs/{job}/report"));
    let done = loop {
        let r = get(&client, report.clone()).await;
        match r["job"]["state"].as_str() {
            Some("done") => break r,
            Some("failed") | Some("cancelled") => panic!("job ended: {r}"),
            _ => {}
        }
        assert!(start.elapsed() < Duration::from_secs(300), "not done: {r}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let by: Vec<Option<String>> = done["chunks"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|ch| node_of(&ch["worker"]))
        .collect();
    assert_eq!(by.len(), 8);
    assert!(
        by.iter().all(|n| n.as_deref() == Some("a")),
        "the node without the encoder rendered: {by:?}"
    );
}

/// Waits until every node named has joined (is alive in `GET /api/nodes`).
async fn until_joined(client: &reqwest::Client, node: &Node, names: &[&str]) {
    let start = Instant::now();
    loop {
        let nodes = get(client, node.url("/api/nodes")).await;
        let alive = |n: &str| {
            nodes
                .as_array()
                .into_iter()
                .flatten()
                .any(|x| x["name"] == *n && x["alive"] == true)
        };
        if names.iter().all(|n| alive(n)) {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "not all joined: {nodes}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Polls the job's report until the job ends.
async fn until_ended(client: &reqwest::Client, node: &Node, job: &str, limit: Duration) -> Value {
    let start = Instant::now();
    let url = node.url(&format!("/api/jobs/{job}/report"));
    loop {
        let r = get(client, url.clone()).await;
        if matches!(
            r["job"]["state"].as_str(),
            Some("done" | "failed" | "cancelled")
        ) {
            return r;
        }
        assert!(start.elapsed() < limit, "not ended: {r}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Failures as Flamenco handles them: a node whose disk is full (its files may not grow past a few
/// kB: the kernel refuses the writes) fails every chunk it takes; it stops taking the job's chunks
/// after three, the others finish the job, and the report says which node failed and why. When
/// every node fails, the job fails with each node's reason.
#[tokio::test(flavor = "multi_thread")]
async fn a_node_that_fails_leaves_the_job_to_the_others() {
    let Some(pg) = Postgres::start() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let client = reqwest::Client::new();
    let clip = generated(
        "farm_quota_640x360_q38.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=640x360:rate=25:duration=12",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-crf",
            "38",
            "-g",
            "25",
        ],
    );
    let upload_bytes = std::fs::metadata(&clip).expect("clip").len();

    // One node with a full disk among healthy ones.
    let db = pg.database("quota");
    let shared = dir.path().join("shared");
    let node_args = |name: &'static str, db: &str| -> Vec<String> {
        [
            "--db",
            db,
            "--name",
            name,
            "--workers",
            "1",
            "--lease-seconds",
            LEASE,
        ]
        .iter()
        .map(|a| a.to_string())
        .collect()
    };
    let args = node_args("quota-a", &db);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let a = Node::start(&shared, &args);
    let _b = Worker::start_with(&db, &shared, "quota-b", |c| limit_file_size(c, 8 << 10));
    let _c = Worker::start(&db, &shared, "quota-c");
    until_joined(&client, &a, &["quota-a", "quota-b", "quota-c"]).await;
    let job = submit(&client, &a, &a, &clip).await;
    let report = until_ended(&client, &a, &job, Duration::from_secs(300)).await;
    assert_eq!(report["job"]["state"], "done", "{report}");
    let failures = report["failures"].as_array().expect("failures");
    let by: Vec<Option<String>> = report["chunks"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| node_of(&c["worker"]))
        .collect();
    assert!(
        failures.len() >= 3,
        "the full disk failed: {failures:?}, chunks by {by:?}"
    );
    for f in failures {
        assert_eq!(f["node"], "quota-b", "{f}");
        assert!(
            f["error"].as_str().unwrap().contains("File too large"),
            "{f}"
        );
    }
    assert_eq!(report["barred_nodes"], serde_json::json!(["quota-b"]));
    let chunks = report["chunks"].as_array().expect("chunks");
    assert_eq!(chunks.len(), 12);
    assert!(
        chunks
            .iter()
            .all(|c| node_of(&c["worker"]).as_deref() != Some("quota-b")),
        "the full node rendered: {chunks:?}"
    );
    let out = dir.path().join("quota.mp4");
    let r = client
        .get(a.url(&format!("/api/jobs/{job}/output")))
        .send()
        .await
        .expect("output");
    std::fs::write(&out, r.bytes().await.expect("bytes")).expect("write");
    assert_eq!(count_frames(&out), 300);
    drop(a);

    // Every node's disk full (the upload fits, a lossless chunk of the ×2 output does not): the job
    // fails, naming each node and its reason.
    let db = pg.database("quota_all");
    let shared = dir.path().join("shared-all");
    let limit = upload_bytes + (256 << 10);
    let args = node_args("quota-a", &db);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let a = Node::start_with(&shared, &args, |c| limit_file_size(c, limit));
    let _b = Worker::start_with(&db, &shared, "quota-b", |c| limit_file_size(c, limit));
    let _c = Worker::start_with(&db, &shared, "quota-c", |c| limit_file_size(c, limit));
    until_joined(&client, &a, &["quota-a", "quota-b", "quota-c"]).await;
    let job = submit(&client, &a, &a, &clip).await;
    let report = until_ended(&client, &a, &job, Duration::from_secs(120)).await;
    assert_eq!(report["job"]["state"], "failed", "{report}");
    let reason = report["job"]["error"].as_str().expect("reason");
    eprintln!("every node failed: {reason}");
    for name in ["quota-a", "quota-b", "quota-c"] {
        assert!(reason.contains(name), "{name} missing from: {reason}");
    }
    assert!(reason.contains("File too large"), "{reason}");
}

/// The serving node that accepted a job is killed (`kill -9`) mid-job and started again: the job
/// completes, and the other serving node's WebSocket clients see every chunk finish before the job
/// does, the job end once, and nothing of it after its end.
#[tokio::test(flavor = "multi_thread")]
async fn the_accepting_node_dies_and_the_others_tell_the_story_in_order() {
    let Some(pg) = Postgres::start() else { return };
    let db = pg.database("restart");
    let dir = tempfile::tempdir().expect("tempdir");
    let shared = dir.path().join("shared");
    let args = [
        "--db",
        &db,
        "--name",
        "",
        "--workers",
        "1",
        "--lease-seconds",
        LEASE,
    ];
    let serving = |name: &str| {
        let mut a = args;
        a[3] = name;
        Node::start(&shared, &a)
    };
    let a = serving("a");
    let mut b = serving("b");
    let _c = Worker::start(&db, &shared, "c");
    let client = reqwest::Client::new();
    until_joined(&client, &a, &["a", "b", "c"]).await;
    let (ws, _) =
        tokio_tungstenite::connect_async(a.url("/api/events").replace("http://", "ws://"))
            .await
            .expect("events WebSocket");
    let clip = generated(
        "farm_restart_640x360.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=640x360:rate=25:duration=10",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "25",
        ],
    );
    // Uploaded to a, accepted by b.
    let job = submit(&client, &a, &b, &clip).await;
    let seen = {
        let job = job.clone();
        tokio::spawn(async move {
            use futures_util::StreamExt;
            let mut ws = ws;
            let mut events = Vec::new();
            let mut limit = Duration::from_secs(120);
            while let Ok(Some(Ok(msg))) = tokio::time::timeout(limit, ws.next()).await {
                let Ok(text) = msg.into_text() else { continue };
                let Ok(v) = serde_json::from_str::<Value>(&text) else {
                    continue;
                };
                if v["job"] != job.as_str() {
                    continue;
                }
                if v["type"] == "done" {
                    // What might still come after the end.
                    limit = Duration::from_secs(3);
                }
                events.push(v);
            }
            events
        })
    };
    // b dies once a chunk is done, and comes back.
    let start = Instant::now();
    loop {
        let r = get(&client, a.url(&format!("/api/jobs/{job}/report"))).await;
        if r["chunks"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["state"] == "done")
        {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no chunk done: {r}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    b.kill9();
    let _b = serving("b");
    let report = until_ended(&client, &a, &job, Duration::from_secs(300)).await;
    assert_eq!(report["job"]["state"], "done", "{report}");
    let chunks = report["chunks"].as_array().expect("chunks").len();

    let events = tokio::time::timeout(Duration::from_secs(150), seen)
        .await
        .expect("the event stream ends")
        .expect("event task");
    let kinds: Vec<String> = events
        .iter()
        .map(|e| {
            format!(
                "{}{}",
                e["type"].as_str().unwrap_or("?"),
                e["state"]
                    .as_str()
                    .map(|s| format!(":{s}"))
                    .unwrap_or_default()
            )
        })
        .collect();
    let end = events
        .iter()
        .position(|e| e["type"] == "job_state" && e["state"] == "done")
        .unwrap_or_else(|| panic!("no end seen: {kinds:?}"));
    for i in 0..chunks as u64 {
        let at = events
            .iter()
            .position(|e| e["type"] == "chunk_done" && e["chunk"] == i);
        assert!(
            at.is_some_and(|at| at < end),
            "chunk {i} not told before the end: {kinds:?}"
        );
    }
    let dones = events.iter().filter(|e| e["type"] == "done").count();
    assert_eq!(dones, 1, "{kinds:?}");
    let after: Vec<&String> = kinds[end + 1..]
        .iter()
        .filter(|k| k.as_str() != "done")
        .collect();
    assert!(after.is_empty(), "events after the end: {kinds:?}");
    let twice = pg.psql("restart", "SELECT COUNT(*) FROM chunks WHERE renders <> 1");
    assert_eq!(twice, "0", "chunks not rendered exactly once (as counted)");
}

/// PostgreSQL goes away mid-job for longer than a lease and comes back: the nodes pause, keep
/// retrying, and the job completes from where it was, every chunk counted once; meanwhile the API
/// answers with a clear error rather than hanging.
#[tokio::test(flavor = "multi_thread")]
async fn the_farm_waits_out_a_database_outage() {
    let Some(pg) = Postgres::start() else { return };
    let db = pg.database("outage");
    let dir = tempfile::tempdir().expect("tempdir");
    let shared = dir.path().join("shared");
    let a = Node::start(
        &shared,
        &[
            "--db",
            &db,
            "--name",
            "a",
            "--workers",
            "1",
            "--lease-seconds",
            LEASE,
        ],
    );
    let mut c = Worker::start(&db, &shared, "c");
    let client = reqwest::Client::new();
    until_joined(&client, &a, &["a", "c"]).await;
    let clip = generated(
        "farm_restart_640x360.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=640x360:rate=25:duration=10",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "25",
        ],
    );
    let job = submit(&client, &a, &a, &clip).await;
    let start = Instant::now();
    loop {
        let r = get(&client, a.url(&format!("/api/jobs/{job}/report"))).await;
        if r["chunks"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["state"] == "done")
        {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no chunk done: {r}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    pg.stop();
    // Longer than a lease: every lease has run out when the database comes back.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let r = tokio::time::timeout(
        Duration::from_secs(30),
        client.get(a.url(&format!("/api/jobs/{job}"))).send(),
    )
    .await
    .expect("the API answers while the database is away")
    .expect("request");
    assert_eq!(r.status(), 503, "while the database is away");
    let body: Value = r.json().await.expect("JSON error");
    assert_eq!(body["code"], "store_unavailable", "{body}");
    tokio::time::sleep(Duration::from_secs(4)).await;
    pg.start_again();
    let report = until_ended(&client, &a, &job, Duration::from_secs(180)).await;
    assert_eq!(report["job"]["state"], "done", "{report}");
    let twice = pg.psql("outage", "SELECT COUNT(*) FROM chunks WHERE renders <> 1");
    assert_eq!(twice, "0", "chunks not rendered exactly once (as counted)");
    let r = client
        .get(a.url(&format!("/api/jobs/{job}/output")))
        .send()
        .await
        .expect("output");
    let out = dir.path().join("outage.mp4");
    std::fs::write(&out, r.bytes().await.expect("bytes")).expect("write");
    assert_eq!(count_frames(&out), 250);
    until_joined(&client, &a, &["a", "c"]).await;

    // `worker --drain` asks the running worker c to stop taking work: it exits cleanly.
    let drain = |name: &str| kino(&["worker", "--db", &db, "--name", name, "--drain"]);
    let asked = drain("c");
    assert!(asked.status.success(), "{asked:?}");
    let status = c
        .exits_within(Duration::from_secs(30))
        .expect("the drained worker exits");
    assert!(status.success(), "{status:?}");
    let unknown = drain("nobody");
    assert_eq!(unknown.status.code(), Some(1));
    let said = String::from_utf8_lossy(&unknown.stderr);
    assert!(said.contains("no live node named nobody"), "{said}");
    assert!(
        !said.contains("postgres://"),
        "the database URL was shown: {said}"
    );
}

/// The analysis pass spreads over the nodes as the chunks do: each chunk analysed once, by
/// whichever node claimed it.
#[tokio::test(flavor = "multi_thread")]
async fn the_analysis_pass_spreads_over_the_nodes() {
    let Some(pg) = Postgres::start() else { return };
    let db = pg.database("analysis");
    let dir = tempfile::tempdir().expect("tempdir");
    let shared = dir.path().join("shared");
    let a = Node::start(
        &shared,
        &[
            "--db",
            &db,
            "--name",
            "a",
            "--workers",
            "1",
            "--lease-seconds",
            LEASE,
        ],
    );
    let _b = Worker::start(&db, &shared, "b");
    let client = reqwest::Client::new();
    until_joined(&client, &a, &["a", "b"]).await;
    let clip = generated(
        "farm_analysis_640x360_30s.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=640x360:rate=25:duration=30",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-crf",
            "38",
            "-g",
            "25",
        ],
    );
    let upload = common::upload(&client, &a, &clip, None).await;
    let spec = serde_json::json!({
        "input": upload,
        "chunk_seconds": 1,
        "stages": [{"kind": "stabilize"}],
        "output": {"preset": "ultrafast", "audio": "none"},
    });
    let r = client
        .post(a.url("/api/jobs"))
        .json(&spec)
        .send()
        .await
        .expect("create");
    assert_eq!(r.status(), 201);
    let job: Value = r.json().await.expect("job");
    let job = job["id"].as_str().expect("id").to_owned();
    let report = until_ended(&client, &a, &job, Duration::from_secs(300)).await;
    assert_eq!(report["job"]["state"], "done", "{report}");
    let by = pg.psql(
        "analysis",
        "SELECT split_part(owner, ':', 1) AS node, COUNT(*) FROM analysis GROUP BY node ORDER BY node",
    );
    assert!(by.lines().count() >= 2, "analysed by one node only: {by}");
    let chunks = pg.psql("analysis", "SELECT COUNT(*) FROM analysis");
    assert_eq!(chunks, "30", "{by}");
    let twice = pg.psql("analysis", "SELECT COUNT(*) FROM analysis WHERE saves <> 1");
    assert_eq!(twice, "0", "a chunk was analysed twice");
}
