//! Helpers shared by the test files that talk to a running node over HTTP (each includes this with
//! `mod common;`, or `#[path = "../common/mod.rs"] mod common;` from a folder target's `main.rs`;
//! reqwest is a dev-dependency, so this cannot live in the `kino_tests` library).

use kino_tests::Node;
use std::path::Path;

/// A minimal tus upload (POST + one PATCH) of a whole file, named in its metadata as browsers do,
/// with an optional bearer token; returns the upload id.
pub async fn upload(
    client: &reqwest::Client,
    node: &Node,
    file: &Path,
    token: Option<&str>,
) -> String {
    let bytes = std::fs::read(file).expect("reading the file to upload");
    use base64::Engine;
    let name = file.file_name().map(|n| n.to_string_lossy().into_owned());
    let name = base64::engine::general_purpose::STANDARD.encode(name.unwrap_or_default());
    let mut req = client
        .post(node.url("/api/uploads"))
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Length", bytes.len().to_string())
        .header("Upload-Metadata", format!("filename {name}"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.expect("create upload");
    assert_eq!(r.status(), 201);
    let loc = r.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    let mut req = client
        .patch(node.url(&loc))
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Offset", "0")
        .header("Content-Type", "application/offset+octet-stream")
        .body(bytes);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.expect("patch");
    assert_eq!(r.status(), 204);
    loc.rsplit('/').next().expect("id").to_owned()
}

/// `GET url` as JSON, which must succeed. (Not every test binary that includes this file calls it.)
#[allow(dead_code)]
pub async fn get(client: &reqwest::Client, url: String) -> serde_json::Value {
    let r = client.get(&url).send().await.expect("request");
    assert!(r.status().is_success(), "{url}: {}", r.status());
    r.json().await.expect("JSON")
}
