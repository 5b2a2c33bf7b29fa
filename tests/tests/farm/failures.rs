//! Failures by node, as Flamenco handles them.

use super::*;

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
