//! Nodes sharing jobs: chunks and analyses spread, a stalled node's chunk taken over, a node
//! without the job's encoder leaving it to the others.

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn three_nodes_share_a_job_and_take_over_a_stalled_one() {
    let Some(pg) = Postgres::start() else { return };
    let db = pg.database("farm");
    let dir = tempfile::tempdir().expect("tempdir");
    let shared = dir.path().join("shared");
    let node = |name: &str| Node::start(&shared, &farm_args(&db, name));
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
    // Each chunk names its node and worker (the 3D view's lane): one worker per node here.
    for ch in done["chunks"].as_array().into_iter().flatten() {
        let node = node_of(&ch["worker"]).expect("worker");
        assert_eq!(ch["lane"], format!("{node}#1"), "{ch}");
    }

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
    // Claims relayed from the other nodes carry their lanes.
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "chunk_claimed" && (e["lane"] == "b#1" || e["lane"] == "c#1")),
        "no lane of another node: {events:?}"
    );

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
    // Each with its latest resource reading, from its own sampler (every 5 s by default).
    for n in listed.as_array().into_iter().flatten() {
        let r = &n["resources"];
        assert_eq!(r["node"], n["name"], "{n}");
        assert!(r["cores"].as_array().is_some_and(|c| !c.is_empty()), "{n}");
        assert!(r["memory_total_bytes"].as_u64() > Some(0), "{n}");
    }

    // The farm's output is the single-node render, frame for frame.
    let r = client
        .get(a.url(&format!("/api/jobs/{job}/output")))
        .send()
        .await
        .expect("output");
    assert_eq!(r.status(), 200);
    let farm_out = dir.path().join("farm.mp4");
    std::fs::write(&farm_out, r.bytes().await.expect("bytes")).expect("write");
    let (farm, single) = (frame_md5s(&farm_out), frames_alone(&clip, dir.path()));
    assert_eq!(farm.len(), 200);
    assert!(farm == single, "the farm's frames differ from one node's");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_node_without_the_encoder_leaves_the_job_to_the_others() {
    let Some(pg) = Postgres::start() else { return };
    let db = pg.database("caps");
    let dir = tempfile::tempdir().expect("tempdir");
    let shared = dir.path().join("shared");
    let a = Node::start(&shared, &farm_args(&db, "a"));
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

/// The analysis pass spreads over the nodes as the chunks do: each chunk analysed once, by
/// whichever node claimed it.
#[tokio::test(flavor = "multi_thread")]
async fn the_analysis_pass_spreads_over_the_nodes() {
    let Some(pg) = Postgres::start() else { return };
    let db = pg.database("analysis");
    let dir = tempfile::tempdir().expect("tempdir");
    let shared = dir.path().join("shared");
    let a = Node::start(&shared, &farm_args(&db, "a"));
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
