//! An upload on a slow link resumed after a reload, and a job cancelled and retried from the page.

use super::*;
use fantoccini::wd::WebDriverCompatibleCommand;

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
    b.until_connected("the node connection").await;
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
    b.until_connected("the node connection").await;
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
