//! Tracking: ids kept through crossings and occlusion on a synthetic sequence, and the same tracks
//! whatever the chunking (served by the node too).

use super::*;

fn rect_iou(a: [f64; 4], b: [f64; 4]) -> f64 {
    let w = (a[0] + a[2]).min(b[0] + b[2]) - a[0].max(b[0]);
    let h = (a[1] + a[3]).min(b[1] + b[3]) - a[1].max(b[1]);
    let inter = w.max(0.0) * h.max(0.0);
    inter / (a[2] * a[3] + b[2] * b[3] - inter)
}

/// Share of `a` not covered by `b`.
fn visible(a: [f64; 4], b: [f64; 4]) -> f64 {
    let w = (a[0] + a[2]).min(b[0] + b[2]) - a[0].max(b[0]);
    let h = (a[1] + a[3]).min(b[1] + b[3]) - a[1].max(b[1]);
    1.0 - w.max(0.0) * h.max(0.0) / (a[2] * a[3])
}

#[test]
fn tracks_keep_their_ids_through_crossings_and_occlusion() {
    let Some(media) = shared_media() else {
        println!("SKIP tracks_keep_their_ids_through_crossings_and_occlusion: ../shared/media is missing (the people are cut from the campus clip)");
        return;
    };
    let (clip, walkers, pillar) = walkers_clip(&media);
    let report = detect(&clip, "every=2,classes=person", &[]);
    let fps = 25.0;
    let mut boxes: std::collections::HashMap<u64, Vec<(u64, [f64; 4])>> = Default::default();
    for t in report["tracks"].as_array().expect("tracks") {
        for bx in t["frames"].as_array().expect("frames") {
            let f = |k: &str| bx[k].as_f64().expect("number");
            boxes
                .entry(bx["frame"].as_u64().expect("frame"))
                .or_default()
                .push((
                    t["id"].as_u64().expect("id"),
                    [f("x"), f("y"), f("w"), f("h")],
                ));
        }
    }
    // CLEAR-MOT counts over the detection frames: a ground-truth box at least 30 % visible is
    // matched to the track box overlapping it most (IoU ≥ 0.3); unmatched ground truth is a miss,
    // an unmatched track box a false positive, and a change of the matched id an id switch.
    let (mut gt_total, mut misses, mut false_pos, mut switches) = (0, 0, 0, 0);
    let mut last_id: [Option<u64>; 3] = [None; 3];
    let mut ids_of: [std::collections::BTreeSet<u64>; 3] = Default::default();
    for frame in (0..150u64).step_by(2) {
        let t = frame as f64 / fps;
        let rects: Vec<[f64; 4]> = walkers
            .iter()
            .map(|w| {
                let (x, y) = (w.at)(t);
                [x, y, w.w, w.h]
            })
            .collect();
        let found = boxes.get(&frame).cloned().unwrap_or_default();
        let mut used = vec![false; found.len()];
        for (k, g) in rects.iter().enumerate() {
            let hidden_by_a = k == 1 && visible(*g, rects[0]) < 0.3;
            if hidden_by_a || visible(*g, pillar) < 0.3 {
                continue;
            }
            gt_total += 1;
            let best = found
                .iter()
                .enumerate()
                .filter(|(i, (_, r))| !used[*i] && rect_iou(*g, *r) >= 0.3)
                .max_by(|x, y| rect_iou(*g, x.1 .1).total_cmp(&rect_iou(*g, y.1 .1)));
            let Some((i, (id, _))) = best else {
                misses += 1;
                continue;
            };
            used[i] = true;
            if last_id[k].is_some_and(|l| l != *id) {
                switches += 1;
                println!(
                    "id switch: {} from {:?} to {id} at frame {frame}",
                    walkers[k].name, last_id[k]
                );
            }
            last_id[k] = Some(*id);
            ids_of[k].insert(*id);
        }
        false_pos += used.iter().filter(|u| !**u).count();
    }
    let mota = 1.0 - (misses + false_pos + switches) as f64 / gt_total as f64;
    println!(
        "synthetic walkers: {gt_total} visible ground-truth boxes, {misses} missed, {false_pos} false positives, \
         {switches} id switches, MOTA {mota:.3}; tracks {}; ids per walker {ids_of:?}",
        report["tracks"].as_array().map(|t| t.len()).unwrap_or(0)
    );
    assert!(switches <= 1, "{switches} id switches");
    assert!(
        ids_of.iter().all(|ids| ids.len() == 1),
        "a walker had several ids: {ids_of:?}"
    );
    assert!(mota >= 0.8, "MOTA {mota}");
}

/// The tracks section of a rendered job's report (`--tracks`), as JSON.
fn render_tracks(
    clip: &Path,
    dir: &Path,
    name: &str,
    chunk_seconds: &str,
) -> (Value, String, String) {
    let json = dir.join(format!("{name}.json"));
    let mot = dir.join(format!("{name}.csv"));
    let out = dir.join(format!("{name}.mp4"));
    let (ok, _, err) = kino_models(
        &[
            "render",
            s(clip),
            "-o",
            s(&out),
            "--data-dir",
            s(&dir.join(format!("data-{name}"))),
            "--preset",
            "ultrafast",
            "--chunk-seconds",
            chunk_seconds,
            "--stage",
            "detect:every=2,classes=person",
            "--tracks",
            s(&json),
            "--mot",
            s(&mot),
        ],
        &models_dir(),
    );
    assert!(ok, "render failed: {err}");
    let report = serde_json::from_slice(&std::fs::read(&json).expect("tracks")).expect("JSON");
    (report, std::fs::read_to_string(&mot).expect("mot"), err)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_second_chunks_give_the_same_tracks_and_the_node_serves_them() {
    let Some(media) = shared_media() else {
        println!("SKIP one_second_chunks_give_the_same_tracks: ../shared/media is missing (the people are cut from the campus clip)");
        return;
    };
    let (clip, _, _) = walkers_clip(&media);
    let dir = tempfile::tempdir().expect("tempdir");
    let (one, one_mot, _) = render_tracks(&clip, dir.path(), "one", "0");
    let (many, many_mot, err) = render_tracks(&clip, dir.path(), "many", "1");
    assert!(err.contains("6 chunks"), "expected six 1 s chunks: {err}");
    let n = one["tracks"].as_array().map(|t| t.len()).unwrap_or(0);
    println!("{n} tracks in one chunk and in six");
    assert!(n >= 3, "{one}");
    assert_eq!(one, many, "tracks differ between one chunk and 1 s chunks");
    assert_eq!(one_mot, many_mot);
    assert!(one_mot.starts_with("1,"), "{one_mot}");
    // A real clip with hard cuts at its keyframes (so at 1 s chunk starts): tracks end at cuts,
    // and the cut before a chunk is measured on the frame before it, as in one piece.
    let bikes = media.join("video_street_bikes_4cuts.mp4");
    let whole = detect(&bikes, "every=5", &["--chunk-seconds", "0"]);
    let chunked = detect(&bikes, "every=5", &["--chunk-seconds", "1"]);
    assert_eq!(
        whole, chunked,
        "bikes: tracks differ between one chunk and 1 s chunks"
    );

    // Through the HTTP API: the same tracks as JSON and as MOT CSV.
    let node = Node::start(&dir.path().join("node"), &[]);
    let client = reqwest::Client::new();
    let id = common::upload(&client, &node, &clip, None).await;
    let r = client
        .post(node.url("/api/jobs"))
        .json(
            &serde_json::json!({"input": id, "chunk_seconds": 1, "output": {"preset": "ultrafast"},
            "stages": [{"kind": "detect", "every": 2, "classes": ["person"]}]}),
        )
        .send()
        .await
        .expect("create job");
    let body: Value = r.json().await.expect("job");
    let job = body["id"].as_str().expect("job id").to_owned();
    let start = std::time::Instant::now();
    loop {
        let j: Value = client
            .get(node.url(&format!("/api/jobs/{job}")))
            .send()
            .await
            .expect("job")
            .json()
            .await
            .expect("json");
        match j["state"].as_str() {
            Some("done") => break,
            Some("failed") | Some("cancelled") => panic!("job ended as {j}"),
            _ => {}
        }
        assert!(start.elapsed().as_secs() < 120, "job not done in time: {j}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let get = |fmt: &str| {
        client
            .get(node.url(&format!("/api/jobs/{job}/tracks/{fmt}")))
            .send()
    };
    let r = get("json").await.expect("tracks json");
    assert_eq!(r.status(), 200);
    let served: Value = r.json().await.expect("json");
    assert_eq!(served, one);
    let r = get("mot").await.expect("tracks mot");
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .is_ok_and(|t| t.starts_with("text/csv")));
    assert_eq!(r.text().await.expect("csv"), one_mot);
    assert_eq!(get("xml").await.expect("xml").status(), 404);
    // The report carries the section too; the OpenAPI document lists the route.
    let report: Value = client
        .get(node.url(&format!("/api/jobs/{job}/report")))
        .send()
        .await
        .expect("report")
        .json()
        .await
        .expect("json");
    assert_eq!(report["sections"]["tracks"], one);
    let doc: Value = client
        .get(node.url("/api/openapi.json"))
        .send()
        .await
        .expect("doc")
        .json()
        .await
        .expect("json");
    assert!(doc["paths"]["/api/jobs/{id}/tracks/{format}"]["get"].is_object());
    // A bad detect field is refused by name.
    let r = client
        .post(node.url("/api/jobs"))
        .json(&serde_json::json!({"input": id, "stages": [{"kind": "detect", "blur": "unicorn"}]}))
        .send()
        .await
        .expect("bad job");
    assert_eq!(r.status(), 422);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["field"], "stages.detect.blur", "{body}");
}
