//! Editing in the page: local playback, the before/after preview checked pixel for pixel against
//! the node's own stage code, rendering and playing the result, the narrow screen, and what the
//! page does with a file that is not a video and with a stopped node.

use super::*;

/// Largest per-channel difference (alpha ignored).
fn max_diff(a: &[u8], b: &[u8]) -> u8 {
    assert_eq!(a.len(), b.len(), "frames of different sizes");
    a.chunks_exact(4)
        .zip(b.chunks_exact(4))
        .flat_map(|(p, q)| (0..3).map(move |i| p[i].abs_diff(q[i])))
        .max()
        .unwrap_or(0)
}

fn mean_diff(a: &[u8], b: &[u8]) -> f64 {
    let n = a.len().min(b.len()).max(1);
    a.iter()
        .zip(b)
        .map(|(x, y)| x.abs_diff(*y) as f64)
        .sum::<f64>()
        / n as f64
}

/// The same stages through the node's own stage code (`POST /api/preview`).
async fn node_preview(
    node: &WebNode,
    w: usize,
    h: usize,
    rgba: Vec<u8>,
    stages: &Value,
) -> (usize, usize, Vec<u8>) {
    let client = reqwest::Client::new();
    let resp = client
        .post(node.url("/api/preview"))
        .query(&[
            ("width", w.to_string()),
            ("height", h.to_string()),
            ("stages", stages.to_string()),
        ])
        .body(rgba)
        .send()
        .await
        .expect("preview request");
    let status = resp.status();
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok())
    };
    let (ow, oh) = (header("Kino-Width"), header("Kino-Height"));
    let body = resp.bytes().await.expect("preview body").to_vec();
    assert!(
        status.is_success(),
        "preview: {status} {}",
        String::from_utf8_lossy(&body)
    );
    (ow.expect("Kino-Width"), oh.expect("Kino-Height"), body)
}

/// Compares the page's before/after with the node's processing of the same "before" frame.
async fn check_against_node(b: &Browser, node: &WebNode, stages: &Value) {
    let (w, h, before) = b.pixels("before").await;
    let (aw, ah, after) = b.pixels("after").await;
    let (nw, nh, node_out) = node_preview(node, w, h, before, stages).await;
    assert_eq!((aw, ah), (nw, nh), "output size for {stages}");
    let worst = max_diff(&after, &node_out);
    println!("browser vs node, {stages}: {aw}x{ah}, largest difference {worst}");
    assert!(
        worst <= 1,
        "browser and node differ by {worst} for {stages}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn edit_preview_render_and_play() {
    let _one = BROWSER.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let node = WebNode::start(&dir.path().join("data"), free_port());
    // A long file name without spaces, as phones and cameras write them: it must wrap at 360 px.
    let clip = dir
        .path()
        .join("VID_20261202_183045_street_bikes_four_cuts_stabilised_export_final_v2.mp4");
    std::fs::copy(medium("video_street_bikes_4cuts.mp4"), &clip).unwrap();
    // The editor is served at / (and any page path); an unknown API path stays a JSON 404.
    let page = reqwest::get(node.url("/jobs/anything")).await.unwrap();
    assert!(page.status().is_success());
    assert!(page.text().await.unwrap().contains("<html"));
    let api = reqwest::get(node.url("/api/no-such-route")).await.unwrap();
    assert_eq!(api.status(), 404);
    assert!(api.text().await.unwrap().contains("not_found"));
    let b = Browser::open_editor(&node).await;
    b.theme("light").await;
    b.screenshot("empty-light.png").await;

    // Local playback and metadata, before any upload.
    b.choose_file(&clip).await;
    b.until("local playback", 30, "const v = document.getElementById('source'); return v && v.readyState >= 2 && v.currentTime > 0.2 && v.src.startsWith('blob:');").await;
    assert_eq!(b.text("#meta-picture").await, "640 × 272");
    assert_eq!(b.text("#meta-duration").await, "0:10.0");
    let fps = b.until("the measured frame rate", 30, "const t = document.getElementById('meta-fps').textContent; return t.endsWith(' fps') ? t : '';").await;
    let fps: f64 = fps
        .as_str()
        .unwrap()
        .trim_end_matches(" fps")
        .parse()
        .unwrap();
    assert!((fps - 25.0).abs() < 0.5, "measured {fps} fps");

    // Pause on a frame: the colour stage changes it, and the node computes the same pixels.
    b.type_into("f-color-saturation", "1.8").await;
    b.type_into("f-color-contrast", "1.3").await;
    b.js(
        "const v = document.getElementById('source'); v.pause(); v.currentTime = 2.0;",
        vec![],
    )
    .await;
    let mut version = b.preview_at(2.0, 0).await;
    let (_, _, before) = b.pixels("before").await;
    let (_, _, after) = b.pixels("after").await;
    let change = mean_diff(&before, &after);
    assert!(
        change > 3.0,
        "colour stage changed the frame by only {change}"
    );
    let colour = json!([{ "kind": "color", "brightness": 0.0, "contrast": 1.3, "saturation": 1.8, "gamma": 1.0,
        "vibrance": 0.0, "temperature": 0.0, "tint": 0.0, "auto_white_balance": false, "auto_levels": false }]);
    check_against_node(&b, &node, &colour).await;

    // Sharpen and scale too (the "Upscale ×2" preset), and automatic white balance.
    b.click("#preset-3").await;
    version = b.preview_at(2.0, version).await;
    check_against_node(
        &b,
        &node,
        &json!([{ "kind": "sharpen", "amount": 0.6, "radius": 1.2 },
        { "kind": "scale", "factor": 2.0, "filter": "lanczos3" }]),
    )
    .await;
    b.click("#preset-0").await;
    version = b.preview_at(2.0, version).await;
    check_against_node(
        &b,
        &node,
        &json!([{ "kind": "color", "contrast": 1.05, "saturation": 1.1, "vibrance": 0.2,
        "auto_white_balance": true }]),
    )
    .await;

    // Denoise is temporal: the page asks the node for this frame.
    b.click("#stage-denoise").await;
    version = b.preview_at(2.0, version).await;
    let by = b
        .js("return document.getElementById('after').dataset.by", vec![])
        .await;
    assert_eq!(by, json!("by the node"));
    check_against_node(
        &b,
        &node,
        &json!([{ "kind": "denoise" }, { "kind": "color", "contrast": 1.05,
        "saturation": 1.1, "vibrance": 0.2, "auto_white_balance": true }]),
    )
    .await;
    b.click("#stage-denoise").await;
    version = b.preview_at(2.0, version).await;

    // A neural upscale is the node's too: the page sends the frame and shows the network's result,
    // which is not the classic filter's.
    b.click("#stage-scale").await;
    version = b.preview_at(2.0, version).await;
    b.client
        .find(Locator::Id("f-scale-model"))
        .await
        .unwrap()
        .select_by_value("fast")
        .await
        .unwrap();
    version = b
        .until(
            "the node's neural preview",
            120,
            &format!(
                "const a = document.getElementById('after');
                 return (Number(a.dataset.version) > {version} && a.dataset.by === 'by the node')
                     ? Number(a.dataset.version) : 0;"
            ),
        )
        .await
        .as_u64()
        .expect("version");
    let status = b.text("#preview-status").await;
    assert!(!status.contains("Warning"), "neural preview: {status}");
    let natural = json!({ "kind": "color", "contrast": 1.05, "saturation": 1.1, "vibrance": 0.2,
        "auto_white_balance": true });
    check_against_node(
        &b,
        &node,
        &json!([natural, { "kind": "scale", "factor": 2.0, "model": "fast" }]),
    )
    .await;
    let (w, h, before) = b.pixels("before").await;
    let (_, _, neural) = b.pixels("after").await;
    let (_, _, classic) = node_preview(
        &node,
        w,
        h,
        before,
        &json!([natural, { "kind": "scale", "factor": 2.0 }]),
    )
    .await;
    let apart = mean_diff(&neural, &classic);
    let worst = max_diff(&neural, &classic);
    println!("neural vs Lanczos preview: mean difference {apart:.2}, largest {worst}");
    assert!(
        apart > 0.5,
        "the neural preview looks like the classic one ({apart})"
    );
    b.click("#stage-scale").await;
    version = b.preview_at(2.0, version).await;

    // Interpolation: the page sends this frame and the next one (from a hidden second player) and
    // shows the node's frame half-way between them: close to this one, not the same.
    b.click("#stage-interpolate").await;
    version = b
        .until(
            "the node's in-between frame",
            120,
            &format!(
                "const a = document.getElementById('after');
                 return (Number(a.dataset.version) > {version} && a.dataset.by === 'by the node')
                     ? Number(a.dataset.version) : 0;"
            ),
        )
        .await
        .as_u64()
        .expect("version");
    let (w, h, before) = b.pixels("before").await;
    let (aw, ah, between) = b.pixels("after").await;
    assert_eq!((w, h), (aw, ah));
    let moved = mean_diff(&before, &between);
    println!("in-between frame vs this frame: mean difference {moved:.2}");
    assert!(moved > 0.05 && moved < 20.0, "in-between frame: {moved}");
    b.click("#stage-interpolate").await;
    version = b.preview_at(2.0, version).await;

    // A bad value is explained next to its field and blocks rendering.
    b.type_into("f-color-contrast", "9").await;
    let msg = b.text("#f-color-contrast-err").await;
    assert!(msg.contains("between 0 and 4"), "field message: {msg}");
    assert_eq!(
        b.js("return document.getElementById('render').disabled", vec![])
            .await,
        json!(true)
    );
    b.type_into("f-color-contrast", "1.2").await;
    b.until(
        "the field error to go",
        10,
        "return !document.getElementById('f-color-contrast-err')",
    )
    .await;
    let _ = b.preview_at(2.0, version).await;
    b.screenshot("editor-light.png").await;
    b.theme("dark").await;
    b.screenshot("editor-dark.png").await;

    // Render: upload, job, live progress to 100 %, play the result in the page.
    b.client
        .find(Locator::Id("f-output-preset"))
        .await
        .unwrap()
        .select_by_value("ultrafast")
        .await
        .unwrap();
    // A double click (both clicks before the page re-renders the button as disabled) makes one
    // upload and one job (issue 15, item 6).
    b.js(
        "const r = document.getElementById('render'); r.click(); r.click();",
        vec![],
    )
    .await;
    let job = b
        .until(
            "the job to be created",
            60,
            "return document.getElementById('submitted')?.dataset.job",
        )
        .await;
    let job = job.as_str().unwrap().to_owned();
    let listed: Value = reqwest::get(node.url("/api/jobs"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "jobs: {listed}");
    let mut seen = std::collections::BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let v = b.js("const li = document.querySelector(`li[data-job='${arguments[0]}']`); if (!li) return null;
            return [li.dataset.state, Number(li.querySelector('[role=progressbar]').dataset.percent)];", vec![json!(job)]).await;
        if let Some(pct) = v[1].as_f64() {
            seen.insert(pct as u64);
        }
        if v[0] == "done" && v[1] == 100.0 {
            break;
        }
        assert!(v[0] != "failed", "job failed: {}", b.text("ul.jobs").await);
        assert!(Instant::now() < deadline, "job did not finish: {v}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(seen.contains(&100), "progress seen: {seen:?}");
    b.screenshot_at("jobs-h", "jobs-dark.png").await;
    b.click(&format!("li[data-job='{job}'] button.play")).await;
    b.until("the result to play in the page", 30, "const v = document.querySelector('video.result'); return v && v.readyState >= 2 && v.currentTime > 0.2 && v.videoWidth === 640;").await;
    let href = b
        .js(
            &format!("return document.querySelector(\"li[data-job='{job}'] a.download\").href"),
            vec![],
        )
        .await;
    let bytes = reqwest::get(href.as_str().unwrap())
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let out = dir.path().join("download.mp4");
    std::fs::write(&out, &bytes).unwrap();
    assert_eq!(count_frames(&out), 250, "downloaded result");
    super::quality::check_quality_view(&b, &node, &job).await;
    // The job exported from its Export link as a bundle, and imported back from that file.
    let href = b
        .js(
            &format!("return document.querySelector(\"li[data-job='{job}'] a.bundle\").href"),
            vec![],
        )
        .await;
    let tar = reqwest::get(href.as_str().unwrap())
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(
        &tar[..11],
        b"bundle.json",
        "a tar whose first entry is the manifest"
    );
    let file = dir.path().join("job.tar");
    std::fs::write(&file, &tar).unwrap();
    let input = b.client.find(Locator::Id("bundle-import")).await.unwrap();
    input
        .send_keys(s(&file))
        .await
        .expect("choosing the bundle");
    let said = b
        .until(
            "the imported job",
            30,
            "const m = document.getElementById('bundle-message')?.textContent || '';
             return m.startsWith('Imported') ? m : '';",
        )
        .await;
    let listed: Value = reqwest::get(node.url("/api/jobs"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let imported = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["id"] != json!(job))
        .unwrap_or_else(|| panic!("{said}: {listed}"))["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(said.as_str().unwrap().contains(&imported[..8]), "{said}");
    b.until(
        "the imported job listed as done",
        15,
        &format!("return document.querySelector(\"li[data-job='{imported}']\")?.dataset.state === 'done'"),
    )
    .await;
    b.theme("light").await;
    b.screenshot_at("jobs-h", "jobs-light.png").await;

    // The narrow screen: nothing wider than 360 px.
    b.client.set_window_size(360, 800).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let width = b
        .js("return document.documentElement.scrollWidth", vec![])
        .await;
    assert!(
        width.as_u64().unwrap() <= 360,
        "page is {width} px wide at 360 px"
    );
    // No element reaches past the viewport, and none hides text by clipping it (issue 15, item 10;
    // the picture's frame and the bars clip on purpose).
    let overflowing = b
        .js(
            "const vw = document.documentElement.clientWidth, out = [];
             for (const e of document.querySelectorAll('body *')) {
               const r = e.getBoundingClientRect();
               if (r.width === 0 || e.closest('.visually-hidden')) continue;
               const clipped = getComputedStyle(e).overflowX !== 'visible'
                 && !e.matches('.compare, .bar, .bar *, canvas, video, svg')
                 && e.scrollWidth > e.clientWidth + 1;
               if (r.right > vw + 0.5 || clipped)
                 out.push(`${e.tagName.toLowerCase()}#${e.id}.${e.className} ${Math.round(r.right)}`);
             }
             return out.slice(0, 10);",
            vec![],
        )
        .await;
    assert_eq!(overflowing, json!([]), "at 360 px");
    b.screenshot("narrow-light.png").await;
    b.theme("dark").await;
    b.screenshot("narrow-dark.png").await;
    b.screenshot_at("timeline-panel", "timeline-narrow-dark.png")
        .await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn refuses_non_video_and_survives_a_stopped_node() {
    let _one = BROWSER.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let mut node = WebNode::start(&dir.path().join("data"), free_port());
    let b = Browser::start(1000, 800).await;
    b.client.goto(&node.url("/")).await.unwrap();
    b.until_connected("the node connection").await;

    // The chosen preset shows as pressed, and the settings survive a reload (issue 15, item 11).
    let pressed = "return [...document.querySelectorAll('button.preset')]
                   .map(b => b.getAttribute('aria-pressed')).join(',')";
    b.click("#preset-1").await;
    b.until(
        "Vivid pressed",
        10,
        "return document.getElementById('preset-1')?.getAttribute('aria-pressed') === 'true'",
    )
    .await;
    assert_eq!(
        b.js(pressed, vec![]).await,
        json!("false,true,false,false,false")
    );
    b.client.refresh().await.unwrap();
    b.until_connected("the node connection after the reload")
        .await;
    assert_eq!(
        b.js(pressed, vec![]).await,
        json!("false,true,false,false,false"),
        "the settings were not kept"
    );
    assert_eq!(
        b.js(
            "return document.getElementById('f-color-saturation')?.value",
            vec![]
        )
        .await,
        json!("1.4")
    );
    // Render says why it is disabled, with a link to what to fix (issue 15, item 9).
    let why = b
        .until(
            "the reason Render is off",
            10,
            "return document.getElementById('render-why')?.textContent",
        )
        .await;
    assert!(why.as_str().unwrap().contains("Choose a video"), "{why}");
    assert_eq!(
        b.js(
            "return document.querySelector('#render-why a')?.getAttribute('href')",
            vec![]
        )
        .await,
        json!("#file")
    );
    // A clip with its preview, then a file the browser cannot play: the old clip's frames and
    // status go (issue 15, item 7).
    let clip = generated(
        "web_preview_320.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=25:duration=2",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
        ],
    );
    b.choose_file(&clip).await;
    b.until(
        "the clip's preview",
        30,
        "const s = document.getElementById('preview-status')?.textContent || '';
         return s.includes('computed') && document.getElementById('after').width > 0;",
    )
    .await;
    assert_eq!(
        b.js("return !document.getElementById('render-why')", vec![])
            .await,
        json!(true),
        "Render is enabled and needs no reason"
    );
    // A wrong value in a field: the reason links to it.
    let field = b
        .js(
            "const i = document.querySelector('input[inputmode=decimal]'); window.kinoWas = i.value;
             i.value = 'abc'; i.dispatchEvent(new Event('input', { bubbles: true })); return i.id;",
            vec![],
        )
        .await;
    let field = field.as_str().unwrap().to_owned();
    let linked = b
        .until(
            "the link to the wrong field",
            10,
            "return document.querySelector('#render-why a')?.getAttribute('href')",
        )
        .await;
    assert_eq!(linked, json!(format!("#{field}")));
    assert_eq!(
        b.js("return document.getElementById('render').disabled", vec![])
            .await,
        json!(true)
    );
    // Settings that do not combine (a frame per field, and auto-edit's cut measured per source
    // frame): the reason links to the deinterlace mode, as the node would refuse the job.
    b.js(
        "const i = document.getElementById(arguments[0]); i.value = window.kinoWas;
         i.dispatchEvent(new Event('input', { bubbles: true }));",
        vec![json!(field)],
    )
    .await;
    b.until(
        "the field fixed",
        10,
        "return !document.getElementById('render-why')",
    )
    .await;
    b.js("document.getElementById('f-auto-edit').click()", vec![])
        .await;
    b.until(
        "auto-edit on",
        10,
        "return document.getElementById('f-auto-edit').checked",
    )
    .await;
    b.js(
        "const s = document.getElementById('f-deinterlace-mode'); s.value = 'field';
         s.dispatchEvent(new Event('change', { bubbles: true }));",
        vec![],
    )
    .await;
    let linked = b
        .until(
            "the link to the deinterlace mode",
            10,
            "return document.querySelector('#render-why a')?.getAttribute('href')",
        )
        .await;
    assert_eq!(linked, json!("#f-deinterlace-mode"));
    b.js(
        "const s = document.getElementById('f-deinterlace-mode'); s.value = 'auto';
         s.dispatchEvent(new Event('change', { bubbles: true }));",
        vec![],
    )
    .await;
    b.until(
        "settings valid again",
        10,
        "return !document.getElementById('render-why')",
    )
    .await;
    let broken = dir.path().join("broken.mp4");
    std::fs::write(&broken, "not a video, though named like one\n".repeat(50)).unwrap();
    b.choose_file(&broken).await;
    // The node reads its head and tail before any upload (issue 15, item 8): no video, refused by
    // name, and Render says why.
    let refusal = b
        .until(
            "the node's verdict",
            20,
            "const t = document.getElementById('file-error')?.textContent || '';
             return t.includes('not a video') ? t : null;",
        )
        .await;
    assert!(
        refusal.as_str().unwrap().contains("broken.mp4"),
        "{refusal}"
    );
    assert_eq!(
        b.js(
            "return [document.getElementById('render').disabled,
                     document.querySelector('#render-why a')?.getAttribute('href')]",
            vec![]
        )
        .await,
        json!([true, "#file"])
    );
    let stale = b
        .js(
            "return [document.getElementById('before')?.width ?? 0,
                     document.getElementById('after')?.width ?? 0,
                     document.getElementById('preview-status')?.textContent ?? ''];",
            vec![],
        )
        .await;
    assert_eq!(stale, json!([0, 0, ""]), "the last clip's preview stayed");

    // A real video this browser cannot play (MPEG-2 program stream): the node's reading fills in
    // duration, picture and codec, and Render stays possible.
    let mpeg2 = generated(
        "web_mpeg2_320.mpg",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=25:duration=2",
            "-c:v",
            "mpeg2video",
            "-q:v",
            "4",
        ],
    );
    b.choose_file(&mpeg2).await;
    let shown = b
        .until(
            "the node's reading of a file the browser cannot play",
            20,
            "const t = document.getElementById('file-error')?.textContent || '';
             return t.includes('cannot play') && t.includes('node reads it')
               ? [t, document.getElementById('meta-codec').textContent,
                  document.getElementById('meta-picture').textContent,
                  document.getElementById('meta-duration').textContent] : null;",
        )
        .await;
    assert_eq!(shown[1], "mpeg2video", "{shown}");
    assert_eq!(shown[2], "320 × 240", "{shown}");
    assert!(shown[3].as_str().unwrap().starts_with("0:02"), "{shown}");
    assert_eq!(
        b.js("return !document.getElementById('render-why')", vec![])
            .await,
        json!(true),
        "Render stays possible"
    );
    // Its timeline comes from the node: thumbnails decoded there.
    b.click("#node-overview-get").await;
    let strip = "const i = [...document.querySelectorAll('#node-overview img')]; return i.length && i.every(x => x.complete && x.naturalWidth > 0) ? i.length : 0;";
    let thumbs = b.until("the node's filmstrip", 60, strip).await;
    assert_eq!(thumbs, json!(16), "thumbnails from the node");

    let notes = dir.path().join("notes.txt");
    std::fs::write(&notes, "not a video").unwrap();
    b.choose_file(&notes).await;
    let msg = b
        .until(
            "the refusal",
            10,
            "return document.getElementById('file-error')?.textContent",
        )
        .await;
    let msg = msg.as_str().unwrap();
    assert!(
        msg.contains("notes.txt") && msg.contains("not a video"),
        "message: {msg}"
    );
    assert_eq!(
        b.js("return !document.getElementById('source')", vec![])
            .await,
        json!(true)
    );

    node.stop();
    let banner = b
        .until(
            "the unreachable-node banner",
            20,
            "return document.getElementById('offline')?.textContent",
        )
        .await;
    assert!(
        banner.as_str().unwrap().contains("cannot be reached"),
        "{banner}"
    );
    b.theme("dark").await;
    b.screenshot("offline-dark.png").await;
    node.restart();
    b.until("the page to recover", 20, "return document.getElementById('node-status')?.textContent === 'node connected' && !document.getElementById('offline')").await;
    b.close().await;
}
