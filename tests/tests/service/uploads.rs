//! tus uploads interrupted and resumed, against the same node and across a restart.

use super::*;

/// A file of pseudo-random bytes (incompressible, reproducible).
fn random_file(path: &Path, len: usize) {
    let mut x: u64 = 0x9E3779B97F4A7C15;
    let mut buf = Vec::with_capacity(len);
    while buf.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        buf.extend_from_slice(&x.to_le_bytes());
    }
    buf.truncate(len);
    std::fs::write(path, buf).unwrap();
}

async fn upload_info(client: &reqwest::Client, node: &Node, url: &str) -> Value {
    let id = url.rsplit('/').next().unwrap();
    client
        .get(node.url(&format!("/api/uploads/{id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn tus_upload_resumes_after_interrupt_and_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("payload.bin");
    random_file(&file, 24 * 1024 * 1024);
    let want = sha256_file(&file);
    let data = dir.path().join("data");
    let client = reqwest::Client::new();

    // Interrupted at ~50 %, resumed against the same node.
    let mut node = Node::start(&data, &[]);
    let endpoint = node.url("/api/uploads");
    let first = tus_js(&[&endpoint, s(&file), "--abort-at", "0.5"]);
    let url = first["url"].as_str().unwrap().to_owned();
    let half = upload_info(&client, &node, &url).await;
    let offset = half["offset"].as_u64().unwrap();
    assert!(
        offset > 0 && offset < 24 * 1024 * 1024,
        "offset after interrupt: {half}"
    );
    assert_eq!(half["complete"], false);
    let done = tus_js(&[&endpoint, s(&file), "--resume-url", &url]);
    assert_eq!(done["done"], true);
    let info = upload_info(&client, &node, &url).await;
    assert_eq!(info["sha256"].as_str(), Some(want.as_str()), "{info}");
    assert_eq!(info["metadata"]["filename"], "payload.bin");

    // Interrupted, node killed and restarted, resumed.
    let second = tus_js(&[&endpoint, s(&file), "--abort-at", "0.5"]);
    let path = second["url"]
        .as_str()
        .unwrap()
        .split("/api/")
        .nth(1)
        .unwrap()
        .to_owned();
    node.kill9();
    let node = Node::start(&data, &[]);
    let url = node.url(&format!("/api/{path}"));
    let resumed = tus_js(&[&node.url("/api/uploads"), s(&file), "--resume-url", &url]);
    assert_eq!(resumed["done"], true);
    let info = upload_info(&client, &node, &url).await;
    assert_eq!(info["sha256"].as_str(), Some(want.as_str()), "{info}");
}
