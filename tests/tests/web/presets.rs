//! Presets in the editor: the settings saved as a preset on the node, applied back, renamed,
//! exported to a file, deleted, imported from that file; a file from a newer Kino is refused.

use super::*;

async fn user_presets(node: &WebNode) -> Vec<Value> {
    let all: Value = reqwest::get(node.url("/api/presets"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    all.as_array()
        .expect("presets")
        .iter()
        .filter(|p| p["builtin"] == false)
        .cloned()
        .collect()
}

async fn message(b: &Browser, what: &str, contains: &str) -> String {
    let script = format!(
        "const m = document.getElementById('preset-message')?.textContent || '';
         return m.includes({}) ? m : '';",
        json!(contains)
    );
    b.until(what, 15, &script)
        .await
        .as_str()
        .unwrap_or("")
        .to_owned()
}

async fn saturation(b: &Browser) -> Value {
    b.js(
        "return document.getElementById('f-color-saturation')?.value",
        vec![],
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn presets_save_apply_rename_export_delete_import() {
    let _one = BROWSER.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let node = WebNode::start(&dir.path().join("data"), free_port());
    let b = Browser::open_editor(&node).await;

    // Vivid, made more saturated, saved as the user's own preset.
    b.click("#preset-1").await;
    b.type_into("f-color-saturation", "1.6").await;
    b.type_into("preset-name", "My vivid").await;
    b.click("#preset-save").await;
    message(&b, "the saved message", "Saved 'My vivid'").await;
    let saved = user_presets(&node).await;
    assert_eq!(saved.len(), 1, "{saved:?}");
    assert_eq!(saved[0]["name"], "My vivid");
    let color = &saved[0]["settings"]["stages"][0];
    assert_eq!(color["kind"], "color");
    assert!(
        (color["saturation"].as_f64().unwrap() - 1.6).abs() < 1e-6,
        "{color}"
    );
    assert!(
        (color["contrast"].as_f64().unwrap() - 1.15).abs() < 1e-6,
        "{color}"
    );
    let mine = "[...document.querySelectorAll('button.preset.user')].find(b => b.textContent === arguments[0])";
    b.until(
        "the new preset pressed",
        10,
        "const b = [...document.querySelectorAll('button.preset.user')].find(b => b.textContent === 'My vivid');
         return b && b.getAttribute('aria-pressed') === 'true';",
    )
    .await;

    // Another preset, then the user's again: its settings come back.
    b.click("#preset-0").await;
    b.until(
        "Natural applied",
        10,
        "return document.getElementById('f-color-saturation')?.value === '1.1'",
    )
    .await;
    b.js(
        &format!("{mine}.click(); return true;"),
        vec![json!("My vivid")],
    )
    .await;
    b.until(
        "My vivid applied",
        10,
        "return document.getElementById('f-color-saturation')?.value === '1.6'",
    )
    .await;
    assert_eq!(saturation(&b).await, json!("1.6"));

    // Renamed (the pressed preset is the one renamed).
    b.type_into("preset-name", "Punchy").await;
    b.click("#preset-rename").await;
    message(&b, "the renamed message", "Renamed 'My vivid' to 'Punchy'").await;
    let renamed = user_presets(&node).await;
    assert_eq!(renamed.len(), 1);
    assert_eq!(renamed[0]["name"], "Punchy");
    assert_eq!(renamed[0]["settings"], saved[0]["settings"]);

    // Exported through the editor's link, deleted, imported from the file.
    let exported = b
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             const a = document.getElementById('preset-export');
             fetch(a.href).then(r => r.text()).then(t => done([a.getAttribute('download'), t]));",
            vec![],
        )
        .await
        .expect("fetching the export link");
    assert_eq!(exported[0], "kino-presets.json");
    let text = exported[1].as_str().expect("the exported file").to_owned();
    let file = dir.path().join("kino-presets.json");
    std::fs::write(&file, &text).unwrap();
    b.click("#preset-delete").await;
    message(&b, "the deleted message", "Deleted 'Punchy'").await;
    assert!(user_presets(&node).await.is_empty());
    b.until(
        "the deleted preset's button gone",
        10,
        "return document.querySelectorAll('button.preset.user').length === 0",
    )
    .await;
    let input = b.client.find(Locator::Id("preset-import")).await.unwrap();
    input
        .send_keys(s(&file))
        .await
        .expect("choosing the presets file");
    message(&b, "the imported message", "Imported: Punchy").await;
    let back = user_presets(&node).await;
    assert_eq!(back, renamed, "the import gives back what was exported");
    b.until(
        "the imported preset pressed (the form still shows its settings)",
        10,
        "const b = [...document.querySelectorAll('button.preset.user')].find(b => b.textContent === 'Punchy');
         return b && b.getAttribute('aria-pressed') === 'true';",
    )
    .await;

    // A file from a newer Kino is refused with the reason, and nothing is imported.
    let mut newer: Value = serde_json::from_str(&text).unwrap();
    newer["version"] = json!(7);
    let newer_file = dir.path().join("newer.json");
    std::fs::write(&newer_file, newer.to_string()).unwrap();
    let input = b.client.find(Locator::Id("preset-import")).await.unwrap();
    input
        .send_keys(s(&newer_file))
        .await
        .expect("choosing the newer file");
    let said = message(&b, "the refusal", "Import refused").await;
    assert!(said.contains("newer Kino"), "{said}");
    assert_eq!(user_presets(&node).await.len(), 1);
    b.close().await;
}
