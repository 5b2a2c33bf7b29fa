//! A farm recovering: a serving node killed and restarted, the database gone for a while.

use super::*;

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
    let clip = ten_second_clip();
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
    until_a_chunk_done(&client, &a, &job).await;
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
    let a = Node::start(&shared, &farm_args(&db, "a"));
    let mut c = Worker::start(&db, &shared, "c");
    let client = reqwest::Client::new();
    until_joined(&client, &a, &["a", "c"]).await;
    let clip = ten_second_clip();
    let job = submit(&client, &a, &a, &clip).await;
    until_a_chunk_done(&client, &a, &job).await;
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
