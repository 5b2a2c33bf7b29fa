//! Bad requests get clear JSON errors from the running node, which keeps serving; a public address
//! needs a token.

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_get_clear_json_errors_and_the_node_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(
        &dir.path().join("data"),
        &["--token", "s3cret", "--max-upload-bytes", "1000000"],
    );
    let client = reqwest::Client::new();
    let api = |p: &str| node.url(p);
    async fn err(r: reqwest::Response, status: u16) -> Value {
        assert_eq!(r.status().as_u16(), status);
        let v: Value = r.json().await.unwrap();
        assert!(v["code"].is_string() && v["message"].is_string(), "{v}");
        v
    }
    // Each refusal's status, code and field are checked at the router (node/src/api/tests.rs);
    // here, over a real socket and a real tus client, that refusals leave the node serving.
    err(client.get(api("/api/jobs")).send().await.unwrap(), 401).await;
    // A text file uploaded as a video is refused when the job is created.
    let notes = dir.path().join("notes.mp4");
    std::fs::write(&notes, "not a video\n".repeat(100)).unwrap();
    let id = common::upload(&client, &node, &notes, Some("s3cret")).await;
    let r = client
        .post(api("/api/jobs"))
        .bearer_auth("s3cret")
        .json(&serde_json::json!({"input": id}))
        .send()
        .await
        .unwrap();
    let v = err(r, 422).await;
    assert_eq!(v["code"], "bad_media");
    // Still serving; docs and OpenAPI available.
    assert_eq!(
        client
            .get(api("/api/jobs"))
            .bearer_auth("s3cret")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let doc: Value = client
        .get(api("/api/openapi.json"))
        .bearer_auth("s3cret")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert!(doc["paths"]["/api/jobs"].is_object());
    assert!(doc["paths"]["/api/uploads/{id}"]["patch"].is_object());
    let landing = client
        .get(api("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(landing.contains("/api/docs"));
    let html = client
        .get(api("/api/docs?token=s3cret"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("swagger-ui-bundle.js"));
}

#[test]
fn refuses_public_address_without_token() {
    let o = kino(&[
        "serve",
        "--listen",
        "0.0.0.0:0",
        "--data-dir",
        s(tempfile::tempdir().unwrap().path()),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("without a token"), "{err}");
}
