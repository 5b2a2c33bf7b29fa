//! Chunked rendering: chunks decode like the whole, give identical frames, and a killed render
//! resumes without redoing finished chunks.

use super::*;

/// The handheld clip comes from an old x264 (4:4:4): FFmpeg decodes it right only after reading the
/// encoder's version from the first frame's SEI, so chunks that start at a later keyframe used to
/// decode as grey blocks.
#[test]
fn chunks_of_an_old_x264_stream_decode_like_the_whole() {
    let input = medium("video_cockatoo_handheld_shaky.mp4");
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("chunked.mkv"), dir.path().join("whole.mkv"));
    render(
        &input,
        &a,
        dir.path(),
        &["--crf", "0", "--chunk-seconds", "2", "--audio", "none"],
    );
    render(
        &input,
        &b,
        dir.path(),
        &["--crf", "0", "--chunk-seconds", "0", "--audio", "none"],
    );
    let (ma, mb) = (frame_md5s(&a), frame_md5s(&b));
    assert_eq!(ma.len() as u64, count_frames(&input));
    assert_eq!(ma, mb, "chunked and whole renders differ");
}

#[test]
fn chunked_and_unchunked_renders_give_identical_frames() {
    let input = generated(
        "seams.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=25:duration=8",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "25",
            "-bf",
            "3",
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    let stages = [
        "--stage",
        "color:saturation=1.4,contrast=1.1,gamma=1.2",
        "--stage",
        "scale:width=480,filter=lanczos3",
        "--crf",
        "0",
    ];
    let (a, b) = (dir.path().join("chunked.mp4"), dir.path().join("whole.mp4"));
    let mut args = stages.to_vec();
    args.extend(["--chunk-seconds", "1"]);
    render(&input, &a, dir.path(), &args);
    let mut args = stages.to_vec();
    args.extend(["--chunk-seconds", "0"]);
    render(&input, &b, dir.path(), &args);
    let (ma, mb) = (frame_md5s(&a), frame_md5s(&b));
    assert_eq!(ma.len(), 200);
    assert_eq!(ma, mb, "chunked and whole renders differ");
    let size = ffprobe_json(
        &a,
        &[
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=width,height",
        ],
    );
    assert_eq!(
        (
            size["streams"][0]["width"].as_u64(),
            size["streams"][0]["height"].as_u64()
        ),
        (Some(480), Some(360))
    );
    // The stages really changed the picture.
    assert_ne!(frame_md5s(&input)[0], ma[0]);
}

#[test]
fn killed_render_resumes_without_redoing_finished_chunks() {
    let input = generated(
        "resume.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=640x360:rate=25:duration=24",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "25",
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = dir.path().join("out.mp4");
    let args = [
        "render",
        s(&input),
        "-o",
        s(&out),
        "--data-dir",
        s(&data),
        "--preset",
        "medium",
        "--chunk-seconds",
        "2",
        "--jobs",
        "1",
        "--events",
    ];

    // First run: kill -9 once a chunk has finished.
    let done_before: Vec<u64> = kill_when(&args, |ev| ev["type"] == "chunk_done")
        .iter()
        .filter(|ev| ev["type"] == "chunk_done")
        .map(|ev| ev["chunk"].as_u64().unwrap())
        .collect();
    assert!(!done_before.is_empty());
    assert!(
        !out.exists(),
        "no output may appear before the job completes"
    );

    // Second run with the same arguments resumes.
    let events = events_of(&args);
    let planned = events
        .iter()
        .find(|e| e["type"] == "planned")
        .expect("planned event");
    assert!(
        planned["resumed"].as_u64().unwrap() >= done_before.len() as u64,
        "{planned}"
    );
    let claimed: Vec<u64> = events
        .iter()
        .filter(|e| e["type"] == "chunk_claimed")
        .map(|e| e["chunk"].as_u64().unwrap())
        .collect();
    for c in &done_before {
        assert!(!claimed.contains(c), "chunk {c} was rendered again");
    }
    let chunks = planned["chunks"].as_u64().unwrap();
    assert!(
        !claimed.is_empty(),
        "the kill must land before the job finished"
    );
    assert_eq!(
        claimed.len() as u64 + planned["resumed"].as_u64().unwrap(),
        chunks
    );

    // Every chunk was rendered to completion exactly once, as the store records.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let rows = rt.block_on(async {
        let store = kino_node::store::Store::open_sqlite(&data).await.unwrap();
        let id = events[0]["job"].as_str().unwrap().to_owned();
        store.chunks(&id).await.unwrap()
    });
    assert_eq!(rows.len() as u64, chunks);
    assert!(rows.iter().all(|r| r.renders == 1), "{rows:?}");

    // Same frames as an uninterrupted run.
    let clean = dir.path().join("clean.mp4");
    let out2 = kino(&[
        "render",
        s(&input),
        "-o",
        s(&clean),
        "--data-dir",
        s(&data),
        "--preset",
        "medium",
        "--chunk-seconds",
        "2",
        "--jobs",
        "1",
    ]);
    assert!(out2.status.success());
    assert_eq!(frame_md5s(&out), frame_md5s(&clean));
    assert_same_timing(&input, &out);
}
