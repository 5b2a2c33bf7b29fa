//! Bad requests get clear JSON errors, and a public address needs a token.

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
    // No token, wrong token; health stays open.
    err(client.get(api("/api/jobs")).send().await.unwrap(), 401).await;
    err(
        client
            .get(api("/api/jobs"))
            .bearer_auth("nope")
            .send()
            .await
            .unwrap(),
        401,
    )
    .await;
    assert_eq!(
        client
            .get(api("/api/health"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let post = |body: &'static str| {
        client
            .post(api("/api/jobs"))
            .bearer_auth("s3cret")
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let v = err(post("{\"input\": ").await.unwrap(), 400).await;
    assert_eq!(v["code"], "invalid_json");
    let v = err(
        post(r#"{"input":"x","stages":[{"kind":"warp"}]}"#)
            .await
            .unwrap(),
        422,
    )
    .await;
    assert_eq!(v["field"], "stages[0].kind");
    let v = err(
        post(r#"{"input":"x","stages":[{"kind":"scale","width":0}]}"#)
            .await
            .unwrap(),
        422,
    )
    .await;
    assert_eq!(v["field"], "stages.scale.width");
    let v = err(
        post(r#"{"input":"0123456789abcdef0123456789abcdef"}"#)
            .await
            .unwrap(),
        422,
    )
    .await;
    assert_eq!(v["field"], "input");
    // Upload over the cap, wrong offset, unknown ids.
    let tus = |m: reqwest::Method, p: String| {
        client
            .request(m, api(&p))
            .bearer_auth("s3cret")
            .header("Tus-Resumable", "1.0.0")
    };
    let v = err(
        tus(reqwest::Method::POST, "/api/uploads".into())
            .header("Upload-Length", "2000000")
            .send()
            .await
            .unwrap(),
        413,
    )
    .await;
    assert_eq!(v["field"], "Upload-Length");
    let r = tus(reqwest::Method::POST, "/api/uploads".into())
        .header("Upload-Length", "10")
        .send()
        .await
        .unwrap();
    let loc = r.headers()["location"].to_str().unwrap().to_owned();
    let v = err(
        tus(reqwest::Method::PATCH, loc.clone())
            .header("Upload-Offset", "5")
            .header("Content-Type", "application/offset+octet-stream")
            .body("abc")
            .send()
            .await
            .unwrap(),
        409,
    )
    .await;
    assert_eq!(v["code"], "offset_mismatch");
    err(
        tus(reqwest::Method::PATCH, loc.clone())
            .header("Upload-Offset", "0")
            .body("abc")
            .send()
            .await
            .unwrap(),
        415,
    )
    .await;
    err(
        client
            .get(api("/api/jobs/does-not-exist"))
            .bearer_auth("s3cret")
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    err(
        client
            .delete(api("/api/jobs/does-not-exist"))
            .bearer_auth("s3cret")
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
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
