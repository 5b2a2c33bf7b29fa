//! Presets over HTTP: save, rename, delete, export and import (a versioned file) round-trip; the
//! built-in ones are read-only; a corrupted, invalid or newer file is refused and imports nothing;
//! a job runs with a preset's settings.

use super::*;

async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    node: &Node,
    path: &str,
    body: Option<String>,
) -> (u16, Value) {
    let mut req = client.request(method, node.url(path));
    if let Some(b) = body {
        req = req.header("content-type", "application/json").body(b);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn user_presets(all: &Value) -> Vec<Value> {
    let list = all.as_array().expect("presets");
    list.iter()
        .filter(|p| p["builtin"] == false)
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn presets_round_trip_and_bad_files_are_refused() {
    use reqwest::Method;
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path(), &["--workers", "1"]);
    let client = reqwest::Client::new();

    let (status, all) = call(&client, Method::GET, &node, "/api/presets", None).await;
    assert_eq!(status, 200);
    let builtins: Vec<_> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].clone())
        .collect();
    assert_eq!(
        builtins,
        ["Natural", "Vivid", "Crisp", "Upscale ×2", "Original"],
        "{all}"
    );

    let warm = serde_json::json!({
        "stages": [{"kind": "color", "saturation": 1.3, "temperature": 0.2},
                   {"kind": "sharpen", "amount": 0.5}],
        "audio_stages": [{"kind": "loudness", "target_lufs": -16.0}],
        "output": {"codec": "h265", "crf": 24, "preset": "fast"},
        "chunk_seconds": 2.0
    });
    let small = serde_json::json!({
        "stages": [{"kind": "scale", "width": 160, "height": 120}],
        "output": {"preset": "ultrafast"},
        "chunk_seconds": 1.0
    });
    let (s, _) = call(
        &client,
        Method::PUT,
        &node,
        "/api/presets/Warm%20look",
        Some(warm.to_string()),
    )
    .await;
    assert_eq!(s, 201);
    let (s, _) = call(
        &client,
        Method::PUT,
        &node,
        "/api/presets/Small",
        Some(small.to_string()),
    )
    .await;
    assert_eq!(s, 201);
    let (s, _) = call(
        &client,
        Method::PUT,
        &node,
        "/api/presets/Small",
        Some(small.to_string()),
    )
    .await;
    assert_eq!(s, 200, "saving again replaces");

    // Renamed; a rename onto a taken name or a built-in's is refused.
    let rename = |to: &str| Some(serde_json::json!({ "name": to }).to_string());
    let (s, _) = call(
        &client,
        Method::POST,
        &node,
        "/api/presets/Small/rename",
        rename("Tiny"),
    )
    .await;
    assert_eq!(s, 204);
    let (s, e) = call(
        &client,
        Method::POST,
        &node,
        "/api/presets/Tiny/rename",
        rename("Warm look"),
    )
    .await;
    assert_eq!((s, e["code"].as_str()), (409, Some("conflict")), "{e}");
    let (s, e) = call(
        &client,
        Method::POST,
        &node,
        "/api/presets/Tiny/rename",
        rename("Vivid"),
    )
    .await;
    assert_eq!((s, e["code"].as_str()), (403, Some("read_only")), "{e}");
    let (s, _) = call(
        &client,
        Method::POST,
        &node,
        "/api/presets/Nope/rename",
        rename("X"),
    )
    .await;
    assert_eq!(s, 404);

    // Built-ins are read-only.
    let (s, e) = call(
        &client,
        Method::PUT,
        &node,
        "/api/presets/Vivid",
        Some(small.to_string()),
    )
    .await;
    assert_eq!((s, e["code"].as_str()), (403, Some("read_only")), "{e}");
    let (s, e) = call(&client, Method::DELETE, &node, "/api/presets/Natural", None).await;
    assert_eq!((s, e["code"].as_str()), (403, Some("read_only")), "{e}");
    // Invalid settings name their field.
    let bad = serde_json::json!({"output": {"crf": 99}});
    let (s, e) = call(
        &client,
        Method::PUT,
        &node,
        "/api/presets/Bad",
        Some(bad.to_string()),
    )
    .await;
    assert_eq!(
        (s, e["field"].as_str()),
        (422, Some("settings.output.crf")),
        "{e}"
    );

    // Export → delete all → import: the same presets, and the same file exported again.
    let (s, exported) = call(&client, Method::GET, &node, "/api/presets/export", None).await;
    assert_eq!(s, 200);
    assert_eq!(exported["format"], "kino-presets");
    assert_eq!(exported["version"], 1);
    let names: Vec<_> = exported["presets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].clone())
        .collect();
    assert_eq!(names, ["Tiny", "Warm look"], "{exported}");
    let (_, before) = call(&client, Method::GET, &node, "/api/presets", None).await;
    for name in ["Tiny", "Warm%20look"] {
        let (s, _) = call(
            &client,
            Method::DELETE,
            &node,
            &format!("/api/presets/{name}"),
            None,
        )
        .await;
        assert_eq!(s, 204);
    }
    let (_, none) = call(&client, Method::GET, &node, "/api/presets", None).await;
    assert!(user_presets(&none).is_empty(), "{none}");

    // Refused files import nothing.
    let text = exported.to_string();
    let mut newer = exported.clone();
    newer["version"] = 2.into();
    let mut invalid = exported.clone();
    invalid["presets"][1]["settings"]["output"]["crf"] = 99.into();
    let mut unknown = exported.clone();
    unknown["presets"][0]["settings"]["stages"][0]["kind"] = "teleport".into();
    for (body, status, code) in [
        (text[..text.len() / 2].to_owned(), 422, "invalid_parameter"),
        (newer.to_string(), 422, "unsupported_version"),
        (invalid.to_string(), 422, "invalid_parameter"),
        (unknown.to_string(), 422, "invalid_parameter"),
        (
            r#"{"format":"something-else","version":1}"#.to_owned(),
            422,
            "invalid_parameter",
        ),
    ] {
        let (s, e) = call(
            &client,
            Method::POST,
            &node,
            "/api/presets/import",
            Some(body),
        )
        .await;
        assert_eq!((s, e["code"].as_str()), (status, Some(code)), "{e}");
        assert!(!e["message"].as_str().unwrap_or("").is_empty(), "{e}");
        let (_, now) = call(&client, Method::GET, &node, "/api/presets", None).await;
        assert!(
            user_presets(&now).is_empty(),
            "a refused file imported something: {now}"
        );
    }
    let (_, e) = call(
        &client,
        Method::POST,
        &node,
        "/api/presets/import",
        Some(newer.to_string()),
    )
    .await;
    assert!(e["message"].as_str().unwrap().contains("newer Kino"), "{e}");

    let (s, imported) = call(
        &client,
        Method::POST,
        &node,
        "/api/presets/import",
        Some(text.clone()),
    )
    .await;
    assert_eq!(s, 200, "{imported}");
    assert_eq!(imported["names"], serde_json::json!(["Tiny", "Warm look"]));
    let (_, after) = call(&client, Method::GET, &node, "/api/presets", None).await;
    assert_eq!(after, before, "the import restores what was exported");
    let (_, again) = call(&client, Method::GET, &node, "/api/presets/export", None).await;
    assert_eq!(again, exported);
    // Imported again: nothing is overwritten, the copies are numbered.
    let (_, twice) = call(
        &client,
        Method::POST,
        &node,
        "/api/presets/import",
        Some(text),
    )
    .await;
    assert_eq!(
        twice["names"],
        serde_json::json!(["Tiny (2)", "Warm look (2)"])
    );

    // A job with a preset's settings renders them.
    let input = small_clip();
    let id = common::upload(&client, &node, &input, None).await;
    let tiny = user_presets(&after)
        .into_iter()
        .find(|p| p["name"] == "Tiny")
        .unwrap();
    let mut spec = tiny["settings"].clone();
    spec["input"] = id.into();
    let job = create_job(&client, &node, spec).await;
    let done = wait_done(&client, &node, &job, Duration::from_secs(240)).await;
    let out = dir.path().join("tiny.mp4");
    download_output(&client, &node, &job, &out).await;
    let info = ffprobe_json(&out, &["-show_streams", "-select_streams", "v:0"]);
    let v = &info["streams"][0];
    assert_eq!(
        (v["width"].as_u64(), v["height"].as_u64()),
        (Some(160), Some(120)),
        "{done}"
    );
}
