//! The browser editor end to end: a real node on 127.0.0.1 serving the built bundle (`web/dist`,
//! made by `scripts/web.sh`), headless Chromium driven over WebDriver (chromedriver + fantoccini),
//! real clips. Screenshots of the main screens go to `docs/screenshots/`.

#[path = "../common/mod.rs"]
mod common;

mod batch;
mod bench;
mod dashboard;
mod editor;
mod presets;
mod quality;
mod timeline;
mod upload;
mod viz3d;

use base64::Engine;
use fantoccini::{Client, ClientBuilder, Locator};
use kino_tests::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One browser at a time: Chromium with SwiftShader is heavy on a small machine.
static BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

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
            // Notifications allowed, as a user who said yes to the editor's question.
            "goog:chromeOptions": { "binary": "/usr/bin/chromium", "args": args,
                "prefs": { "profile.default_content_setting_values.notifications": 1 } },
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
        b.until_connected("the node connection").await;
        b
    }

    async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Waits (20 s at most) until the page says it is connected to the node; `what` names the
    /// moment in a failure.
    async fn until_connected(&self, what: &str) {
        self.until(
            what,
            20,
            "return document.getElementById('node-status')?.textContent === 'node connected'",
        )
        .await;
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
