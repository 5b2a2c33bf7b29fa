//! The timeline under the player: filmstrip and waveform drawn from the local file, click to seek,
//! in and out marked with the keyboard, and the render keeps exactly the marked frames.

use super::*;

/// Mean absolute luma difference of two decoded frames.
fn luma_diff(a: &kino_shared::Frame, b: &kino_shared::Frame) -> f64 {
    let (kino_shared::Samples::U8(x), kino_shared::Samples::U8(y)) =
        (&a.planes[0].samples, &b.planes[0].samples)
    else {
        panic!("8-bit frames expected");
    };
    x.iter()
        .zip(y)
        .map(|(p, q)| f64::from(p.abs_diff(*q)))
        .sum::<f64>()
        / x.len().max(1) as f64
}

/// The source frame (of `around` ± 5) that `frame` shows.
fn which(frame: &kino_shared::Frame, src: &[kino_shared::Frame], around: usize) -> usize {
    (around.saturating_sub(5)..(around + 6).min(src.len()))
        .min_by(|&i, &j| luma_diff(frame, &src[i]).total_cmp(&luma_diff(frame, &src[j])))
        .expect("source frames")
}

/// Pixels of a canvas that are not one colour: a drawn picture, not a blank one.
async fn drawn_share(b: &Browser, id: &str) -> f64 {
    let (_, _, px) = b.pixels(id).await;
    let first = &px[..4];
    let differ = px.chunks_exact(4).filter(|p| p != &first).count();
    differ as f64 / (px.len() / 4).max(1) as f64
}

#[tokio::test(flavor = "multi_thread")]
async fn timeline_seeks_marks_in_and_out_by_keyboard_and_the_render_keeps_that_range() {
    let _one = BROWSER.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let node = WebNode::start(&dir.path().join("data"), free_port());
    let clip = generated(
        "timeline-clip.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=25:duration=10",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=330:sample_rate=48000:duration=10,volume=volume='0.2+0.7*gt(mod(t,2),1)':eval=frame",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-crf",
            "12",
            "-g",
            "25",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-shortest",
        ],
    );
    let b = Browser::open_editor(&node).await;
    b.choose_file(&clip).await;
    b.until("the measured frame rate", 30, "const t = document.getElementById('meta-fps')?.textContent || ''; return t.endsWith(' fps') ? t : '';").await;

    // Filmstrip and waveform, made in the browser from the local file.
    b.until(
        "the filmstrip",
        60,
        "return document.getElementById('filmstrip')?.dataset.state === 'drawn'",
    )
    .await;
    b.until(
        "the waveform",
        60,
        "return document.getElementById('waveform')?.dataset.state === 'drawn'",
    )
    .await;
    let strip = drawn_share(&b, "filmstrip").await;
    let wave = drawn_share(&b, "waveform").await;
    assert!(strip > 0.5, "filmstrip mostly blank ({strip})");
    assert!(wave > 0.05, "waveform blank ({wave})");

    // A click at three quarters of the track seeks there.
    b.js("document.getElementById('source').pause()", vec![])
        .await;
    let at = b
        .js(
            "const t = document.getElementById('timeline'), r = t.getBoundingClientRect();
             const x = r.left + r.width * 0.75, y = r.top + r.height / 2;
             const o = { clientX: x, clientY: y, bubbles: true, pointerId: 1, buttons: 1 };
             t.dispatchEvent(new PointerEvent('pointerdown', o));
             return document.getElementById('source').duration * 0.75;",
            vec![],
        )
        .await
        .as_f64()
        .expect("time");
    let now = b
        .until(
            "the seek",
            10,
            "const v = document.getElementById('source'); return !v.seeking && v.currentTime > 0 ? v.currentTime : 0;",
        )
        .await
        .as_f64()
        .expect("time");
    assert!(
        (now - at).abs() <= 1.0 / 25.0,
        "seeked to {now}, clicked {at}"
    );

    // In at frame 30 and out after frame 229, by keyboard: Home, arrows by frame and by second.
    let body = b.client.find(Locator::Id("timeline")).await.unwrap();
    let keys = |n: usize, key: &str| key.repeat(n);
    let (home, right, shift, release) = ("\u{E011}", "\u{E014}", "\u{E008}", "\u{E000}");
    body.send_keys("k").await.unwrap();
    body.send_keys(home).await.unwrap();
    body.send_keys(&format!("{shift}{right}{release}"))
        .await
        .unwrap();
    body.send_keys(&keys(5, right)).await.unwrap();
    body.send_keys("i").await.unwrap();
    body.send_keys(&format!("{shift}{}{release}", keys(7, right)))
        .await
        .unwrap();
    body.send_keys(&keys(24, right)).await.unwrap();
    body.send_keys("o").await.unwrap();
    let keep = b
        .until(
            "the kept part",
            10,
            "return document.getElementById('tl-kept')?.dataset.keep",
        )
        .await;
    let keep: Value = serde_json::from_str(keep.as_str().unwrap()).unwrap();
    let (start, end) = (keep[0]["start"].as_f64(), keep[0]["end"].as_f64());
    assert_eq!(keep.as_array().map(Vec::len), Some(1), "{keep}");
    assert!((start.unwrap() - 1.2).abs() < 1e-6, "{keep}");
    assert!((end.unwrap() - 9.2).abs() < 1e-6, "{keep}");
    // Still drawn after the marks changed the page (the canvases are not made anew).
    assert!(
        drawn_share(&b, "filmstrip").await > 0.5,
        "filmstrip blank after marking"
    );
    b.theme("light").await;
    b.screenshot_at("source-h", "timeline-light.png").await;
    b.theme("dark").await;
    b.screenshot_at("source-h", "timeline-dark.png").await;

    // Render: the output is the marked frames, 30 … 229.
    b.client
        .find(Locator::Id("f-output-preset"))
        .await
        .unwrap()
        .select_by_value("ultrafast")
        .await
        .unwrap();
    let (job, got) = render_frames(&b, &node, dir.path(), "").await;
    let src = kino_tests::decoded_frames(&clip);
    assert!(got.len().abs_diff(200) <= 1, "{} frames", got.len());
    let (first, last) = (
        which(&got[0], &src, 30),
        which(got.last().unwrap(), &src, 229),
    );
    assert!(
        first.abs_diff(30) <= 1,
        "first output frame is source frame {first}"
    );
    assert!(
        last.abs_diff(229) <= 1,
        "last output frame is source frame {last}"
    );

    // A/B while playing: the source follows the result's clock through the trim (output time t
    // shows source time 1.2 + t), measured on presented frames after 5 s of playing.
    b.click(&format!("li[data-job='{job}'] button.compare"))
        .await;
    b.until(
        "both players of the A/B view",
        30,
        "const r = document.querySelector('.ab-result'), s = document.querySelector('.ab-source');
         return r && s && r.readyState >= 3 && s.readyState >= 3;",
    )
    .await;
    b.js("document.querySelector('.ab-result').play()", vec![])
        .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let frames = b
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             const r = document.querySelector('.ab-result'), s = document.querySelector('.ab-source');
             const out = { r: [], s: [], playing: !r.paused, at: r.currentTime };
             const watch = (v, list) => {
               const f = (now, m) => { list.push([m.expectedDisplayTime, m.mediaTime]); if (list.length < 30) v.requestVideoFrameCallback(f); };
               v.requestVideoFrameCallback(f);
             };
             watch(r, out.r); watch(s, out.s);
             setTimeout(() => done(out), 1500);",
            vec![],
        )
        .await
        .expect("frame times");
    assert_eq!(frames["playing"], true, "{frames}");
    assert!(frames["at"].as_f64().unwrap_or(0.0) > 4.0, "{frames}");
    let pairs = |k: &str| -> Vec<(f64, f64)> {
        frames[k]
            .as_array()
            .expect("samples")
            .iter()
            .map(|p| (p[0].as_f64().unwrap_or(0.0), p[1].as_f64().unwrap_or(0.0)))
            .collect()
    };
    let (r, s) = (pairs("r"), pairs("s"));
    assert!(
        r.len() >= 5 && s.len() >= 5,
        "few frames presented: {frames}"
    );
    // For each result frame, the source's media time at the same display time.
    let mut apart: Vec<f64> = r
        .iter()
        .map(|&(t, m)| {
            let &(ts, ms) = s
                .iter()
                .min_by(|a, b| (a.0 - t).abs().total_cmp(&(b.0 - t).abs()))
                .expect("source frames");
            ((ms + (t - ts) / 1000.0) - (1.2 + m)).abs() * 25.0
        })
        .collect();
    apart.sort_by(f64::total_cmp);
    let median = apart[apart.len() / 2];
    println!(
        "A/B: source vs result {median:.2} frames apart (median of {})",
        apart.len()
    );
    assert!(
        median <= 2.0,
        "source and result {median:.2} frames apart: {frames}"
    );
    // The wipe moves with the slider.
    b.js(
        "const w = document.querySelector('.ab-wipe'); w.value = 30; w.dispatchEvent(new Event('input', { bubbles: true }));",
        vec![],
    )
    .await;
    b.until(
        "the wipe at 30 %",
        5,
        "return document.querySelector('.ab-source').style.clipPath.includes('70')",
    )
    .await;
    b.screenshot_at(&format!("ab-{job}"), "ab-dark.png").await;
    b.close().await;
}

/// Presses Render, waits for a job other than `after` to finish, and returns its decoded frames.
async fn render_frames(
    b: &Browser,
    node: &WebNode,
    dir: &Path,
    after: &str,
) -> (String, Vec<kino_shared::Frame>) {
    b.click("#render").await;
    let job = b
        .until(
            "a new job",
            60,
            &format!(
                "const j = document.getElementById('submitted')?.dataset.job; return j && j !== '{after}' ? j : '';"
            ),
        )
        .await;
    let job = job.as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let j: Value = reqwest::get(node.url(&format!("/api/jobs/{job}")))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if j["state"] == "done" {
            break;
        }
        assert!(j["state"] != "failed", "job failed: {j}");
        assert!(Instant::now() < deadline, "job not done: {j}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let bytes = reqwest::get(node.url(&format!("/api/jobs/{job}/output")))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let out = dir.join(format!("{job}.mp4"));
    std::fs::write(&out, &bytes).unwrap();
    (job, kino_tests::decoded_frames(&out))
}

#[tokio::test(flavor = "multi_thread")]
async fn found_cuts_show_on_the_timeline_and_each_can_be_kept_back() {
    let _one = BROWSER.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let node = WebNode::start(&dir.path().join("data"), free_port());
    // 8 s at 25 fps, black from 1.5 to 4 s: auto-edit cuts frames 43–95 (0.2 s margins).
    let clip = generated(
        "timeline-black.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=25:duration=8",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=330:sample_rate=48000:duration=8",
            "-vf",
            "drawbox=x=0:y=0:w=iw:h=ih:color=black:t=fill:enable='between(t,1.5,4)'",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-crf",
            "12",
            "-g",
            "25",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-shortest",
        ],
    );
    let b = Browser::open_editor(&node).await;
    b.choose_file(&clip).await;
    b.until("the measured frame rate", 30, "const t = document.getElementById('meta-fps')?.textContent || ''; return t.endsWith(' fps') ? t : '';").await;
    b.client
        .find(Locator::Id("f-output-preset"))
        .await
        .unwrap()
        .select_by_value("ultrafast")
        .await
        .unwrap();
    b.click("#find-cuts").await;
    let found = b
        .until(
            "the node's analysis",
            120,
            "const f = document.getElementById('cuts-found'); return f ? [f.dataset.stretches, f.dataset.scenes] : null;",
        )
        .await;
    assert_eq!(found[0], "1", "{found}");
    assert!(
        found[1].as_str().unwrap_or("0") != "0",
        "no scene cut found: {found}"
    );
    let marks = b
        .js(
            "return [document.querySelectorAll('.tl-cut').length, document.querySelectorAll('.tl-scene').length]",
            vec![],
        )
        .await;
    assert_eq!(marks[0], 1, "shaded cuts: {marks}");
    assert!(marks[1].as_u64().unwrap_or(0) >= 1, "scene marks: {marks}");
    b.theme("dark").await;
    b.screenshot_at("source-h", "cuts-dark.png").await;

    // Rendered with the stretch cut: 53 frames fewer.
    let (first, cut) = render_frames(&b, &node, dir.path(), "").await;
    assert!(
        cut.len().abs_diff(200 - 53) <= 2,
        "{} frames with the cut",
        cut.len()
    );
    let edl = reqwest::get(node.url(&format!("/api/jobs/{first}/cutlist/edl")))
        .await
        .unwrap();
    assert_eq!(edl.status(), 200, "the cut list follows the choices");

    // Kept back: the whole clip.
    b.click("#cut-0").await;
    b.until(
        "the shading to go",
        10,
        "return document.querySelectorAll('.tl-cut').length === 0",
    )
    .await;
    let (_, whole) = render_frames(&b, &node, dir.path(), &first).await;
    assert!(
        whole.len().abs_diff(200) <= 1,
        "{} frames kept back",
        whole.len()
    );
    b.close().await;
}
