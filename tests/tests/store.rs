//! The store's contract, run against both of its databases: the embedded SQLite file and a real
//! PostgreSQL server the test starts itself (Debian's package, `initdb` + `pg_ctl`). Under `CI=true`
//! a missing PostgreSQL fails the run instead of skipping.

use kino_node::pipeline::ChunkPlan;
use kino_node::store::{ChunkFailure, Reservation, Store};
use kino_shared::{ChunkState, JobSpec, JobState};
use kino_tests::Postgres;

fn plan(n: u32) -> Vec<ChunkPlan> {
    (0..n)
        .map(|i| ChunkPlan {
            index: i,
            start_pts: if i == 0 { i64::MIN } else { i as i64 * 10 },
            end_pts: if i + 1 == n {
                i64::MAX
            } else {
                i as i64 * 10 + 10
            },
            decode_from_pts: i as i64 * 10,
            frames: 10,
        })
        .collect()
}

fn spec() -> JobSpec {
    serde_json::from_str(r#"{"input":"x.mp4"}"#).unwrap()
}

/// A failure of a node alone on its store.
fn alone(error: &str, max_attempts: u32) -> ChunkFailure<'_> {
    ChunkFailure {
        error,
        node: "",
        max_attempts,
        alive_ms: 60_000,
    }
}

/// The farm's failure policy: a chunk fails the job once it has failed on three different live
/// nodes (fewer when fewer can run the job); a node with three failures in a job is barred from it.
async fn failures_by_node(store: &Store) {
    store
        .create_job("f1", "kf", &spec(), "x.mp4", "y.mp4")
        .await
        .unwrap();
    store.save_plan("f1", &plan(4)).await.unwrap();
    for n in ["na", "nb", "nc", "nd"] {
        store.register_node(n, "1", "{}", 60_000).await.unwrap();
    }
    // nd cannot run the job: a chunk needs only three failures by the others.
    store.decline("f1", "nd", "no encoder").await.unwrap();
    let fail = |node: &'static str| ChunkFailure {
        error: "disk full",
        node,
        max_attempts: 3,
        alive_ms: 60_000,
    };
    let mut states = vec![];
    for node in ["na", "nb", "nc"] {
        let c = store
            .claim_chunk("f1", node, 60_000)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(c.plan.index, 0);
        states.push(
            store
                .fail_chunk("f1", 0, node, c.lease_no, &fail(node))
                .await
                .unwrap(),
        );
    }
    assert_eq!(
        states,
        [ChunkState::Pending, ChunkState::Pending, ChunkState::Failed]
    );
    assert!(!store.node_barred("f1", "na").await.unwrap());
    for _ in 0..2 {
        let c = store
            .claim_chunk("f1", "na", 60_000)
            .await
            .unwrap()
            .unwrap();
        store
            .fail_chunk("f1", c.plan.index, "na", c.lease_no, &fail("na"))
            .await
            .unwrap();
    }
    assert!(store.node_barred("f1", "na").await.unwrap());
    assert_eq!(
        store.nodes_left_for("f1", 60_000).await.unwrap(),
        ["nb", "nc"],
        "barred and declining nodes are not left to take it"
    );
    let failures = store.failures("f1").await.unwrap();
    assert_eq!(failures.len(), 5);
    assert_eq!(failures[0].chunk, Some(0));
    // A retry starts afresh.
    store.retry_job("f1").await.unwrap();
    assert!(!store.node_barred("f1", "na").await.unwrap());
    assert!(store.failures("f1").await.unwrap().is_empty());
    assert_eq!(store.nodes_left_for("f1", 60_000).await.unwrap().len(), 4);
}

/// Everything the pipeline and the service rely on the store for.
async fn contract(store: &Store) {
    store
        .create_job("j1", "k", &spec(), "x.mp4", "y.mp4")
        .await
        .unwrap();
    store.save_plan("j1", &plan(3)).await.unwrap();
    store.save_plan("j1", &plan(3)).await.unwrap();
    let chunks = store.chunks("j1").await.unwrap();
    assert_eq!(chunks.len(), 3);
    assert_eq!(chunks[0].plan, plan(3)[0], "open ends round-trip");

    // Claims are exclusive; an expired lease is taken over; a lost lease cannot complete.
    let a = store
        .claim_chunk("j1", "h:1:a", 60_000)
        .await
        .unwrap()
        .unwrap();
    let b = store
        .claim_chunk("j1", "h:2:b", 60_000)
        .await
        .unwrap()
        .unwrap();
    assert_ne!(a.plan.index, b.plan.index);
    let c = store.claim_chunk("j1", "h:3:c", -1).await.unwrap().unwrap();
    let d = store
        .claim_chunk("j1", "h:4:d", 60_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(d.plan.index, c.plan.index);
    assert!(
        d.lease_no > c.lease_no,
        "every claim gets a new lease number"
    );
    assert!(
        !store
            .complete_chunk("j1", c.plan.index, "h:3:c", c.lease_no)
            .await
            .unwrap(),
        "lost lease must not complete"
    );
    assert!(
        !store
            .complete_chunk("j1", d.plan.index, "h:4:d", c.lease_no)
            .await
            .unwrap(),
        "an old lease number must not complete, even for the holder"
    );
    assert!(store
        .complete_chunk("j1", d.plan.index, "h:4:d", d.lease_no)
        .await
        .unwrap());
    assert_eq!(
        store
            .fail_chunk("j1", a.plan.index, "h:1:a", a.lease_no, &alone("boom", 1))
            .await
            .unwrap(),
        ChunkState::Failed
    );
    let job = store.job("j1").await.unwrap();
    assert_eq!(
        (job.chunks_total, job.chunks_done, job.frames_done),
        (3, 1, 10)
    );
    assert_eq!(
        store.find_resumable("k").await.unwrap().as_deref(),
        Some("j1")
    );
    let statuses = store.chunk_statuses("j1").await.unwrap();
    assert_eq!(statuses[0].start_pts, None);
    assert_eq!(statuses[2].end_pts, None);

    // States, retry, reports, analysis, counts.
    store
        .set_job_state("j1", JobState::Failed, Some("x"))
        .await
        .unwrap();
    store.retry_job("j1").await.unwrap();
    let job = store.job("j1").await.unwrap();
    assert_eq!((job.state, job.error.as_deref()), (JobState::Queued, None));
    assert_eq!(
        store.unfinished_jobs().await.unwrap(),
        vec!["j1".to_owned()]
    );
    assert_eq!(store.section::<Marks>("j1").await.unwrap(), None);
    store.save_section("j1", &Marks(vec![1])).await.unwrap();
    store.save_section("j1", &Marks(vec![2])).await.unwrap();
    assert_eq!(
        store.section::<Marks>("j1").await.unwrap(),
        Some(Marks(vec![2]))
    );
    assert_eq!(
        store.report_sections("j1").await.unwrap(),
        vec![("marks".to_owned(), serde_json::json!([2]))]
    );
    assert_eq!(
        store.claim_analysis("j1", "h:1:a", 60_000).await.unwrap(),
        Some(0)
    );
    assert_eq!(
        store.claim_analysis("j1", "h:2:b", 60_000).await.unwrap(),
        Some(1),
        "a claimed analysis is not claimed again"
    );
    store.save_analysis("j1", 1, "{}", "h:2:b").await.unwrap();
    store.save_analysis("j1", 1, "{}", "h:2:b").await.unwrap();
    assert_eq!(
        store.claim_analysis("j1", "h:3:c", 60_000).await.unwrap(),
        Some(2),
        "an analysed chunk is not claimed"
    );
    assert_eq!(store.analyses("j1").await.unwrap().len(), 1);
    assert_eq!(
        store.job_counts().await.unwrap(),
        vec![("queued".to_owned(), 1)]
    );

    // Uploads.
    store.create_upload("u1", 100, "filename x").await.unwrap();
    store.complete_upload("u1", "abc").await.unwrap();
    let u = store.upload("u1").await.unwrap().unwrap();
    assert!(u.complete && u.sha256.as_deref() == Some("abc") && u.length == 100);
    assert!(store.delete_upload("u1").await.unwrap());

    // Idempotency keys.
    assert_eq!(
        store
            .reserve_idempotency_key("key", "h", "j9")
            .await
            .unwrap(),
        Reservation::New
    );
    assert!(matches!(
        store.reserve_idempotency_key("key", "h2", "j10").await.unwrap(),
        Reservation::Earlier { job_id, .. } if job_id == "j9"
    ));

    // The newest job first.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    store
        .create_job("j2", "k2", &spec(), "x.mp4", "z.mp4")
        .await
        .unwrap();
    let list = store.list_jobs(10).await.unwrap();
    let ids: Vec<&str> = list.iter().map(|j| j.id.as_str()).collect();
    assert_eq!(ids, ["j2", "j1"]);
    assert_eq!(list[1].chunks_total, 3);
}

#[tokio::test]
async fn the_store_contract_holds_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sqlite(dir.path()).await.unwrap();
    contract(&store).await;
    failures_by_node(&store).await;
    // Opening again (a restart) keeps everything and runs no migration twice.
    drop(store);
    let store = Store::open_sqlite(dir.path()).await.unwrap();
    assert_eq!(store.list_jobs(10).await.unwrap().len(), 3);
}

#[tokio::test]
async fn the_store_contract_holds_on_postgresql() {
    let Some(pg) = Postgres::start() else { return };
    let url = pg.database("contract");
    let store = Store::connect(&url).await.unwrap();
    contract(&store).await;
    failures_by_node(&store).await;
    drop(store);
    let store = Store::connect(&url).await.unwrap();
    assert_eq!(store.list_jobs(10).await.unwrap().len(), 3);
}

#[tokio::test]
async fn listing_jobs_costs_the_same_statements_for_ten_jobs_as_for_a_thousand() {
    let Some(pg) = Postgres::start() else { return };
    let url = pg.database("listing");
    pg.psql("listing", "CREATE EXTENSION pg_stat_statements");
    let store = Store::connect(&url).await.unwrap();
    for i in 0..1000 {
        let id = format!("job{i:04}");
        store
            .create_job(&id, &id, &spec(), "x.mp4", "y.mp4")
            .await
            .unwrap();
        if i % 100 == 0 {
            store.save_plan(&id, &plan(4)).await.unwrap();
        }
    }
    // Statements a call costs, as pg_stat_statements counts them.
    let reset = || pg.psql("listing", "SELECT pg_stat_statements_reset()");
    let counted = || -> i64 {
        pg.psql(
            "listing",
            "SELECT COALESCE(SUM(calls), 0) FROM pg_stat_statements
             WHERE query NOT ILIKE '%pg_stat_statements%'",
        )
        .parse()
        .unwrap()
    };
    let statements = |limit: i64| {
        let store = store.clone();
        async move {
            reset();
            let jobs = store.list_jobs(limit).await.unwrap();
            (jobs, counted())
        }
    };
    let (few, n_few) = statements(10).await;
    // The event stream's snapshot of every job with its chunks: constant too.
    let snapshot = |limit: i64| {
        let store = store.clone();
        async move {
            reset();
            let jobs = store.jobs_with_chunks(limit).await.unwrap();
            (jobs, counted())
        }
    };
    let (snap_few, s_few) = snapshot(10).await;
    let (snap_all, s_all) = snapshot(5000).await;
    assert_eq!((snap_few.len(), snap_all.len()), (10, 1000));
    assert_eq!(
        snap_all.iter().map(|(_, c)| c.len()).sum::<usize>(),
        40,
        "every planned job's chunks"
    );
    assert_eq!(s_few, s_all, "snapshot statements for 10 jobs vs 1000");
    let (all, n_all) = statements(5000).await;
    assert_eq!((few.len(), all.len()), (10, 1000));
    assert!(all.iter().filter(|j| j.chunks_total == 4).count() == 10);
    assert!(n_few >= 1, "the listing was counted");
    assert_eq!(n_few, n_all, "statements for 10 jobs vs 1000");
}

/// A report section for the store's contract.
#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct Marks(Vec<u32>);

impl kino_node::store::ReportSection for Marks {
    const NAME: &'static str = "marks";
}
