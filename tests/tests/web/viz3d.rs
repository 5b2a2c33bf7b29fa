//! The 3D view of a job's chunks.

use super::*;

/// The 3D view's picture: coloured (drawn) pixels, green (done) pixels and a hash of them.
async fn viz_pixels(b: &Browser) -> (u64, u64, u64) {
    let v = b
        .js(
            "const c = document.getElementById('viz3d');
             const o = document.createElement('canvas'); o.width = c.width; o.height = c.height;
             const x = o.getContext('2d'); x.drawImage(c, 0, 0);
             const d = x.getImageData(0, 0, o.width, o.height).data;
             let lit = 0, green = 0, h = 0;
             for (let i = 0; i < d.length; i += 4) {
               if (d[i + 3] === 0) continue;
               lit++;
               if (d[i + 1] > d[i] + 40 && d[i + 1] > d[i + 2] + 40) green++;
               h = (Math.imul(h, 31) + d[i] * 65536 + d[i + 1] * 256 + d[i + 2] + i) >>> 0;
             }
             return [lit, green, h];",
            vec![],
        )
        .await;
    let n = |i: usize| v[i].as_u64().expect("pixel figures");
    (n(0), n(1), n(2))
}

#[tokio::test(flavor = "multi_thread")]
async fn viz3d_draws_the_chunks_as_progress_arrives() {
    let _one = BROWSER.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let node = WebNode::start(&dir.path().join("data"), free_port());
    let clip = medium("video_street_bikes_4cuts.mp4");
    let b = Browser::open_editor(&node).await;
    let (lit, _, empty) = viz_pixels(&b).await;
    assert!(lit > 1000, "the 3D view is blank ({lit} pixels drawn)");

    // Sharpen and a ×2 upscale at the medium preset: slow enough to watch the chunks progress.
    b.choose_file(&clip).await;
    b.click("#preset-3").await;
    b.click("#render").await;
    let mut pictures = vec![];
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let state = b
            .js(
                "return document.querySelector('li.job')?.dataset.state || ''",
                vec![],
            )
            .await;
        let p = viz_pixels(&b).await;
        if pictures.last() != Some(&p) {
            pictures.push(p);
        }
        if state == "done" {
            break;
        }
        assert!(state != "failed", "job failed: {}", b.text("ul.jobs").await);
        assert!(Instant::now() < deadline, "job did not finish");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let last = *pictures.last().unwrap();
    assert!(
        pictures.len() >= 3,
        "the picture changed only {} times: {pictures:?}",
        pictures.len()
    );
    assert_ne!(last.2, empty, "the finished job looks like no job");
    assert!(
        last.1 > pictures[0].1 + 1000,
        "done chunks are not shown in green: {pictures:?}"
    );
    let summary = b.text("#viz-summary").await;
    assert!(summary.contains("done, 0 running"), "{summary}");

    // Orbiting with the keyboard moves the picture.
    b.client
        .find(Locator::Id("viz3d"))
        .await
        .unwrap()
        .send_keys("\u{E012}\u{E012}")
        .await
        .unwrap();
    let turned = viz_pixels(&b).await;
    assert_ne!(turned.2, last.2, "arrow keys did not turn the view");
    b.theme("light").await;
    b.screenshot_at("jobs-h", "viz3d-light.png").await;
    b.theme("dark").await;
    b.screenshot_at("jobs-h", "viz3d-dark.png").await;
    b.close().await;
}
