//! The browser editor end to end: a real node on 127.0.0.1 serving the built bundle (`web/dist`,
//! made by `scripts/web.sh`), headless Chromium driven over WebDriver (chromedriver + fantoccini),
//! real clips. Screenshots of the main screens go to `docs/screenshots/`.

use base64::Engine;
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use kino_tests::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One browser at a time: Chromium with SwiftShader is heavy on a small machine.
static BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A node serving the editor bundle on a fixed port (so it can be stopped and started again).
struct WebNode {
    child: Option<Child>,
    port: u16,
    data: PathBuf,
}

impl WebNode {
    fn start(data: &Path, port: u16) -> WebNode {
        let dist = root().join("web/dist");
        assert!(
            dist.join("index.html").is_file(),
            "{} missing: build the editor with `bash scripts/web.sh` (the test command does)",
            dist.display()
        );
        std::fs::create_dir_all(data).expect("data dir");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(data.join("node.log"))
            .expect("log");
        let mut child = Command::new(kino_bin())
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--data-dir", s(data), "--web-dir", s(&dist)])
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("starting kino-node serve");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("stdout");
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line)
            .expect("listen line");
        assert!(line.contains("listening"), "node did not start: {line}");
        WebNode {
            child: Some(child),
            port,
            data: data.to_owned(),
        }
    }
    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
    fn restart(&mut self) {
        self.stop();
        *self = WebNode::start(&self.data.clone(), self.port);
    }
}

impl Drop for WebNode {
    fn drop(&mut self) {
        self.stop();
    }
}

/// chromedriver and the headless Chromium session it drives.
struct Browser {
    client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    async fn start(width: u32, height: u32) -> Browser {
        let port = free_port();
        let driver = Command::new("chromedriver")
            .args([format!("--port={port}"), "--allowed-ips=127.0.0.1".into()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (installed by scripts/setup.sh)");
        let profile = tempfile::tempdir().expect("profile dir");
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--enable-unsafe-swiftshader",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--autoplay-policy=no-user-gesture-required",
            &format!("--window-size={width},{height}"),
            &format!("--user-data-dir={}", profile.path().display()),
        ];
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": "/usr/bin/chromium", "args": args },
        });
        let caps = caps.as_object().cloned().expect("capabilities");
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = loop {
            let mut b =
                ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new());
            match b.capabilities(caps.clone()).connect(&url).await {
                Ok(c) => break c,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("no WebDriver session: {e}"),
            }
        };
        Browser {
            client,
            driver,
            _profile: profile,
        }
    }

    /// A 1280×1000 window on the node's editor, once the page says it is connected.
    async fn open_editor(node: &WebNode) -> Browser {
        let b = Browser::start(1280, 1000).await;
        b.client.goto(&node.url("/")).await.unwrap();
        b.until(
            "the node connection",
            20,
            "return document.getElementById('node-status')?.textContent === 'node connected'",
        )
        .await;
        b
    }

    async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Polls `script` until it returns something truthy; panics with `what` after `secs`.
    async fn until(&self, what: &str, secs: u64, script: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let v = self
                .client
                .execute(script, vec![])
                .await
                .unwrap_or(Value::Null);
            let truthy = match &v {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::String(s) => !s.is_empty(),
                Value::Number(n) => n.as_f64() != Some(0.0),
                _ => true,
            };
            if truthy {
                return v;
            }
            if Instant::now() > deadline {
                let page = self.text("body").await;
                panic!("timed out waiting for {what}; page says:\n{page}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn text(&self, css: &str) -> String {
        match self.client.find(Locator::Css(css)).await {
            Ok(e) => e.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    async fn choose_file(&self, path: &Path) {
        let input = self
            .client
            .wait()
            .for_element(Locator::Id("file"))
            .await
            .expect("file input");
        input.send_keys(s(path)).await.expect("choosing the file");
    }

    /// Types into a settings field as a user would (select all, type).
    async fn type_into(&self, id: &str, text: &str) {
        let el = self.client.find(Locator::Id(id)).await.expect(id);
        el.click().await.expect("focus");
        el.send_keys("\u{E009}a").await.expect("select all");
        el.send_keys(text).await.expect("typing");
    }

    async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .click()
            .await
            .unwrap_or_else(|e| panic!("clicking {css}: {e}"));
    }

    async fn clear_field(&self, id: &str) {
        let el = self.client.find(Locator::Id(id)).await.expect(id);
        el.click().await.expect("focus");
        el.send_keys("\u{E009}a").await.expect("select all");
        el.send_keys("\u{E003}").await.expect("backspace");
    }

    /// A canvas's size and RGBA pixels.
    async fn pixels(&self, id: &str) -> (usize, usize, Vec<u8>) {
        let v = self
            .js(
                "const c = document.getElementById(arguments[0]);
                 const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                 let s = '';
                 for (let i = 0; i < d.length; i += 0x8000) s += String.fromCharCode.apply(null, d.subarray(i, i + 0x8000));
                 return [c.width, c.height, btoa(s)];",
                vec![json!(id)],
            )
            .await;
        let w = v[0].as_u64().expect("width") as usize;
        let h = v[1].as_u64().expect("height") as usize;
        let data = base64::engine::general_purpose::STANDARD
            .decode(v[2].as_str().expect("pixels"))
            .expect("base64");
        (w, h, data)
    }

    /// Waits for a new before/after computed at about `t` seconds, newer than `after_version`.
    async fn preview_at(&self, t: f64, after_version: u64) -> u64 {
        let v = self
            .until(
                "the before/after of the paused frame",
                60,
                &format!(
                    "const a = document.getElementById('after');
                     const v = a && Number(a.dataset.version || 0), t = a && Number(a.dataset.time);
                     return (v > {after_version} && Math.abs(t - {t}) < 0.05) ? v : 0;"
                ),
            )
            .await;
        v.as_u64().expect("version")
    }

    async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("screenshot");
        let dir = root().join("docs/screenshots");
        std::fs::create_dir_all(&dir).expect("screenshots dir");
        std::fs::write(dir.join(name), png).expect("writing screenshot");
    }

    /// A screenshot with the element `id` scrolled to the top.
    async fn screenshot_at(&self, id: &str, name: &str) {
        self.js(
            "document.getElementById(arguments[0]).scrollIntoView()",
            vec![json!(id)],
        )
        .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        self.screenshot(name).await;
    }

    async fn theme(&self, choice: &str) {
        self.client
            .find(Locator::Id("theme"))
            .await
            .expect("theme picker")
            .select_by_value(choice)
            .await
            .expect("choosing the theme");
        // Close the picker so the page can scroll again.
        self.js("document.activeElement.blur()", vec![]).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Chromium's network emulation (a chromedriver extension command): a slow link, as a user on a
/// poor connection has.
#[derive(Debug)]
struct NetworkConditions(Value);

impl WebDriverCompatibleCommand for NetworkConditions {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!(
            "session/{}/chromium/network_conditions",
            session.unwrap_or_default()
        ))
    }
    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(self.0.to_string()))
    }
}

async fn throttle(b: &Browser, bytes_per_second: Option<u64>) {
    let rate = bytes_per_second.map(|r| r as i64).unwrap_or(-1);
    let cmd = NetworkConditions(json!({ "network_conditions": {
        "offline": false, "latency": 0, "download_throughput": rate, "upload_throughput": rate
    }}));
    b.client.issue_cmd(cmd).await.expect("network conditions");
}

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
    let clip = medium("video_street_bikes_4cuts.mp4");
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
    b.click("#render").await;
    let job = b
        .until(
            "the job to be created",
            60,
            "return document.getElementById('submitted')?.dataset.job",
        )
        .await;
    let job = job.as_str().unwrap().to_owned();
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
    b.screenshot("narrow-light.png").await;
    b.theme("dark").await;
    b.screenshot("narrow-dark.png").await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn refuses_non_video_and_survives_a_stopped_node() {
    let _one = BROWSER.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let mut node = WebNode::start(&dir.path().join("data"), free_port());
    let b = Browser::start(1000, 800).await;
    b.client.goto(&node.url("/")).await.unwrap();
    b.until(
        "the node connection",
        20,
        "return document.getElementById('node-status')?.textContent === 'node connected'",
    )
    .await;

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

#[tokio::test(flavor = "multi_thread")]
async fn upload_resumes_after_a_reload() {
    let _one = BROWSER.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let node = WebNode::start(&dir.path().join("data"), free_port());
    // About 12 MB: lossless, so big for its length.
    let clip = generated(
        "resume-720p.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=1280x720:rate=25:duration=6",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-qp",
            "0",
            "-pix_fmt",
            "yuv420p",
        ],
    );
    let size = std::fs::metadata(&clip).unwrap().len();
    assert!(size > 8_000_000, "test clip is only {size} bytes");
    let b = Browser::start(1000, 800).await;
    b.client.goto(&node.url("/")).await.unwrap();
    b.until(
        "the node connection",
        20,
        "return document.getElementById('node-status')?.textContent === 'node connected'",
    )
    .await;
    b.client
        .find(Locator::Id("f-output-preset"))
        .await
        .unwrap()
        .select_by_value("ultrafast")
        .await
        .unwrap();
    b.choose_file(&clip).await;
    throttle(&b, Some(2_000_000)).await;
    b.click("#render").await;
    let first = b.until("part of the upload", 60, "const u = document.getElementById('upload'); const p = u && Number(u.dataset.percent); return p >= 20 && p < 80 ? p : 0;").await;
    let first = first.as_f64().unwrap();
    b.client.refresh().await.unwrap();
    let hint = b
        .until(
            "the resume hint",
            20,
            "return document.getElementById('resume-hint')?.textContent",
        )
        .await;
    assert!(hint.as_str().unwrap().contains("resume-720p.mp4"), "{hint}");
    b.client
        .find(Locator::Id("f-output-preset"))
        .await
        .unwrap()
        .select_by_value("ultrafast")
        .await
        .unwrap();
    b.choose_file(&clip).await;
    // A slow job (sharpen, ×2 to 2560×1440), to cancel and retry while it runs.
    b.click("#preset-3").await;
    b.until(
        "the node connection",
        20,
        "return document.getElementById('node-status')?.textContent === 'node connected'",
    )
    .await;
    b.click("#render").await;
    let resumed = b.until("the resumed upload", 30, "const u = document.getElementById('upload'); return u && u.dataset.resumed === 'true' ? Number(u.dataset.percent) : 0;").await;
    let resumed = resumed.as_f64().unwrap();
    assert!(
        resumed >= first - 5.0,
        "resumed at {resumed} % after {first} %"
    );
    throttle(&b, None).await;
    let job = b
        .until(
            "the job",
            60,
            "return document.getElementById('submitted')?.dataset.job",
        )
        .await;
    // One upload on the node, complete and intact.
    let uploads: Vec<_> = std::fs::read_dir(node.data.join("uploads"))
        .unwrap()
        .filter_map(|e| e.ok())
        .collect();
    let full: Vec<_> = uploads
        .iter()
        .filter(|e| e.metadata().map(|m| m.len() == size).unwrap_or(false))
        .collect();
    assert_eq!(full.len(), 1, "uploads: {uploads:?}");
    assert_eq!(sha256_file(&full[0].path()), sha256_file(&clip));
    let job = job.as_str().unwrap().to_owned();
    b.click(&format!("li[data-job='{job}'] button.cancel"))
        .await;
    b.until(
        "the job to be cancelled",
        60,
        &format!("return document.querySelector(\"li[data-job='{job}']\")?.dataset.state === 'cancelled'"),
    )
    .await;
    b.click(&format!("li[data-job='{job}'] button.retry")).await;
    let restarted = b.until("the job to restart", 30, &format!(
        "const s = document.querySelector(\"li[data-job='{job}']\")?.dataset.state; return s && s !== 'cancelled' ? s : '';")).await;
    assert!(
        ["queued", "analysing", "rendering", "assembling", "done"]
            .contains(&restarted.as_str().unwrap()),
        "{restarted}"
    );
    b.close().await;
}

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
