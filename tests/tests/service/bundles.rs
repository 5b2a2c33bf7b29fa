//! Job bundles between two real nodes: a finished job exported (with its output) from one and
//! imported into the other has the same spec, state, chunks, report sections, cut list and output
//! bytes; its spec re-runs on a new upload; a newer, truncated or tampered bundle is refused with a
//! clear error and leaves nothing behind.

use super::*;

async fn bundle(client: &reqwest::Client, node: &Node, job: &str, output: bool) -> Vec<u8> {
    let r = client
        .get(node.url(&format!("/api/jobs/{job}/bundle?output={output}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/x-tar");
    r.bytes().await.unwrap().to_vec()
}

async fn import(client: &reqwest::Client, node: &Node, query: &str, tar: Vec<u8>) -> (u16, Value) {
    let r = client
        .post(node.url(&format!("/api/jobs/import{query}")))
        .header("content-type", "application/x-tar")
        .body(tar)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn json(client: &reqwest::Client, node: &Node, path: &str) -> Value {
    common::get(client, node.url(path)).await
}

/// The archive's entries, by name.
fn entries(tar: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut a = tar::Archive::new(tar);
    a.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let name = e.path().unwrap().display().to_string();
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut data).unwrap();
            (name, data)
        })
        .collect()
}

fn archive(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, *data).unwrap();
    }
    b.into_inner().unwrap()
}

fn leftovers(data: &Path) -> Vec<String> {
    let mut found = vec![];
    for dir in ["outputs", "tmp"] {
        if let Ok(rd) = std::fs::read_dir(data.join(dir)) {
            found.extend(
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned()),
            );
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_moves_between_nodes_as_a_bundle() {
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = Node::start(dir_a.path(), &["--workers", "1"]);
    let b = Node::start(dir_b.path(), &["--workers", "1"]);
    let client = reqwest::Client::new();
    let input = small_clip();
    let up = common::upload(&client, &a, &input, None).await;
    let job = create_job(
        &client,
        &a,
        serde_json::json!({"input": up, "chunk_seconds": 1, "output": {"preset": "ultrafast"},
            "stages": [{"kind": "scale", "width": 160, "height": 120}], "auto_edit": {}}),
    )
    .await;
    wait_done(&client, &a, &job, Duration::from_secs(240)).await;
    let report_a = json(&client, &a, &format!("/api/jobs/{job}/report")).await;
    let out_a = download_output(&client, &a, &job, &dir_a.path().join("a.mp4")).await;
    let out_a = std::fs::read(out_a).unwrap();

    // Without the output: the record only.
    let light = entries(&bundle(&client, &a, &job, false).await);
    assert_eq!(light.len(), 1);
    assert_eq!(light[0].0, "bundle.json");
    let tar = bundle(&client, &a, &job, true).await;
    let files = entries(&tar);
    let names: Vec<_> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["bundle.json", "output.mp4"]);
    assert_eq!(files[1].1, out_a);
    let manifest: Value = serde_json::from_slice(&files[0].1).unwrap();
    assert_eq!(
        (manifest["format"].as_str(), manifest["version"].as_u64()),
        (Some("kino-job-bundle"), Some(1))
    );

    // Imported on the other node: the same record, and the same output.
    let before = leftovers(dir_b.path());
    let (s, imported) = import(&client, &b, "", tar.clone()).await;
    assert_eq!(s, 201, "{imported}");
    let id_b = imported["id"].as_str().unwrap().to_owned();
    assert_ne!(id_b, job);
    let report_b = json(&client, &b, &format!("/api/jobs/{id_b}/report")).await;
    for key in [
        "spec",
        "state",
        "frames_total",
        "chunks_total",
        "chunks_done",
        "created_ms",
    ] {
        assert_eq!(report_b["job"][key], report_a["job"][key], "{key}");
    }
    assert_eq!(report_b["sections"], report_a["sections"]);
    assert_eq!(report_b["chunks"], report_a["chunks"]);
    assert_eq!(
        report_b["output"], report_a["output"],
        "the output probes the same"
    );
    let out_b = download_output(&client, &b, &id_b, &dir_b.path().join("b.mp4")).await;
    assert_eq!(std::fs::read(out_b).unwrap(), out_a);
    // The cut lists agree; where the source file lies (an EDL's clip name, an OTIO media
    // reference) stays on its node: there the clip is named by its upload.
    let cut = |node: &Node, id: &str, format: &str| {
        let url = node.url(&format!("/api/jobs/{id}/cutlist/{format}"));
        let client = client.clone();
        async move {
            let r = client.get(url).send().await.unwrap();
            assert_eq!(r.status(), 200);
            r.text().await.unwrap()
        }
    };
    let (edl_a, edl_b) = (cut(&a, &job, "edl").await, cut(&b, &id_b, "edl").await);
    assert_eq!(edl_a, edl_b.replace("upload ", ""));
    let without_urls = |text: String| {
        text.lines()
            .filter(|l| !l.contains("target_url"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let (otio_a, otio_b) = (cut(&a, &job, "otio").await, cut(&b, &id_b, "otio").await);
    assert_eq!(
        without_urls(otio_a),
        without_urls(otio_b.replace("upload ", ""))
    );

    // Exported again from there: the same manifest but for the job's id and the export time.
    let again = entries(&bundle(&client, &b, &id_b, true).await);
    let mut m2: Value = serde_json::from_slice(&again[0].1).unwrap();
    let mut m1 = manifest.clone();
    for m in [&mut m1, &mut m2] {
        m["exported_ms"] = Value::Null;
        m["job"]["id"] = Value::Null;
        m["job"]["updated_ms"] = Value::Null;
        m["job"]["output"] = Value::Null;
    }
    assert_eq!(m2, m1);
    assert_eq!(again[1].1, out_a);

    // Refused bundles: a clear error, and nothing left behind.
    let jobs_before = json(&client, &b, "/api/jobs").await;
    let files_before = leftovers(dir_b.path());
    assert_eq!(files_before.len(), before.len() + 1, "{files_before:?}");
    let mut newer = manifest.clone();
    newer["version"] = 2.into();
    let newer = archive(&[("bundle.json", newer.to_string().as_bytes())]);
    let mut tampered = tar.clone();
    let last = tampered.len() - 2048;
    tampered[last - 100] ^= 0xff;
    let mut unfinished = manifest.clone();
    unfinished["job"]["state"] = "rendering".into();
    let unfinished = archive(&[("bundle.json", unfinished.to_string().as_bytes())]);
    let other_first = archive(&[("evil.sh", b"boo"), ("bundle.json", &files[0].1)]);
    for (what, body, code, says) in [
        ("newer", newer, "unsupported_version", "newer Kino"),
        (
            "truncated",
            tar[..tar.len() / 2].to_vec(),
            "invalid_parameter",
            "damaged",
        ),
        ("tampered", tampered, "invalid_parameter", "SHA-256"),
        (
            "unfinished",
            unfinished,
            "invalid_parameter",
            "only an ended job",
        ),
        ("not first", other_first, "invalid_parameter", "first entry"),
        (
            "not a tar",
            b"hello".to_vec(),
            "invalid_parameter",
            "damaged",
        ),
    ] {
        let (s, e) = import(&client, &b, "", body).await;
        assert_eq!((s, e["code"].as_str()), (422, Some(code)), "{what}: {e}");
        let msg = e["message"].as_str().unwrap_or("");
        assert!(msg.contains(says), "{what}: {e}");
        assert_eq!(json(&client, &b, "/api/jobs").await, jobs_before, "{what}");
        assert_eq!(
            leftovers(dir_b.path()),
            files_before,
            "{what} left files behind"
        );
    }
    let parts: Vec<_> = leftovers(dir_b.path())
        .into_iter()
        .filter(|f| f.ends_with(".part") || f.ends_with(".tar"))
        .collect();
    assert!(parts.is_empty(), "{parts:?}");

    // The bundle's spec run again on an upload of the other node.
    let up_b = common::upload(&client, &b, &input, None).await;
    let (s, rerun) = import(&client, &b, &format!("?input={up_b}"), tar).await;
    assert_eq!(s, 201, "{rerun}");
    let rerun_id = rerun["id"].as_str().unwrap().to_owned();
    wait_done(&client, &b, &rerun_id, Duration::from_secs(240)).await;
    let r = json(&client, &b, &format!("/api/jobs/{rerun_id}")).await;
    let mut spec = r["spec"].clone();
    spec["input"] = report_a["job"]["spec"]["input"].clone();
    assert_eq!(spec, report_a["job"]["spec"]);
    let (s, e) = import(
        &client,
        &b,
        "?input=nope",
        bundle(&client, &a, &job, false).await,
    )
    .await;
    assert_eq!(s, 422, "{e}");
}
