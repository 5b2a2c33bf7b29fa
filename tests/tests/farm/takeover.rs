//! What happens to the work of a node that dies or cannot do it: a killed worker's chunk is taken
//! over after its lease, and a node without the job's model never claims its chunks.

use super::*;

/// `kill -9` of a worker in the middle of a chunk: another node claims that chunk again once the
/// lease runs out and finishes it within lease + 10 s; the job completes with every chunk
/// counted once.
#[tokio::test(flavor = "multi_thread")]
async fn a_killed_workers_chunk_is_finished_by_another_node() {
    let Some(pg) = Postgres::start() else { return };
    let db = pg.database("killed");
    let dir = tempfile::tempdir().expect("tempdir");
    let shared = dir.path().join("shared");
    let a = Node::start(&shared, &farm_args(&db, "a"));
    let mut c = Worker::start(&db, &shared, "c");
    let client = reqwest::Client::new();
    until_joined(&client, &a, &["a", "c"]).await;
    let job = submit(&client, &a, &a, &ten_second_clip()).await;
    let report = a.url(&format!("/api/jobs/{job}/report"));
    let start = Instant::now();
    let held = loop {
        let r = get(&client, report.clone()).await;
        let held =
            r["chunks"].as_array().into_iter().flatten().find(|ch| {
                ch["state"] == "running" && node_of(&ch["worker"]).as_deref() == Some("c")
            });
        if let Some(ch) = held {
            break ch["index"].as_u64().expect("index") as usize;
        }
        assert!(
            r["job"]["state"] != "done",
            "the worker never held a chunk: {r}"
        );
        assert!(start.elapsed() < Duration::from_secs(90), "{r}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    c.kill9();
    let killed_at = Instant::now();
    let lease = Duration::from_secs(LEASE.parse().expect("lease"));
    loop {
        let r = get(&client, report.clone()).await;
        let ch = &r["chunks"][held];
        if ch["state"] == "done" {
            assert_eq!(node_of(&ch["worker"]).as_deref(), Some("a"), "{ch}");
            break;
        }
        assert!(
            killed_at.elapsed() < lease + Duration::from_secs(10),
            "chunk {held} not finished within lease + 10 s: {r}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let done = until_ended(&client, &a, &job, Duration::from_secs(300)).await;
    assert_eq!(done["job"]["state"], "done", "{done}");
    let twice = pg.psql("killed", "SELECT COUNT(*) FROM chunks WHERE renders <> 1");
    assert_eq!(twice, "0", "chunks not rendered exactly once (as counted)");
}

/// A worker without the super-resolution model declines a neural upscale job and never claims its
/// chunks; the node with the model renders all of them.
#[tokio::test(flavor = "multi_thread")]
async fn a_node_without_the_model_never_claims_a_neural_chunk() {
    let Some(pg) = Postgres::start() else { return };
    let db = pg.database("model");
    let dir = tempfile::tempdir().expect("tempdir");
    let shared = dir.path().join("shared");
    let models = models_dir_with(&["realesr-animevideov3-x2.onnx"]);
    let a = Node::start_with_env(
        &shared,
        &farm_args(&db, "a"),
        &[("KINO_MODELS_DIR", &models)],
    );
    let empty = dir.path().join("no-models");
    std::fs::create_dir_all(&empty).expect("empty models folder");
    let empty = empty.to_str().expect("utf-8").to_owned();
    let _d = Worker::start_with_env(&db, &shared, "d", &[("KINO_MODELS_DIR", &empty)]);
    let client = reqwest::Client::new();
    until_joined(&client, &a, &["a", "d"]).await;
    let clip = generated(
        "farm_sr_160x90.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=160x90:rate=10:duration=3",
            "-pix_fmt",
            "yuv420p",
            "-c:v",
            "libx264",
            "-g",
            "5",
        ],
    );
    let upload = common::upload(&client, &a, &clip, None).await;
    let spec = serde_json::json!({
        "input": upload,
        "chunk_seconds": 0.5,
        "stages": [{"kind": "scale", "factor": 2, "model": "fast"}],
        "output": {"codec": "h264", "crf": 10, "preset": "ultrafast", "audio": "none"},
    });
    let r = client
        .post(a.url("/api/jobs"))
        .json(&spec)
        .send()
        .await
        .expect("create");
    assert_eq!(r.status(), 201);
    let job: Value = r.json().await.expect("job");
    let job = job["id"].as_str().expect("id");
    let done = until_ended(&client, &a, job, Duration::from_secs(300)).await;
    assert_eq!(done["job"]["state"], "done", "{done}");
    let chunks = done["chunks"].as_array().expect("chunks");
    assert!(chunks.len() >= 4, "{done}");
    for ch in chunks {
        assert_eq!(node_of(&ch["worker"]).as_deref(), Some("a"), "{ch}");
    }
    assert!(
        done["declined_by"]["d"]
            .as_str()
            .is_some_and(|why| why.contains("fast")),
        "{done}"
    );
    assert_eq!(done["failures"], serde_json::json!([]), "{done}");
}

/// The node that claims the assembly cannot write the output (its files may not grow past a chunk's
/// size): the failure counts against that node, not the job, and a node that joins later assembles
/// it; the output is whole.
#[tokio::test(flavor = "multi_thread")]
async fn another_node_takes_over_a_failed_assembly() {
    let Some(pg) = Postgres::start() else { return };
    let db = pg.database("assembly");
    let dir = tempfile::tempdir().expect("tempdir");
    let shared = dir.path().join("shared");
    // Chunks of this job are a few MB; the output is tens.
    let a = Node::start_with(&shared, &farm_args(&db, "a"), |c| {
        limit_file_size(c, 12 << 20)
    });
    let client = reqwest::Client::new();
    let clip = ten_second_clip();
    let job = submit(&client, &a, &a, &clip).await;
    let report = a.url(&format!("/api/jobs/{job}/report"));
    let start = Instant::now();
    loop {
        let r = get(&client, report.clone()).await;
        if r["failures"].as_array().is_some_and(|f| !f.is_empty()) {
            let chunks = r["chunks"].as_array().expect("chunks");
            assert!(chunks.iter().all(|c| c["state"] == "done"), "{r}");
            assert_eq!(r["failures"][0]["node"], "a", "{r}");
            break;
        }
        assert!(r["job"]["state"] != "done", "the output fitted: {r}");
        assert!(start.elapsed() < Duration::from_secs(240), "{r}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _c = Worker::start(&db, &shared, "c");
    let done = until_ended(&client, &a, &job, Duration::from_secs(120)).await;
    assert_eq!(done["job"]["state"], "done", "{done}");
    let twice = pg.psql("assembly", "SELECT COUNT(*) FROM chunks WHERE renders <> 1");
    assert_eq!(twice, "0", "chunks rendered again");
    let r = client
        .get(a.url(&format!("/api/jobs/{job}/output")))
        .send()
        .await
        .expect("output");
    assert_eq!(r.status(), 200);
    let out = dir.path().join("out.mp4");
    std::fs::write(&out, r.bytes().await.expect("bytes")).expect("write");
    assert_eq!(count_frames(&out), 250);
}
