//! The resource sampler: readings stored and served (`GET /api/resources`) while a job renders,
//! the same figures in `/metrics`, which `promtool check metrics` (Debian's prometheus) accepts.

use super::*;

async fn history(client: &reqwest::Client, node: &Node, query: &str) -> (u16, Value) {
    let r = client
        .get(node.url(&format!("/api/resources{query}")))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn resources_are_sampled_stored_and_exported() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path(), &["--sample-seconds", "0.3", "--workers", "1"]);
    let client = reqwest::Client::new();
    // Throughput is counted from the first reading on: wait for two, so the job's frames all fall
    // after it (a loaded machine may take a while to start the sampler).
    let waited = Instant::now();
    while history(&client, &node, "").await.1["samples"]
        .as_array()
        .map_or(0, Vec::len)
        < 2
    {
        assert!(waited.elapsed() < Duration::from_secs(60), "no readings");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let input = small_clip();
    let id = common::upload(&client, &node, &input, None).await;
    let job = create_job(
        &client,
        &node,
        serde_json::json!({"input": id, "chunk_seconds": 1, "output": {"preset": "ultrafast"},
            "stages": [{"kind": "denoise", "strength": 1.0}]}),
    )
    .await;
    wait_done(&client, &node, &job, Duration::from_secs(240)).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    let (status, h) = history(&client, &node, "").await;
    assert_eq!(status, 200, "{h}");
    let samples = h["samples"].as_array().expect("samples");
    assert!(samples.len() >= 3, "{h}");
    assert_eq!(h["retention_ms"], 86_400_000);
    // Analytics over the history: the one job, its day, its minutes of video, its speeds.
    let a = common::get(&client, node.url("/api/analytics?days=7")).await;
    let day = &a["days"][0];
    assert_eq!(
        (day["jobs"].as_u64(), day["done"].as_u64()),
        (Some(1), Some(1)),
        "{a}"
    );
    assert!(
        (day["video_minutes"].as_f64().unwrap_or(0.0) - 4.0 / 60.0).abs() < 1e-3,
        "{a}"
    );
    assert_eq!(a["success_rate"], 1.0);
    let speeds = a["speeds"].as_array().expect("speeds");
    let denoise = speeds
        .iter()
        .find(|s| s["stage"] == "denoise")
        .expect("denoise speed");
    assert_eq!(denoise["resolution"], "SD", "{a}");
    let realtime = denoise["realtime"].as_f64().unwrap_or(0.0);
    let (secs, video) = (
        denoise["seconds"].as_f64().unwrap(),
        denoise["video_seconds"].as_f64().unwrap(),
    );
    assert!(
        realtime > 0.0 && (realtime - video / secs).abs() < 1e-9,
        "{denoise}"
    );
    let csv = |q: &'static str| {
        let (client, url) = (client.clone(), node.url(&format!("/api/analytics{q}")));
        async move {
            let r = client.get(url).send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let (status, text) = csv("?format=csv").await;
    assert_eq!(status, 200);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "day,jobs,done,failed,cancelled,video_minutes,render_minutes"
    );
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[1].starts_with(&format!("{},1,1,0,0,", day["day"].as_str().unwrap())),
        "{text}"
    );
    let (_, text) = csv("?format=csv&table=speeds").await;
    assert!(
        text.starts_with("stage,resolution,jobs,realtime,seconds,video_seconds\n"),
        "{text}"
    );
    assert!(text.contains("\ndenoise,SD,1,"), "{text}");
    for q in ["?state=failed", "?stage=scale"] {
        let none = common::get(&client, node.url(&format!("/api/analytics{q}"))).await;
        assert_eq!(none["days"], serde_json::json!([]), "{q}: {none}");
    }
    for (q, field) in [
        ("?days=0", "days"),
        ("?state=asleep", "state"),
        ("?format=xml", "format"),
    ] {
        let (status, body) = csv(q).await;
        assert_eq!(status, 422, "{q}: {body}");
        assert!(body.contains(field), "{body}");
    }
    // The janitor is off unless asked for: it only measures.
    let storage = common::get(&client, node.url("/api/storage")).await;
    assert!(storage.get("retention").is_none(), "{storage}");
    assert!(storage["measured_ms"].as_i64() > Some(0), "{storage}");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    for s in samples {
        let cpu = s["cpu"].as_f64().expect("cpu");
        assert!((0.0..=1.0).contains(&cpu), "{s}");
        assert_eq!(s["cores"].as_array().map(Vec::len), Some(cores), "{s}");
        for key in [
            "memory_total_bytes",
            "memory_used_bytes",
            "disk_total_bytes",
            "disk_free_bytes",
            "process_memory_bytes",
        ] {
            assert!(s[key].as_u64().is_some_and(|v| v > 0), "{key}: {s}");
        }
        // NVIDIA GPUs are read where the driver is (none on CI machines: then no readings at all).
        let gpus = s.get("gpus").and_then(|g| g.as_array()).map_or(0, Vec::len);
        assert_eq!(gpus, nvidia_gpus(), "{s}");
        for g in s
            .get("gpus")
            .and_then(|g| g.as_array())
            .into_iter()
            .flatten()
        {
            assert!(g["memory_total_bytes"].as_u64() > Some(0), "{g}");
            assert!(
                (0.0..=1.0).contains(&g["utilization"].as_f64().unwrap_or(-1.0)),
                "{g}"
            );
        }
    }
    // While the job rendered, the readings saw it: a chunk running, frames going through, the
    // node's process busy.
    let busy = samples
        .iter()
        .filter(|s| s["running_chunks"].as_u64() >= Some(1))
        .collect::<Vec<_>>();
    assert!(!busy.is_empty(), "no reading saw a chunk running: {h}");
    assert!(
        samples
            .iter()
            .any(|s| s["frames_per_second"].as_f64().is_some_and(|f| f > 0.0)),
        "{h}"
    );
    assert!(
        busy.iter()
            .any(|s| s["process_cpu_cores"].as_f64().is_some_and(|c| c > 0.2)),
        "{h}"
    );
    let frames: f64 = samples
        .windows(2)
        .map(|w| {
            let dt = (w[1]["at_ms"].as_i64().unwrap_or(0) - w[0]["at_ms"].as_i64().unwrap_or(0))
                as f64
                / 1000.0;
            w[1]["frames_per_second"].as_f64().unwrap_or(0.0) * dt
        })
        .sum();
    println!(
        "{} readings; frames counted from their rates: {frames:.0} of 100",
        samples.len()
    );
    // Every frame is counted once (a chunk's last frames through its done event).
    assert!((90.0..=110.0).contains(&frames), "{frames}");
    // Downsampled on request; bad windows refused.
    let (_, coarse) = history(&client, &node, "?minutes=10&step_seconds=600").await;
    assert!(
        coarse["samples"].as_array().map_or(0, Vec::len) <= 2,
        "{coarse}"
    );
    assert_eq!(coarse["step_ms"], 600_000);
    let (status, err) = history(&client, &node, "?minutes=5000").await;
    assert_eq!(
        (status, err["field"].as_str()),
        (422, Some("minutes")),
        "{err}"
    );
    let (status, err) = history(&client, &node, "?minutes=abc").await;
    assert_eq!(status, 400, "{err}");

    // /metrics: the classic text format passes promtool's check; OpenMetrics when asked for.
    let text = client
        .get(node.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for name in [
        "kino_node_cpu_usage_ratio ",
        "kino_node_core_usage_ratio{core=\"0\"}",
        "kino_node_memory_used_bytes ",
        "kino_data_disk_free_bytes ",
        "kino_process_resident_memory_bytes ",
        "kino_queue_chunks 0",
        "kino_chunks_done_total ",
    ] {
        assert!(text.contains(name), "{name} missing:\n{text}");
    }
    // The stage-timing histograms counted every chunk once in each part of its work.
    let value = |series: &str| -> Option<f64> {
        let line = text.lines().find(|l| l.starts_with(series))?;
        line.rsplit(' ').next()?.parse().ok()
    };
    let chunks = value("kino_chunks_done_total ").expect("chunks done");
    assert!(chunks >= 2.0, "{text}");
    for part in ["decode", "convert", "denoise", "encode", "measure"] {
        let series = format!("kino_chunk_part_seconds_count{{part=\"{part}\"}} ");
        assert_eq!(value(&series), Some(chunks), "{series}:\n{text}");
        let inf = format!("kino_chunk_part_seconds_bucket{{le=\"+Inf\",part=\"{part}\"}} ");
        assert_eq!(value(&inf), Some(chunks), "{inf}:\n{text}");
        let sum = format!("kino_chunk_part_seconds_sum{{part=\"{part}\"}} ");
        assert!(value(&sum).is_some_and(|s| s > 0.0), "{sum}:\n{text}");
    }
    let file = dir.path().join("metrics.txt");
    std::fs::write(&file, &text).unwrap();
    let check = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(&file).unwrap())
        .output()
        .expect("promtool (Debian's prometheus package, installed by scripts/setup.sh)");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(
        check.status.success() && said.trim().is_empty(),
        "promtool: {said}\n{text}"
    );
    // The Grafana dashboard in the repository and the exposition agree both ways.
    let exported: std::collections::BTreeSet<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .map(str::to_owned)
        .collect();
    let dashboard = std::fs::read_to_string(root().join("docs/grafana/kino-nodes.json")).unwrap();
    let parsed: Value = serde_json::from_str(&dashboard).expect("dashboard JSON");
    let mut queried = std::collections::BTreeSet::new();
    let mut strings = vec![&parsed];
    while let Some(v) = strings.pop() {
        match v {
            Value::String(t) => {
                for (i, _) in t.match_indices("kino_") {
                    let name: String = t[i..]
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    queried.insert(name);
                }
            }
            Value::Array(a) => strings.extend(a),
            Value::Object(o) => strings.extend(o.values()),
            _ => {}
        }
    }
    // A histogram is queried by its series: `_bucket`, `_sum`, `_count`.
    let queried: std::collections::BTreeSet<String> = queried
        .into_iter()
        .map(|q| {
            ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| q.strip_suffix(s).filter(|b| exported.contains(*b)))
                .map_or(q.clone(), str::to_owned)
        })
        .collect();
    let unknown: Vec<_> = queried.difference(&exported).collect();
    let missing: Vec<_> = exported.difference(&queried).collect();
    assert!(
        unknown.is_empty(),
        "the dashboard queries metrics the node lacks: {unknown:?}"
    );
    assert!(
        missing.is_empty(),
        "metrics missing from the dashboard: {missing:?}"
    );
    let om = client
        .get(node.url("/metrics"))
        .header(
            "accept",
            "application/openmetrics-text;version=1.0.0,text/plain;q=0.5",
        )
        .send()
        .await
        .unwrap();
    assert!(om.headers()["content-type"]
        .to_str()
        .unwrap_or_default()
        .starts_with("application/openmetrics-text"));
    assert!(om.text().await.unwrap().ends_with("# EOF\n"));
}

/// NVIDIA GPUs the kernel driver lists (0 where it is not loaded).
fn nvidia_gpus() -> usize {
    std::fs::read_dir("/proc/driver/nvidia/gpus").map_or(0, |d| d.count())
}
