//! The janitor (`--retain-days`): uploads and outputs past the age go, with their upload rows,
//! while the files of unfinished jobs (rendering or queued) stay until those jobs end; the storage
//! and what was freed are served (`GET /api/storage`) and exported (`/metrics`).

use super::*;

/// Sets a file's modification time `days` back (coreutils' touch).
fn age(path: &Path, days: u32) {
    let ok = std::process::Command::new("touch")
        .args(["-m", "-d", &format!("{days} days ago")])
        .arg(path)
        .status()
        .expect("touch")
        .success();
    assert!(ok, "touch {}", path.display());
}

async fn storage(client: &reqwest::Client, node: &Node) -> Value {
    common::get(client, node.url("/api/storage")).await
}

async fn state(client: &reqwest::Client, node: &Node, job: &str) -> String {
    let j = common::get(client, node.url(&format!("/api/jobs/{job}"))).await;
    j["state"].as_str().unwrap_or("").to_owned()
}

/// Waits until the janitor has removed `files` files in all.
async fn freed(client: &reqwest::Client, node: &Node, files: u64) -> Value {
    let start = Instant::now();
    loop {
        let s = storage(client, node).await;
        if s["freed_files"].as_u64() >= Some(files) {
            return s;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "janitor: {s}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_janitor_removes_old_files_but_not_those_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let args = [
        "--retain-days",
        "1",
        "--janitor-seconds",
        "0.2",
        "--max-jobs",
        "1",
        "--workers",
        "1",
    ];
    let node = Node::start(&data, &args);
    let client = reqwest::Client::new();
    let small = small_clip();
    let long = generated(
        "svc_janitor_720p.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=1280x720:rate=25:duration=12",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
        ],
    );
    // A finished job: its upload and output, made old, go.
    let done_up = common::upload(&client, &node, &small, None).await;
    let done_job = create_job(&client, &node, serde_json::json!({"input": done_up,
        "output": {"preset": "ultrafast"}, "stages": [{"kind": "scale", "width": 160, "height": 120}]})).await;
    wait_done(&client, &node, &done_job, Duration::from_secs(240)).await;
    let outputs: Vec<_> = std::fs::read_dir(data.join("outputs"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(outputs.len(), 1, "{outputs:?}");
    let done_out = outputs[0].clone();
    // A job rendering and one queued behind it (one job at a time): their uploads stay.
    let busy_up = common::upload(&client, &node, &long, None).await;
    let busy = create_job(&client, &node, serde_json::json!({"input": busy_up, "chunk_seconds": 2,
        "output": {"preset": "ultrafast"}, "stages": [{"kind": "sharpen"}, {"kind": "scale", "factor": 2}]})).await;
    let queued_up = common::upload(&client, &node, &small, None).await;
    let queued = create_job(
        &client,
        &node,
        serde_json::json!({"input": queued_up,
        "output": {"preset": "ultrafast"}}),
    )
    .await;
    let fresh_up = common::upload(&client, &node, &small, None).await;
    let upload = |id: &str| data.join("uploads").join(id);
    for path in [
        upload(&done_up),
        done_out.clone(),
        upload(&busy_up),
        upload(&queued_up),
    ] {
        age(&path, 3);
    }
    let s = freed(&client, &node, 2).await;
    // The precondition of what follows: the long job has not ended yet.
    let (busy_state, queued_state) = (
        state(&client, &node, &busy).await,
        state(&client, &node, &queued).await,
    );
    assert!(
        !["done", "failed", "cancelled"].contains(&busy_state.as_str()),
        "the long job ended too soon: {busy_state}"
    );
    assert_eq!(queued_state, "queued");
    assert!(!upload(&done_up).exists() && !done_out.exists(), "{s}");
    assert!(
        upload(&busy_up).exists(),
        "a rendering job's upload was removed: {s}"
    );
    assert!(
        upload(&queued_up).exists(),
        "a queued job's upload was removed: {s}"
    );
    assert!(upload(&fresh_up).exists());
    let mut names: Vec<_> = s["removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    let mut want = vec![
        format!("upload {done_up}"),
        done_out.file_name().unwrap().to_string_lossy().into_owned(),
    ];
    want.sort();
    assert_eq!(names, want, "{s}");
    assert!(
        s["removed"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["reason"] == "age"),
        "{s}"
    );
    assert_eq!(s["retention"]["max_age_seconds"], 86_400.0);
    // The removed upload is gone from the store too, and the output answers as gone.
    let r = client
        .head(node.url(&format!("/api/uploads/{done_up}")))
        .header("Tus-Resumable", "1.0.0")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = client
        .get(node.url(&format!("/api/jobs/{done_job}/output")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 410);

    // Once those jobs end, their old uploads go too; the fresh one stays.
    for job in [&queued, &busy] {
        let r = client
            .delete(node.url(&format!("/api/jobs/{job}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let s = freed(&client, &node, 4).await;
    assert!(
        !upload(&busy_up).exists() && !upload(&queued_up).exists(),
        "{s}"
    );
    assert!(upload(&fresh_up).exists(), "{s}");
    let small_bytes = std::fs::metadata(&small).unwrap().len();
    let s = {
        let start = Instant::now();
        loop {
            let s = storage(&client, &node).await;
            if s["uploads_files"] == 1 || start.elapsed() > Duration::from_secs(10) {
                break s;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    assert_eq!(
        (s["uploads_files"].as_u64(), s["uploads_bytes"].as_u64()),
        (Some(1), Some(small_bytes)),
        "{s}"
    );
    let freed_bytes = s["freed_bytes"].as_u64().unwrap();
    assert!(freed_bytes > std::fs::metadata(&long).unwrap().len(), "{s}");
    let metrics = client
        .get(node.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(&format!("kino_janitor_freed_bytes_total {freed_bytes}")),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!(
            "kino_storage_bytes{{kind=\"uploads\"}} {small_bytes}"
        )),
        "{metrics}"
    );
}
