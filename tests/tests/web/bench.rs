//! The editor benchmark behind `bash bench/web.sh` (ignored in normal runs).

use super::*;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Preview times (kernels only, and with grabbing and drawing the canvases) over a few frames.
async fn preview_times(b: &Browser, version: &mut u64) -> (f64, f64) {
    let (mut kernels, mut total) = (vec![], vec![]);
    for t in [0.52, 1.0, 1.48, 2.0, 2.52] {
        b.js(
            &format!("document.getElementById('source').currentTime = {t};"),
            vec![],
        )
        .await;
        *version = b.preview_at(t, *version).await;
        let v = b.js("const a = document.getElementById('after'); return [Number(a.dataset.ms), Number(a.dataset.totalMs)];", vec![]).await;
        kernels.push(v[0].as_f64().unwrap());
        total.push(v[1].as_f64().unwrap());
    }
    (median(kernels), median(total))
}

/// Figures for BENCHMARKS.md (`bash bench/web.sh`): time to interactive and the before/after latency
/// of a 1080p frame per stage, in headless Chromium on this machine.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "benchmark: bash bench/web.sh"]
async fn bench_editor() {
    let _one = BROWSER.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let node = WebNode::start(&dir.path().join("data"), free_port());
    let clip = generated(
        "bench-1080p.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=1920x1080:rate=25:duration=4",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
        ],
    );
    let b = Browser::start(1400, 1000).await;
    let mut tti = vec![];
    for _ in 0..4 {
        b.client.goto(&node.url("/")).await.unwrap();
        let t = b.until("the node connection", 30, "return document.getElementById('node-status')?.textContent === 'node connected' && performance.now()").await;
        tti.push(t.as_f64().unwrap());
    }
    println!("time to interactive (navigation → editor connected): first {:.0} ms, reloads median {:.0} ms", tti[0], median(tti[1..].to_vec()));
    b.choose_file(&clip).await;
    b.until("local playback", 30, "const v = document.getElementById('source'); return v && v.readyState >= 2 && v.currentTime > 0.1;").await;
    b.js("document.getElementById('source').pause();", vec![])
        .await;
    b.click("#preset-4").await;
    let mut version = 0;
    let report = |name: &str, (k, t): (f64, f64)| {
        println!("preview 1080p {name}: kernels {k:.0} ms, with canvas grab/draw {t:.0} ms");
    };
    b.click("#stage-color").await;
    report(
        "colour (saturation 1.2)",
        preview_times(&b, &mut version).await,
    );
    b.click("#stage-color").await;
    b.click("#stage-sharpen").await;
    report(
        "sharpen (amount 0.8, radius 1.2)",
        preview_times(&b, &mut version).await,
    );
    b.click("#stage-sharpen").await;
    b.click("#stage-scale").await;
    b.clear_field("f-scale-factor").await;
    b.type_into("f-scale-width", "1280").await;
    report(
        "scale Lanczos-3 → 1280×720",
        preview_times(&b, &mut version).await,
    );
    b.clear_field("f-scale-width").await;
    b.type_into("f-scale-factor", "2").await;
    report(
        "scale Lanczos-3 ×2 → 3840×2160",
        preview_times(&b, &mut version).await,
    );
    b.close().await;
}
