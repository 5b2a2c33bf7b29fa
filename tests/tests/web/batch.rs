//! The batch queue: three files queued at once, uploaded and rendered one after another; a reload
//! in the middle keeps the queue, and the files not yet sent are chosen again.

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_of_three_survives_a_reload_and_all_three_finish() {
    let _one = BROWSER.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let node = WebNode::start(&dir.path().join("data"), free_port());
    let clips: Vec<PathBuf> = (0..3)
        .map(|i| {
            let name = format!("batch-{i}.mp4");
            // The first is the longest: the reload comes while it renders.
            let src = format!("testsrc2=size=320x240:rate=25:duration={}", [10, 2, 3][i]);
            let made = generated(
                &name,
                &[
                    "-f",
                    "lavfi",
                    "-i",
                    &src,
                    "-c:v",
                    "libx264",
                    "-preset",
                    "ultrafast",
                    "-g",
                    "25",
                    "-pix_fmt",
                    "yuv420p",
                ],
            );
            // Named as a user's files are (the queue shows the names).
            let path = dir.path().join(&name);
            std::fs::copy(made, &path).unwrap();
            path
        })
        .collect();
    let b = Browser::open_editor(&node).await;
    b.client
        .find(Locator::Id("f-output-preset"))
        .await
        .unwrap()
        .select_by_value("ultrafast")
        .await
        .unwrap();
    let all: Vec<&str> = clips.iter().map(|c| s(c)).collect();
    let input = b.client.find(Locator::Id("batch-files")).await.unwrap();
    input.send_keys(&all.join("\n")).await.unwrap();
    b.until(
        "the first file's job",
        60,
        "const r = document.querySelector('.batch-rows li'); return r && r.dataset.job;",
    )
    .await;

    // Reload in the middle: the rows come back; files not sent yet are asked for again.
    b.client.refresh().await.unwrap();
    b.until_connected("the node after the reload").await;
    let rows = b
        .js(
            "return [...document.querySelectorAll('.batch-rows li')].map(r => [r.dataset.key, r.dataset.job])",
            vec![],
        )
        .await;
    let rows = rows.as_array().expect("rows").clone();
    assert_eq!(rows.len(), 3, "queue after the reload: {rows:?}");
    let again: Vec<&str> = rows
        .iter()
        .filter(|r| r[1].as_str().unwrap_or("").is_empty())
        .filter_map(|r| {
            let key = r[0].as_str()?;
            clips
                .iter()
                .find(|c| {
                    c.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| key.contains(n))
                })
                .map(|c| s(c))
        })
        .collect();
    // The batch renders one job at a time: the reload came while the first was rendering.
    assert!(
        !again.is_empty(),
        "every file was sent before the reload: {rows:?}"
    );
    // The notifications the browser shows, and the tab titles, are recorded as they happen.
    b.js(SPY, vec![]).await;
    let editor = b.client.window().await.unwrap();
    let other = b.client.new_window(true).await.unwrap();
    {
        assert!(b.text("#batch-missing").await.contains("choose them again"));
        let input = b.client.find(Locator::Id("batch-files")).await.unwrap();
        input.send_keys(&again.join("\n")).await.unwrap();
    }
    // The user looks at another tab while the files chosen again upload and render.
    b.client.switch_to_window(other.handle).await.unwrap();
    println!("after the reload, {} of 3 files chosen again", again.len());
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let jobs: Value = reqwest::get(node.url("/api/jobs"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let jobs = jobs.as_array().cloned().unwrap_or_default();
        if jobs.len() == 3 && jobs.iter().all(|j| j["state"] == "done") {
            break;
        }
        // All three done on the node, or the test fails here.
        assert!(Instant::now() < deadline, "jobs not done: {jobs:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    b.client.switch_to_window(editor).await.unwrap();
    b.until(
        "all three jobs done",
        240,
        "const r = [...document.querySelectorAll('.batch-rows li')]; return r.length === 3 && r.every(x => x.dataset.state === 'done');",
    )
    .await;
    let seen = b
        .js(
            "return [window.kinoShown, window.kinoTitles, document.title]",
            vec![],
        )
        .await;
    println!("notifications and titles: {seen}");
    let shown: Vec<&str> = seen[0]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    // Jobs that end after the reload are news; the one that ended before it, if any, is not.
    let news: Vec<&str> = shown
        .iter()
        .copied()
        .filter(|t| t.ends_with(" is ready"))
        .collect();
    assert!(
        news.len() >= again.len() && news.len() == shown.len(),
        "{seen}"
    );
    for t in &news {
        assert!(
            clips
                .iter()
                .any(|c| t.starts_with(c.file_name().unwrap().to_str().unwrap())),
            "{t}"
        );
    }
    let titles: Vec<&str> = seen[1]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    // Every file chosen again ended while another tab was looked at: each one counted.
    let most = titles
        .iter()
        .filter_map(|t| {
            t.strip_prefix('(')?
                .split_once(") Kino")?
                .0
                .parse::<usize>()
                .ok()
        })
        .max()
        .unwrap_or(0);
    assert!(most >= again.len(), "the title counted {most}: {seen}");
    assert_eq!(
        seen[2], "Kino — video enhancement",
        "the count goes when the page is looked at"
    );
    b.screenshot_at("batch-h", "batch-light.png").await;
    b.theme("dark").await;
    b.screenshot_at("batch-h", "batch-dark.png").await;
    b.close().await;
}

/// Records each notification the browser reports shown (the real `Notification`, observed), and
/// every tab title.
const SPY: &str = r#"
window.kinoShown = []; window.kinoTitles = [];
const Real = window.Notification;
window.Notification = class extends Real {
  constructor(title, opts) {
    super(title, opts);
    this.addEventListener('show', () => window.kinoShown.push(title));
  }
};
new MutationObserver(() => window.kinoTitles.push(document.title))
  .observe(document.querySelector('title'), { childList: true, characterData: true, subtree: true });
"#;
