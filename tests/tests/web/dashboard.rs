//! The dashboard page: while a job renders, its charts draw the node's readings exactly as
//! `GET /api/resources` gives them (each reading a point at its time and value), in both themes and
//! at 360 px.

use super::*;

/// The chart `id`'s box (times t0..t1, values lo..hi) and the points of its series `name`.
async fn drawn(b: &Browser, id: &str, name: &str) -> Value {
    b.js(
        "const s = document.querySelector(`#${arguments[0]} svg`);
         const p = s && s.querySelector(`polyline[data-series='${arguments[1]}']`);
         if (!p) return null;
         const d = s.dataset;
         return { t0: Number(d.t0), t1: Number(d.t1), lo: Number(d.lo), hi: Number(d.hi),
                  points: [...p.points].map(q => [q.x, q.y]) };",
        vec![json!(id), json!(name)],
    )
    .await
}

/// Every reading of the API within the chart's span is a drawn point, at its time and value.
fn check_follows(
    chart: &Value,
    samples: &[Value],
    value: impl Fn(&Value) -> f64,
    what: &str,
) -> usize {
    let f = |k: &str| {
        chart[k]
            .as_f64()
            .unwrap_or_else(|| panic!("{what}: no {k} in {chart}"))
    };
    let (t0, t1, lo, hi) = (f("t0"), f("t1"), f("lo"), f("hi"));
    let points: Vec<(f64, f64)> = chart["points"]
        .as_array()
        .expect("points")
        .iter()
        .map(|p| (p[0].as_f64().unwrap_or(-1.0), p[1].as_f64().unwrap_or(-1.0)))
        .collect();
    let mut matched = 0;
    for s in samples {
        let at = s["at_ms"].as_f64().expect("at_ms");
        if at < t0 || at > t1 {
            continue;
        }
        let x = (at - t0) / (t1 - t0).max(1.0) * 600.0;
        let y = 120.0 - (value(s).clamp(lo, hi) - lo) / (hi - lo).max(1e-9) * 120.0;
        assert!(
            points
                .iter()
                .any(|&(px, py)| (px - x).abs() < 0.02 && (py - y).abs() < 0.02),
            "{what}: the reading at {at} ({}) is not drawn at ({x:.2}, {y:.2}): {points:?}",
            value(s)
        );
        matched += 1;
    }
    matched
}

#[tokio::test(flavor = "multi_thread")]
async fn the_dashboard_charts_the_nodes_readings_while_a_job_runs() {
    let _one = BROWSER.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let dist = root().join("web/dist");
    let node = Node::start(
        &dir.path().join("data"),
        &[
            "--web-dir",
            s(&dist),
            "--sample-seconds",
            "0.5",
            "--workers",
            "1",
            "--janitor-seconds",
            "1",
        ],
    );
    let b = Browser::start(1280, 1000).await;
    b.client.goto(&node.url("/#dashboard")).await.unwrap();
    b.until_connected("the node connection").await;
    b.until(
        "the first readings drawn",
        20,
        "const p = document.querySelector('#chart-cpu polyline'); return p && p.points.length >= 2;",
    )
    .await;
    assert_eq!(
        b.js(
            "return document.querySelector('main:not(.dashboard)').hidden",
            vec![]
        )
        .await,
        json!(true),
        "the editor is hidden on the dashboard"
    );
    // A job, so the readings move.
    let client = reqwest::Client::new();
    let id = super::common::upload(
        &client,
        &node,
        &medium("video_street_bikes_4cuts.mp4"),
        None,
    )
    .await;
    let r = client
        .post(node.url("/api/jobs"))
        .json(
            &json!({"input": id, "chunk_seconds": 2, "output": {"preset": "ultrafast"},
            "stages": [{"kind": "denoise", "strength": 1.0}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    // Until a reading with frames going through is drawn.
    let deadline = Instant::now() + Duration::from_secs(180);
    let (chart, samples) = loop {
        let h = super::common::get(&client, node.url("/api/resources")).await;
        let samples = h["samples"].as_array().cloned().unwrap_or_default();
        let chart = drawn(&b, "chart-throughput", "fps").await;
        let busy_drawn = samples.iter().any(|s| {
            s["frames_per_second"].as_f64() > Some(0.0)
                && s["at_ms"].as_f64() <= chart["t1"].as_f64()
        });
        if busy_drawn {
            break (chart, samples);
        }
        assert!(Instant::now() < deadline, "no busy reading drawn: {h}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let fps = check_follows(
        &chart,
        &samples,
        |s| s["frames_per_second"].as_f64().unwrap_or(0.0),
        "frames/s",
    );
    let cpu = drawn(&b, "chart-cpu", "cpu").await;
    check_follows(&cpu, &samples, |s| s["cpu"].as_f64().unwrap_or(0.0), "CPU");
    let core = drawn(&b, "chart-cpu", "core0").await;
    check_follows(
        &core,
        &samples,
        |s| s["cores"][0].as_f64().unwrap_or(0.0),
        "core 0",
    );
    let mem = drawn(&b, "chart-memory", "used").await;
    check_follows(
        &mem,
        &samples,
        |s| s["memory_used_bytes"].as_f64().unwrap_or(0.0),
        "memory",
    );
    let running = drawn(&b, "chart-queue", "running").await;
    check_follows(
        &running,
        &samples,
        |s| s["running_chunks"].as_f64().unwrap_or(0.0),
        "running",
    );
    println!("{fps} readings drawn where the API has them");
    assert!(fps >= 3, "{fps}");
    // No failure yet: the list says so (the service tests check what it lists).
    assert_eq!(b.text(".failures p").await, "None.");
    // The storage panel shows the data folder as the node measures it (the upload is there).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let st = super::common::get(&client, node.url("/api/storage")).await;
        let shown = b
            .js(
                "const p = document.getElementById('storage-figures'); return p && p.dataset.uploads;",
                vec![],
            )
            .await;
        let api = st["uploads_bytes"].as_u64().unwrap_or(0);
        if api > 0 && shown == json!(api.to_string()) {
            break;
        }
        assert!(Instant::now() < deadline, "storage shown {shown}, API {st}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(b.text(".storage").await.contains("Janitor: off"));
    // The history: the job created is counted, and the tables download as CSV.
    b.until(
        "the history counting the job",
        20,
        "return document.getElementById('history-summary')?.dataset.jobs === '1'",
    )
    .await;
    let csv = b
        .js("return document.getElementById('history-csv').href", vec![])
        .await;
    let text = reqwest::get(csv.as_str().unwrap())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.starts_with("day,jobs,done,failed,cancelled,"),
        "{text}"
    );
    let caption = b.text("#chart-throughput figcaption").await;
    assert!(caption.contains("frames/s"), "{caption}");
    // Both themes, and the narrow screen without sideways scrolling.
    b.theme("light").await;
    b.screenshot("dashboard-light.png").await;
    b.theme("dark").await;
    b.screenshot("dashboard-dark.png").await;
    // The day's window: the node's averaged readings (4-minute buckets), drawn.
    b.click("#window-day").await;
    b.until(
        "the day's charts",
        20,
        "return document.getElementById('window-day').getAttribute('aria-pressed') === 'true'
            && document.querySelector('#chart-cpu polyline')?.points.length >= 1
            && document.querySelector('#dashboard .muted')?.textContent.includes('last day');",
    )
    .await;
    let day = super::common::get(&client, node.url("/api/resources?minutes=1440")).await;
    assert_eq!(day["step_ms"], 240_000, "{day}");
    b.click("#window-hour").await;
    b.client.set_window_size(360, 800).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let width = b
        .js("return document.documentElement.scrollWidth", vec![])
        .await;
    assert!(
        width.as_u64().unwrap_or(9999) <= 360,
        "page is {width} px wide at 360 px"
    );
    b.screenshot("dashboard-narrow-dark.png").await;
    // Back to the editor by its link (a keyboard user: focus and Enter).
    let link = b
        .client
        .find(Locator::Id("nav-editor"))
        .await
        .expect("editor link");
    link.send_keys("\u{E007}").await.expect("enter");
    b.until(
        "the editor page",
        10,
        "return document.getElementById('dashboard').hidden && !document.querySelector('main:not(.dashboard)').hidden",
    )
    .await;
    b.close().await;
}
