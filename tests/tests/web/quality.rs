//! A finished job's quality in the editor: the per-frame curve is drawn from the report's `quality`
//! section, the worst moments show thumbnails of the output, and clicking a moment or the curve
//! seeks the result player there.

use super::*;

/// Checks the quality view under `job` (done, its result player open) against the node's report.
pub async fn check_quality_view(b: &Browser, node: &WebNode, job: &str) {
    let li = format!("li[data-job='{job}']");
    let drawn = b
        .until(
            "the quality curve",
            30,
            &format!(
                "const p = document.querySelector(\"{li} .quality svg.curve polyline\");
                 return p && p.points.numberOfItems;"
            ),
        )
        .await;
    let report: Value = reqwest::get(node.url(&format!("/api/jobs/{job}/report")))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let q = &report["sections"]["quality"];
    let frames = q["frames"].as_array().expect("scored frames");
    assert_eq!(
        drawn.as_u64(),
        Some(frames.len() as u64),
        "one point per scored frame"
    );
    // The curve's heights follow the report: the lowest point is the worst frame's.
    let lowest = b
        .js(
            &format!(
                "const p = document.querySelector(\"{li} .quality svg.curve polyline\").points;
                 let k = 0;
                 for (let i = 0; i < p.numberOfItems; i++) if (p.getItem(i).y > p.getItem(k).y) k = i;
                 return k;"
            ),
            vec![],
        )
        .await;
    let worst_time = q["worst"][0]["time"].as_f64().expect("worst time");
    let at = |i: &Value| frames[i.as_u64().unwrap_or(0) as usize]["time"].as_f64();
    assert_eq!(at(&lowest), Some(worst_time), "lowest point against {q}");
    // Where the time went: one bar segment per part of the chunks' work, as wide as its share.
    let parts = report["sections"]["timings"]["chunk_parts"]
        .as_array()
        .cloned()
        .expect("timings in the report");
    let drawn = b
        .js(
            &format!(
                "const s = [...document.querySelectorAll(\"{li} .timings .stack .part\")];
                 const w = s.reduce((a, e) => a + e.getBoundingClientRect().width, 0);
                 return s.map(e => [e.dataset.part, e.getBoundingClientRect().width / w]);"
            ),
            vec![],
        )
        .await;
    let total: f64 = parts.iter().filter_map(|p| p["seconds"].as_f64()).sum();
    let drawn = drawn.as_array().cloned().unwrap_or_default();
    assert_eq!(drawn.len(), parts.len(), "{drawn:?} against {parts:?}");
    for (d, p) in drawn.iter().zip(&parts) {
        assert_eq!(d[0], p["part"], "{drawn:?}");
        let share = p["seconds"].as_f64().unwrap_or(0.0) / total;
        let got = d[1].as_f64().unwrap_or(-1.0);
        assert!(
            (got - share).abs() < 0.01,
            "{}: drawn {got}, report {share}",
            p["part"]
        );
    }
    // Thumbnails of the worst moments are the node's JPEGs, loaded.
    b.until(
        "the worst moments' thumbnails",
        30,
        &format!(
            "const i = [...document.querySelectorAll(\"{li} .quality button.moment img\")];
             return i.length === 5 && i.every(x => x.complete && x.naturalWidth > 0);"
        ),
    )
    .await;
    let frame = 1.0 / 25.0;
    let shown_at = |what: &'static str, t: f64| {
        format!(
            "const v = document.querySelector(\"{li} video.result\");
             return v && v.paused && v.readyState >= 2 && Math.abs(v.currentTime - {t}) <= {frame} / 2 + 1e-3
               ? v.currentTime : 0; // {what}"
        )
    };
    // A worst moment: the player pauses there.
    for k in [0usize, 3] {
        let t = q["worst"][k]["time"].as_f64().expect("time");
        b.click(&format!("{li} .quality button.moment:nth-child({})", k + 1))
            .await;
        b.until("the result at the worst moment", 20, &shown_at("moment", t))
            .await;
    }
    // The curve itself: a click at three quarters of its width seeks to three quarters of its span.
    let (t0, t1) = (
        frames[0]["time"].as_f64().unwrap_or(0.0),
        frames[frames.len() - 1]["time"].as_f64().unwrap_or(0.0),
    );
    b.js(
        &format!(
            "const s = document.querySelector(\"{li} .quality svg.curve\"), r = s.getBoundingClientRect();
             s.dispatchEvent(new MouseEvent('click', {{ bubbles: true, clientX: r.left + 0.75 * r.width, clientY: r.top + 5 }}));"
        ),
        vec![],
    )
    .await;
    let want = t0 + 0.75 * (t1 - t0);
    // The player shows the frame nearest the time, so within one frame.
    b.until(
        "the result where the curve was clicked",
        20,
        &format!(
            "const v = document.querySelector(\"{li} video.result\");
             return v && v.paused && Math.abs(v.currentTime - {want}) <= {frame} + 1e-3 ? 1 : 0;"
        ),
    )
    .await;
}
