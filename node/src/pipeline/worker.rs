//! The render phase: a bounded pool of workers claims pending chunks under leases (renewed beside
//! them), renders each to its own file, and records it done; a ticker reports frames, speed and ETA.
//! Chunks other processes hold are waited for, and taken over when their lease expires.

use super::context::{blocking, JobCtx, JobError};
use super::layout::chunk_path;
use super::planning::cut_away;
use super::remote::RemoteInput;
use super::render;
use super::resources::Resources;
use super::ChunkPlan;
use super::JobOptions;
use crate::analysis::Analysis;
use crate::edit::timeline::Timeline;
use crate::enhance::interp::Clock;
use crate::media::interlace::Deinterlace;
use crate::media::MediaError;
use crate::store::{ChunkFailure, Store};
use kino_shared::{ChunkState, JobSpec, JobState, PartTime, ProgressEvent};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the render phase renders: the job's spec, its analysis and cut, and where chunks go.
pub struct RenderPlan {
    pub opts: JobOptions,
    pub res: Resources,
    pub spec: JobSpec,
    pub analysis: Option<Arc<Analysis>>,
    pub timeline: Option<Arc<Timeline>>,
    pub deinterlace: Option<Deinterlace>,
    /// The output's clock, when the job interpolates.
    pub clock: Option<Clock>,
    pub input: PathBuf,
    /// The job's chunk folder.
    pub dir: PathBuf,
    /// Frames of the chunks already done (a resumed job), and of all chunks, for progress.
    pub frames_before: u64,
    pub frames_total: u64,
    /// Set when `input` is a local copy of a file another node holds: each chunk's bytes are
    /// fetched before it renders, and its file is sent back when done.
    pub remote: Option<Arc<RemoteInput>>,
}

/// How the render phase ended.
#[derive(Debug, PartialEq)]
pub enum Rendered {
    /// Every chunk is done.
    All,
    Cancelled,
    /// A chunk failed its last attempt: the job's failure reason.
    Failed(String),
    /// This node failed too often in this job and leaves it to the others (in a farm).
    Barred,
}

/// Renders the job's pending chunks on `plan.res.workers` workers until all are done, one fails for
/// good, or the job is cancelled.
pub async fn render_pending(
    job: &JobCtx,
    owner: &str,
    plan: RenderPlan,
    cancel: Arc<AtomicBool>,
) -> Result<Rendered, JobError> {
    let owner = owner.to_owned();
    let plan = Arc::new(plan);
    let frames_now = Arc::new(AtomicU64::new(0));
    let ticker = spawn_ticker(
        job,
        frames_now.clone(),
        plan.frames_before,
        plan.frames_total,
    );
    let shared = Arc::new(Shared {
        job: job.clone(),
        owner: owner.clone(),
        plan: plan.clone(),
        frames_now,
        failed: Default::default(),
        barred: AtomicBool::new(false),
        stop: AtomicBool::new(false),
        cancel,
        changed: tokio::sync::Notify::new(),
    });
    let workers: Vec<_> = (0..plan.res.workers)
        .map(|k| tokio::spawn(worker(shared.clone(), k + 1)))
        .collect();
    let mut worker_error = None;
    for w in workers {
        match w.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => worker_error = Some(e),
            Err(e) => worker_error = Some(JobError::Internal(e.to_string())),
        }
    }
    ticker.abort();
    let drained = (plan.opts.drain.as_ref()).is_some_and(|d| d.load(Ordering::Relaxed));
    if shared.cancel.load(Ordering::Relaxed) || drained {
        job.store.release_leases(&owner).await?;
        return Ok(Rendered::Cancelled);
    }
    if let Some(e) = worker_error {
        job.store.release_leases(&owner).await?;
        return Err(e);
    }
    let failure = shared.failed.lock().ok().and_then(|f| f.clone());
    if failure.is_none() && shared.barred.load(Ordering::Relaxed) {
        job.store.release_leases(&owner).await?;
        return Ok(Rendered::Barred);
    }
    Ok(failure.map_or(Rendered::All, Rendered::Failed))
}

/// Stops a background task when dropped.
pub struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Renews `owner`'s leases every third of their length, so its live workers keep their chunks (and
/// its assembly), and raises `cancel` when the job was cancelled or failed elsewhere (another node,
/// another request).
pub fn spawn_lease_renewal(
    job: &JobCtx,
    owner: &str,
    lease_ms: i64,
    cancel: Arc<AtomicBool>,
) -> AbortOnDrop {
    let (job, owner) = (job.clone(), owner.to_owned());
    AbortOnDrop(tokio::spawn(async move {
        let mut t = tokio::time::interval(Duration::from_millis((lease_ms / 3).max(100) as u64));
        loop {
            t.tick().await;
            let _ = job.store.renew_leases(&owner, lease_ms).await;
            if let Ok(state) = job.store.job_state(&job.job).await {
                if matches!(state, JobState::Cancelled | JobState::Failed) {
                    cancel.store(true, Ordering::Relaxed);
                }
            }
        }
    }))
}

/// Reports frames done, speed (over the last 5 s) and ETA four times a second.
fn spawn_ticker(
    job: &JobCtx,
    frames_now: Arc<AtomicU64>,
    frames_before: u64,
    frames_total: u64,
) -> tokio::task::JoinHandle<()> {
    let job = job.clone();
    tokio::spawn(async move {
        let start = Instant::now();
        let mut window: std::collections::VecDeque<(Instant, u64)> = Default::default();
        let mut t = tokio::time::interval(Duration::from_millis(250));
        loop {
            t.tick().await;
            let now = Instant::now();
            let done = frames_now.load(Ordering::Relaxed);
            window.push_back((now, done));
            while window.len() > 2 && now.duration_since(window[0].0) > Duration::from_secs(5) {
                window.pop_front();
            }
            let (t0, f0) = window[0];
            let secs = now.duration_since(t0).as_secs_f64();
            let fps = if secs > 0.2 {
                (done - f0) as f64 / secs
            } else {
                done as f64 / start.elapsed().as_secs_f64().max(1e-3)
            };
            let done_all = frames_before + done;
            let left = frames_total.saturating_sub(done_all);
            job.send(ProgressEvent::Frames {
                job: job.job.clone(),
                frames_done: done_all,
                frames_total,
                fps,
                eta_seconds: (fps > 0.0).then(|| left as f64 / fps),
            });
        }
    })
}

/// Wakes the job's waiting workers when dropped (whichever way a chunk's handling ends).
struct WakeOnDrop<'a>(&'a tokio::sync::Notify);

impl Drop for WakeOnDrop<'_> {
    fn drop(&mut self) {
        self.0.notify_waiters();
    }
}

/// What the workers of one job share.
struct Shared {
    job: JobCtx,
    owner: String,
    plan: Arc<RenderPlan>,
    /// Frames rendered by this run (a failed chunk's frames are taken back).
    frames_now: Arc<AtomicU64>,
    failed: std::sync::Mutex<Option<String>>,
    /// Set when this node has failed too often in the job (a farm's policy).
    barred: AtomicBool,
    /// Set when a chunk fails for good: the other workers stop claiming.
    stop: AtomicBool,
    cancel: Arc<AtomicBool>,
    /// Woken whenever a worker of this job finishes with a chunk (done or failed).
    changed: tokio::sync::Notify,
}

impl Shared {
    fn stopping(&self) -> bool {
        let draining = (self.plan.opts.drain.as_ref()).is_some_and(|d| d.load(Ordering::Relaxed));
        draining || self.stop.load(Ordering::Relaxed) || self.cancel.load(Ordering::Relaxed)
    }

    /// Records chunk `index` as done (if this worker still holds lease `lease_no`) and announces it.
    async fn complete(
        &self,
        index: u32,
        lease_no: u64,
        frames: u64,
        timings: Vec<PartTime>,
    ) -> Result<(), JobError> {
        let (store, job) = (&self.job.store, &self.job.job);
        if store
            .complete_chunk(job, index, &self.owner, lease_no)
            .await?
        {
            self.job.send(ProgressEvent::ChunkDone {
                job: job.clone(),
                chunk: index,
                frames,
                timings,
            });
        }
        Ok(())
    }
}

/// Claims and renders chunks until none is left (waiting for chunks other processes hold).
/// Worker `k` (from 1) of this run; its lane in the 3D view is `node#k`.
async fn worker(s: Arc<Shared>, k: usize) -> Result<(), JobError> {
    let (store, job) = (&s.job.store, s.job.job.as_str());
    let lane = match s.plan.opts.node.as_str() {
        "" => format!("#{k}"),
        node => format!("{node}#{k}"),
    };
    loop {
        if s.stopping() {
            return Ok(());
        }
        let permit = match &s.plan.opts.slots {
            Some(slots) => Some(
                slots
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(|e| JobError::Internal(e.to_string()))?,
            ),
            None => None,
        };
        if s.stopping() {
            return Ok(());
        }
        let node = s.plan.opts.node.as_str();
        if !node.is_empty() && store.node_barred(job, node).await? {
            s.barred.store(true, Ordering::Relaxed);
            s.stop.store(true, Ordering::Relaxed);
            return Ok(());
        }
        // Registered before the claim, so a chunk finishing in between still wakes this worker.
        let changed = s.changed.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        let Some(chunk) = store
            .claim_chunk_in(job, &s.owner, Some(&lane), s.plan.opts.lease_ms)
            .await?
        else {
            let all = store.chunks(job).await?;
            if all
                .iter()
                .all(|c| matches!(c.state, ChunkState::Done | ChunkState::Failed))
            {
                return Ok(());
            }
            // Someone else holds a lease: wait for it to finish here, or (another process's) to
            // finish or expire.
            drop(permit);
            tokio::select! {
                _ = &mut changed => {}
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
            continue;
        };
        let index = chunk.plan.index;
        let _wake = WakeOnDrop(&s.changed);
        if cut_away(s.plan.timeline.as_deref(), &chunk.plan) {
            // Auto-edit removes all of it: done, with nothing to render.
            s.frames_now.fetch_add(chunk.plan.frames, Ordering::Relaxed);
            s.complete(index, chunk.lease_no, 0, Vec::new()).await?;
            continue;
        }
        s.job.send(ProgressEvent::ChunkClaimed {
            job: job.to_owned(),
            chunk: index,
            worker: s.owner.clone(),
            lane: Some(lane.clone()),
        });
        let counted = Arc::new(AtomicU64::new(0));
        match render_one(&s, &chunk.plan, chunk.lease_no, counted.clone()).await? {
            Ok(outcome) => {
                if outcome.frames + outcome.cut != chunk.plan.frames || outcome.dropped > 0 {
                    s.job.warn(format!(
                        "chunk {index}: encoded {} frames, planned {} ({} dropped)",
                        outcome.frames, chunk.plan.frames, outcome.dropped
                    ));
                }
                s.complete(index, chunk.lease_no, outcome.frames, outcome.timings)
                    .await?;
            }
            Err(e) => {
                s.frames_now
                    .fetch_sub(counted.load(Ordering::Relaxed), Ordering::Relaxed);
                if matches!(e, render::RenderError::Cancelled) {
                    return Ok(());
                }
                let msg = e.to_string();
                let opts = &s.plan.opts;
                let failure = ChunkFailure {
                    error: &msg,
                    node: &opts.node,
                    max_attempts: opts.max_attempts,
                    alive_ms: 3 * opts.lease_ms,
                };
                let state = store
                    .fail_chunk(job, index, &s.owner, chunk.lease_no, &failure)
                    .await?;
                s.job.send(ProgressEvent::ChunkFailed {
                    job: job.to_owned(),
                    chunk: index,
                    attempt: chunk.attempts,
                    error: msg.clone(),
                });
                if state == ChunkState::Failed {
                    let reason = if opts.node.is_empty() {
                        format!(
                            "chunk {index} failed after {} attempts: {msg}",
                            chunk.attempts
                        )
                    } else {
                        failed_on_nodes(store, job, index).await?
                    };
                    if let Ok(mut f) = s.failed.lock() {
                        f.get_or_insert(reason);
                    }
                    s.stop.store(true, Ordering::Relaxed);
                    return Ok(());
                }
                tokio::time::sleep(Duration::from_millis(200 * chunk.attempts as u64)).await;
            }
        }
    }
}

/// Why a chunk failed the job in a farm: the nodes it failed on, and what each said last.
async fn failed_on_nodes(store: &Store, job: &str, index: u32) -> Result<String, JobError> {
    let mut last: Vec<(String, String)> = Vec::new();
    for f in store.failures(job).await? {
        if f.chunk != Some(index) {
            continue;
        }
        last.retain(|(n, _)| *n != f.node);
        last.push((f.node, f.error));
    }
    let names: Vec<&str> = last.iter().map(|(n, _)| n.as_str()).collect();
    let said: Vec<String> = last.iter().map(|(n, e)| format!("{n}: {e}")).collect();
    Ok(format!(
        "chunk {index} failed on {} node{} ({}): {}",
        names.len(),
        if names.len() == 1 { "" } else { "s" },
        names.join(", "),
        said.join("; ")
    ))
}

/// Renders one chunk to a part file, makes it durable and renames it into place (so a file under
/// the chunk's name is always whole). Frames are counted into `counted` as they are encoded. From
/// a remote input, the chunk's bytes are fetched first (and any the decoder finds missing, then it
/// renders again), and the file is sent back before the chunk is recorded done.
async fn render_one(
    s: &Arc<Shared>,
    chunk: &ChunkPlan,
    lease_no: u64,
    counted: Arc<AtomicU64>,
) -> Result<Result<render::ChunkOutcome, render::RenderError>, JobError> {
    let index = chunk.index;
    let part = s
        .plan
        .dir
        .join(format!("chunk-{index:05}-{lease_no}.part.mp4"));
    let done_path = chunk_path(&s.plan.dir, index, lease_no);
    let remote = s.plan.remote.clone();
    if let Some(r) = &remote {
        r.prepare(chunk).await?;
    }
    let mut tries = 0;
    let result = loop {
        let result = render_to(s, chunk, &part, counted.clone()).await?;
        match (&result, &remote) {
            (Err(render::RenderError::Media(MediaError::Incomplete { start, end })), Some(r))
                if tries <= MISSING_TRIES =>
            {
                tracing::debug!(
                    chunk = index,
                    start,
                    end,
                    "fetching bytes the decoder reached"
                );
                s.frames_now
                    .fetch_sub(counted.swap(0, Ordering::Relaxed), Ordering::Relaxed);
                r.fetch_missing(*start, *end, tries == MISSING_TRIES)
                    .await?;
                tries += 1;
            }
            _ => break result,
        }
    };
    match &result {
        Ok(_) => {
            // What the render measured of its encode travels with the chunk.
            let _ = std::fs::rename(
                render::measures_file(&part),
                render::measures_file(&done_path),
            );
            std::fs::rename(&part, &done_path)
                .map_err(MediaError::io(done_path.display().to_string()))?
        }
        Err(_) => {
            let _ = std::fs::remove_file(&part);
        }
    }
    if let (Ok(_), Some(r)) = (&result, &remote) {
        r.send(index, lease_no, &done_path).await?;
        let _ = std::fs::remove_file(&done_path);
        let _ = std::fs::remove_file(render::measures_file(&done_path));
    }
    Ok(result)
}

/// Times a remote chunk is rendered again after fetching what its decoder found missing; the last
/// time fetches the whole file.
const MISSING_TRIES: u32 = 16;

/// One rendering of `chunk` into `part`, synced to disk when it succeeds.
async fn render_to(
    s: &Arc<Shared>,
    chunk: &ChunkPlan,
    part: &std::path::Path,
    counted: Arc<AtomicU64>,
) -> Result<Result<render::ChunkOutcome, render::RenderError>, JobError> {
    let (shared, chunk, tmp) = (s.clone(), chunk.clone(), part.to_owned());
    blocking(move || {
        let p = &shared.plan;
        let on_frame = |n: u64| {
            shared.frames_now.fetch_add(n, Ordering::Relaxed);
            counted.fetch_add(n, Ordering::Relaxed);
        };
        let job = render::ChunkJob {
            input: &p.input,
            spec: &p.spec,
            res: p.res,
            analysis: p.analysis.clone(),
            timeline: p.timeline.clone(),
            deinterlace: p.deinterlace,
            guard: p.remote.as_ref().map(|r| r.guard()),
            clock: p.clock,
        };
        // The kernels' row parallelism stays inside this worker's share of the cores: with one
        // thread it runs in line, instead of handing each row pass to the shared pool and
        // sleeping while it runs (measured: 6.7 s of 17 s CPU in futex wake-ups, sharpen 1080p).
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(p.res.threads.max(1))
            .thread_name(|i| format!("kino-chunk-{i}"))
            .build();
        let render = || render::render_chunk(&job, &chunk, &tmp, &on_frame, &shared.cancel);
        let r = match &pool {
            Ok(pool) => pool.install(render),
            Err(e) => {
                tracing::warn!("no thread pool for the chunk ({e}); using the shared one");
                render()
            }
        };
        // Durable before it is recorded as done.
        r.and_then(|o| {
            std::fs::File::open(&tmp)
                .and_then(|f| f.sync_all())
                .map_err(MediaError::io(tmp.display().to_string()))?;
            Ok(o)
        })
    })
    .await
}
