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

/// The editor's probe before an upload (issue 15, item 8): the head and tail of a phone-style MP4
/// (its index after the media) tell duration, size and codec; other bytes are refused by name.
#[tokio::test(flavor = "multi_thread")]
async fn head_and_tail_tell_what_a_file_is_before_its_upload() {
    let clip = generated(
        "probe_moov_at_end.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=1280x720:rate=30:duration=20",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:duration=20",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-crf",
            "12",
            "-c:a",
            "aac",
            "-shortest",
        ],
    );
    let bytes = std::fs::read(&clip).unwrap();
    let (head, tail) = (256 << 10, 512 << 10);
    let moov = bytes.windows(4).position(|w| w == b"moov").unwrap();
    assert!(
        moov > head && bytes.len() > 4 * (head + tail),
        "the index must be past the head, in the tail (moov at {moov} of {})",
        bytes.len()
    );
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let node = Node::start(&data, &[]);
    let client = reqwest::Client::new();
    let probe = |body: Vec<u8>, size: usize, head: usize, name: &str| {
        client
            .post(node.url(&format!("/api/probe?size={size}&head={head}&name={name}")))
            .body(body)
            .send()
    };
    let mut body = bytes[..head].to_vec();
    body.extend_from_slice(&bytes[bytes.len() - tail..]);
    let r = probe(body, bytes.len(), head, "phone.mp4").await.unwrap();
    assert_eq!(r.status(), 200);
    let info: Value = r.json().await.unwrap();
    let video = &info["video"];
    assert_eq!(
        (video["width"].as_u64(), video["height"].as_u64()),
        (Some(1280), Some(720))
    );
    assert_eq!(video["codec"], "h264");
    assert_eq!(info["size_bytes"].as_u64(), Some(bytes.len() as u64));
    let duration = info["duration_seconds"].as_f64().unwrap();
    assert!((duration - 20.0).abs() < 0.1, "duration {duration}");
    assert_eq!(info["audio"][0]["codec"], "aac", "{info}");

    // Bytes that are no video, named like one: refused by name, with no path of the node's.
    let noise: Vec<u8> = (0..300_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let r = probe(noise.clone(), noise.len(), noise.len(), "holiday.mp4")
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["code"], "bad_media", "{e}");
    let msg = e["message"].as_str().unwrap();
    assert!(
        msg.contains("holiday.mp4") && msg.contains("not a video"),
        "{msg}"
    );
    assert!(!msg.contains("tmp") && !msg.contains("probe-"), "{msg}");
    // Inconsistent sizes and an empty file are refused; nothing is left behind.
    let r = probe(vec![0; 10], 5, 10, "x.mp4").await.unwrap();
    assert_eq!(r.status(), 422);
    let r = probe(vec![0; 10], 100, 20, "x.mp4").await.unwrap();
    assert_eq!(r.status(), 422);
    let r = probe(vec![], 0, 0, "x.mp4").await.unwrap();
    assert_eq!(r.status(), 422);
    let left: Vec<_> = std::fs::read_dir(data.join("tmp")).unwrap().collect();
    assert!(left.is_empty(), "probe files left: {left:?}");
}
