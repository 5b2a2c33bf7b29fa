//! The farm's queue alone: simulated workers (no rendering) claim, heartbeat and finish chunks
//! against one store, one chunk per claim; prints claims per second and claim latency percentiles.
//! Usage: queue_bench URL [WORKERS=200] [CHUNKS=100000] [CONNECTIONS=50]. Run by bench/queue.sh,
//! which starts a PostgreSQL with its durability settings left on.

use kino_node::store::{ChunkPlan, Store};
use kino_shared::{JobSpec, OutputSpec};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const CHUNKS_PER_JOB: usize = 1000;
const LEASE_MS: i64 = 30_000;

fn arg(i: usize, default: usize) -> usize {
    std::env::args()
        .nth(i)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url = std::env::args().nth(1).ok_or_else(|| {
        anyhow::anyhow!("usage: queue_bench URL [WORKERS] [CHUNKS] [CONNECTIONS]")
    })?;
    let (workers, chunks, connections) = (arg(2, 200), arg(3, 100_000), arg(4, 50));
    let store = Store::connect_with(&url, connections as u32).await?;
    let jobs = chunks.div_ceil(CHUNKS_PER_JOB);
    let spec = JobSpec {
        input: "bench".into(),
        stages: Vec::new(),
        audio_stages: Vec::new(),
        scenes: None,
        auto_edit: None,
        keep: Vec::new(),
        analyse_only: false,
        output: OutputSpec::default(),
        chunk_seconds: 4.0,
    };
    let t = Instant::now();
    for j in 0..jobs {
        let id = format!("bench-{j:04}");
        store
            .create_job(&id, &id, &spec, "in.mp4", "out.mp4")
            .await?;
        let n = CHUNKS_PER_JOB.min(chunks - j * CHUNKS_PER_JOB);
        let plan: Vec<ChunkPlan> = (0..n)
            .map(|i| ChunkPlan {
                index: i as u32,
                start_pts: i as i64 * 100,
                end_pts: (i as i64 + 1) * 100,
                decode_from_pts: i as i64 * 100,
                frames: 100,
            })
            .collect();
        store.save_plan(&id, &plan).await?;
    }
    eprintln!(
        "queued {chunks} chunks in {jobs} jobs in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let finished = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let tasks: Vec<_> = (0..workers)
        .map(|w| {
            let (store, finished) = (store.clone(), finished.clone());
            tokio::spawn(async move {
                let owner = format!("w{w}:bench:{}:{w:08x}", std::process::id());
                let mut latencies = Vec::new();
                let mut last_beat = Instant::now();
                let mut job = w % jobs;
                let mut empty = 0;
                while empty < jobs {
                    let id = format!("bench-{job:04}");
                    let t = Instant::now();
                    let claimed = store.claim_chunk(&id, &owner, LEASE_MS).await?;
                    latencies.push(t.elapsed());
                    let Some(c) = claimed else {
                        empty += 1;
                        job = (job + 1) % jobs;
                        continue;
                    };
                    empty = 0;
                    if last_beat.elapsed() > Duration::from_secs(1) {
                        store.renew_leases(&owner, LEASE_MS).await?;
                        last_beat = Instant::now();
                    }
                    if store
                        .complete_chunk(&id, c.plan.index, &owner, c.lease_no)
                        .await?
                    {
                        finished.fetch_add(1, Ordering::Relaxed);
                    }
                }
                anyhow::Ok(latencies)
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    let secs = start.elapsed().as_secs_f64();
    let done = finished.load(Ordering::Relaxed);
    all.sort();
    let pct = |p: f64| all[((all.len() - 1) as f64 * p) as usize].as_secs_f64() * 1000.0;
    let rate = done as f64 / secs;
    println!("workers {workers}, pool {connections} connections, chunks {done} of {chunks}");
    println!(
        "claims/s {rate:.0} (finished chunks per second, claim + complete each)  claim latency ms: p50 {:.2}  p99 {:.2}  max {:.2}  ({} claim calls)",
        pct(0.5),
        pct(0.99),
        pct(1.0),
        all.len()
    );
    println!(
        "with 4 s chunks one database serves about {:.0} busy workers (e.g. {:.0} nodes of 8 workers)",
        rate * 4.0,
        rate * 4.0 / 8.0
    );
    anyhow::ensure!(done == chunks, "finished {done} of {chunks} chunks");
    Ok(())
}
