//! Farm mode: several `kino-node` processes (two serving HTTP, one worker only) share one job queue
//! on a PostgreSQL the test starts, and one data folder. The job's chunks spread over the nodes; a
//! node that stops answering loses its chunk to another after its lease, and its late finish
//! changes nothing; the output decodes to exactly the frames one node renders alone.

#[path = "../common/mod.rs"]
mod common;

mod failures;
mod recovery;
mod remote;
mod share;
mod takeover;

use common::get;
use kino_tests::*;
use serde_json::Value;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Lease length the nodes run with, seconds: short, so a takeover happens within the test.
const LEASE: &str = "3";

/// The farm tests' node arguments: store `db`, name `name`, one worker, short leases.
fn farm_args<'a>(db: &'a str, name: &'a str) -> Vec<&'a str> {
    vec![
        "--db",
        db,
        "--name",
        name,
        "--workers",
        "1",
        "--lease-seconds",
        LEASE,
    ]
}

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

    /// SIGKILL, as a crash would.
    fn kill9(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
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

/// Uploads `clip` to node `to` and submits to node `via` the farm tests' job (lossless, 1 s chunks,
/// sharpen and ×2: slow enough to share); its id.
async fn submit(client: &reqwest::Client, to: &Node, via: &Node, clip: &Path) -> String {
    submit_with(client, to, via, clip, None).await
}

/// As [`submit`], showing the nodes' bearer `token`.
async fn submit_with(
    client: &reqwest::Client,
    to: &Node,
    via: &Node,
    clip: &Path,
    token: Option<&str>,
) -> String {
    let upload = common::upload(client, to, clip, token).await;
    let spec = serde_json::json!({
        "input": upload,
        "chunk_seconds": 1,
        "stages": [{"kind": "sharpen"}, {"kind": "scale", "factor": 2}],
        "output": {"codec": "h264", "crf": 0, "preset": "ultrafast", "audio": "none"},
    });
    let mut req = client.post(via.url("/api/jobs")).json(&spec);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.expect("create");
    assert_eq!(r.status(), 201);
    let job: Value = r.json().await.expect("job");
    job["id"].as_str().expect("id").to_owned()
}

/// The frames (MD5 each) of the farm tests' job rendered by one `kino-node render` alone, its
/// folders under `dir`: what a farm's output must decode to.
fn frames_alone(clip: &Path, dir: &Path) -> Vec<String> {
    let alone = dir.join("alone.mp4");
    let out = run(
        kino_bin().to_str().expect("utf-8"),
        &[
            "render",
            clip.to_str().expect("utf-8"),
            "-o",
            alone.to_str().expect("utf-8"),
            "--data-dir",
            dir.join("alone-data").to_str().expect("utf-8"),
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
    frame_md5s(&alone)
}

/// The node name part of a lease owner (`node:host:pid:random`).
fn node_of(owner: &Value) -> Option<String> {
    owner.as_str()?.split(':').next().map(str::to_owned)
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

/// The 10 s clip the recovery tests render (1 s chunks).
fn ten_second_clip() -> std::path::PathBuf {
    generated(
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
    )
}

/// Waits until a chunk of `job` is done.
async fn until_a_chunk_done(client: &reqwest::Client, node: &Node, job: &str) {
    let start = Instant::now();
    loop {
        let r = get(client, node.url(&format!("/api/jobs/{job}/report"))).await;
        if r["chunks"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["state"] == "done")
        {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no chunk done: {r}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
