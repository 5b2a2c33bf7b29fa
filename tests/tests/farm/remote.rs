//! A farm without shared storage: every node has its own data folder. The node that accepted the
//! job plans, assembles and serves its input; the others fetch their chunks' byte ranges from it
//! over HTTP (with the farm's token) and send the rendered chunks back.

use super::*;

const TOKEN: &str = "farm-token-for-tests";

async fn get_authed(client: &reqwest::Client, url: String) -> Value {
    let r = client
        .get(&url)
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("request");
    assert!(r.status().is_success(), "{url}: {}", r.status());
    r.json().await.expect("JSON")
}

/// The nodes that rendered the chunks of a job's report.
fn rendered_by(report: &Value) -> std::collections::BTreeSet<String> {
    report["chunks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|ch| node_of(&ch["worker"]))
        .collect()
}

/// The job's report once it is done (a failed or cancelled job, or five minutes, fail the test).
async fn report_when_done(client: &reqwest::Client, node: &Node, job: &str) -> Value {
    let start = Instant::now();
    loop {
        let r = get_authed(client, node.url(&format!("/api/jobs/{job}/report"))).await;
        match r["job"]["state"].as_str() {
            Some("done") => return r,
            Some("failed" | "cancelled") => panic!("job ended: {r}"),
            _ => {}
        }
        assert!(start.elapsed() < Duration::from_secs(300), "not done: {r}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn nodes_without_shared_storage_fetch_their_chunks_and_send_them_back() {
    let Some(pg) = Postgres::start() else { return };
    let db = pg.database("remote");
    let dir = tempfile::tempdir().expect("tempdir");
    let node = |name: &str| {
        Node::start(
            &dir.path().join(name),
            &[farm_args(&db, name), vec!["--token", TOKEN]].concat(),
        )
    };
    let (a, b) = (node("a"), node("b"));
    // The worker-only node reaches node a as its coordinator; node b finds a by the farm's list.
    let worker_dir = dir.path().join("c");
    std::fs::create_dir_all(&worker_dir).expect("worker folder");
    let _c = Worker::start_with(&db, &worker_dir, "c", |cmd| {
        cmd.args(["--coordinator", &a.base, "--token", TOKEN]);
    });
    let client = reqwest::Client::new();
    let start = Instant::now();
    loop {
        let nodes = get_authed(&client, a.url("/api/nodes")).await;
        let joined = |n: &str| {
            nodes
                .as_array()
                .into_iter()
                .flatten()
                .any(|x| x["name"] == *n && x["alive"] == true)
        };
        if ["a", "b", "c"].iter().all(|n| joined(n)) {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{nodes}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let clip = ten_second_clip();
    let job = submit_with(&client, &a, &a, &clip, Some(TOKEN)).await;

    // Without the token, nobody reads the input or puts a chunk.
    let input = a.url(&format!("/api/farm/jobs/{job}/input"));
    let r = client.get(&input).send().await.expect("input");
    assert_eq!(r.status(), 401);
    // With it, a range of the input is the input's bytes.
    let r = client
        .get(&input)
        .bearer_auth(TOKEN)
        .header("range", "bytes=100-199")
        .send()
        .await
        .expect("range");
    assert_eq!(r.status(), 206);
    let original = std::fs::read(&clip).expect("clip");
    assert_eq!(
        r.bytes().await.expect("bytes").as_ref(),
        &original[100..200]
    );

    let done = report_when_done(&client, &a, &job).await;
    let by = rendered_by(&done);
    assert!(
        by.contains("b") || by.contains("c"),
        "no node without the folder rendered a chunk: {by:?}"
    );
    // A chunk whose bytes do not match the hash sent with it is refused and leaves no file.
    let put = a.url(&format!("/api/farm/jobs/{job}/chunks/0/999"));
    let r = client
        .put(&put)
        .bearer_auth(TOKEN)
        .header("x-kino-sha256", "00".repeat(32))
        .body("not the chunk")
        .send()
        .await
        .expect("put");
    assert_eq!(r.status(), 422);
    let body: Value = r.json().await.expect("error body");
    assert_eq!(body["code"], "checksum_mismatch", "{body}");
    assert!(!a
        .data
        .join("jobs")
        .join(&job)
        .join("chunk-00000-999.mp4")
        .exists());
    let twice = pg.psql("remote", "SELECT COUNT(*) FROM chunks WHERE renders <> 1");
    assert_eq!(twice, "0", "chunks not rendered exactly once (as counted)");

    // The output is the single-node render, frame for frame.
    let r = client
        .get(a.url(&format!("/api/jobs/{job}/output")))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("output");
    assert_eq!(r.status(), 200);
    let farm_out = dir.path().join("farm.mp4");
    std::fs::write(&farm_out, r.bytes().await.expect("bytes")).expect("write");
    // Asked of a node without the folder, the output is where it is.
    let direct = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let moved = direct
        .get(b.url(&format!("/api/jobs/{job}/output")))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("output from b");
    assert_eq!(moved.status(), 307);
    assert_eq!(
        moved
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok()),
        Some(a.url(&format!("/api/jobs/{job}/output")).as_str())
    );
    let (farm, single) = (frame_md5s(&farm_out), frames_alone(&clip, dir.path()));
    assert_eq!(farm.len(), 250);
    assert!(farm == single, "the farm's frames differ from one node's");

    // Target quality in the farm: each chunk's search runs where the chunk renders, and its
    // outcome travels with the chunk, so the report lists every chunk.
    let upload = common::upload(&client, &a, &clip, Some(TOKEN)).await;
    let spec = serde_json::json!({
        "input": upload,
        "chunk_seconds": 1,
        "output": {"codec": "h264", "preset": "ultrafast", "audio": "none",
                   "target_quality": {"metric": "psnr", "value": 38}},
    });
    let r = client
        .post(a.url("/api/jobs"))
        .bearer_auth(TOKEN)
        .json(&spec)
        .send()
        .await
        .expect("create");
    assert_eq!(r.status(), 201);
    let tq: Value = r.json().await.expect("job");
    let tq = tq["id"].as_str().expect("id").to_owned();
    let done = report_when_done(&client, &a, &tq).await;
    let chunks = done["chunks"].as_array().map_or(0, |c| c.len());
    let found = done["sections"]["target_quality"]["chunks"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        found.len(),
        chunks,
        "{}",
        done["sections"]["target_quality"]
    );
    for c in &found {
        assert!(c["measured"].as_f64().is_some_and(|m| m >= 38.0), "{c}");
    }
    let by = rendered_by(&done);
    eprintln!("target-quality chunks rendered by {by:?}");
}

/// The node holding the input dies mid-job: the node without the folder cannot fetch or send, so it
/// waits (no failure counted against it or the job), and the job completes when the node is back.
#[tokio::test(flavor = "multi_thread")]
async fn a_job_waits_for_the_node_holding_its_input() {
    let Some(pg) = Postgres::start() else { return };
    let db = pg.database("home");
    let dir = tempfile::tempdir().expect("tempdir");
    let home = dir.path().join("a");
    let serving = || {
        Node::start(
            &home,
            &[farm_args(&db, "a"), vec!["--token", TOKEN]].concat(),
        )
    };
    let mut a = serving();
    // No --coordinator: the worker finds the node with the folder in the farm's list, so it finds
    // it again at its new address after the restart.
    let worker_dir = dir.path().join("c");
    std::fs::create_dir_all(&worker_dir).expect("worker folder");
    let _c = Worker::start_with(&db, &worker_dir, "c", |cmd| {
        cmd.args(["--token", TOKEN]);
    });
    let client = reqwest::Client::new();
    let clip = ten_second_clip();
    let job = submit_with(&client, &a, &a, &clip, Some(TOKEN)).await;
    // Once the worker has a chunk done, the node with the input goes away for longer than a lease.
    let start = Instant::now();
    loop {
        let r = get_authed(&client, a.url(&format!("/api/jobs/{job}/report"))).await;
        let by_c = r["chunks"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|ch| ch["state"] == "done" && node_of(&ch["worker"]).as_deref() == Some("c"));
        if by_c {
            break;
        }
        assert!(
            r["job"]["state"] != "done",
            "the worker never rendered: {r}"
        );
        assert!(start.elapsed() < Duration::from_secs(120), "{r}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    a.kill9();
    tokio::time::sleep(Duration::from_secs(6)).await;
    let a = serving();
    let done = report_when_done(&client, &a, &job).await;
    assert_eq!(done["failures"], serde_json::json!([]), "{done}");
    let twice = pg.psql("home", "SELECT COUNT(*) FROM chunks WHERE renders <> 1");
    assert_eq!(twice, "0", "chunks not rendered exactly once (as counted)");
    let r = client
        .get(a.url(&format!("/api/jobs/{job}/output")))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("output");
    assert_eq!(r.status(), 200);
    let farm_out = dir.path().join("farm.mp4");
    std::fs::write(&farm_out, r.bytes().await.expect("bytes")).expect("write");
    assert!(frame_md5s(&farm_out) == frames_alone(&clip, dir.path()));
}
