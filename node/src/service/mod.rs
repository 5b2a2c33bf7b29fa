//! The node's job service: a scheduler that runs queued (and interrupted) jobs from the store, a few at
//! a time, on one shared pool of chunk slots; cancellation; and the metrics fed by progress events.

pub mod analytics;
pub mod bundle;
pub mod janitor;
pub mod jobs;
mod metrics;
mod relay;
pub mod remote;
mod sampler;
pub use metrics::{text_format as metrics_text, Metrics};
pub use sampler::Sampler;

pub use jobs::{admit, Admitted, ServiceError};

use crate::pipeline::job::{JobError, JobOptions, JobOutcome};
use crate::pipeline::remote_job::run_remote;
use crate::pipeline::run_job;
use crate::store::Store;
use kino_shared::{JobState, JobStatus, ProgressEvent};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, Notify, Semaphore};

/// How the service runs jobs.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub data_dir: PathBuf,
    /// Jobs rendering at once.
    pub max_jobs: usize,
    /// Chunk slots shared by all jobs.
    pub chunk_slots: usize,
    /// Memory budget of one job's chunk workers.
    pub memory_bytes: u64,
    pub max_attempts: u32,
    pub lease_ms: i64,
    /// Milliseconds between resource readings (0: none; see `sampler`).
    pub sample_ms: u64,
    /// This node's name in a farm (empty when alone on its store): registered and heartbeating.
    pub node: String,
    /// The farm's link between nodes (see `remote`): this node's data folder id, the node to
    /// fetch inputs from when not the one that has them, and the token to show it.
    pub farm_link: Option<remote::FarmLink>,
    /// Storage measuring and retention (see `janitor`).
    pub janitor: janitor::JanitorConfig,
}

pub struct Service {
    pub store: Store,
    /// What clients hear: this node's events, and in a farm the others' (see `relay`).
    pub events: broadcast::Sender<ProgressEvent>,
    /// What this node's runs and requests announce, before `forward` passes it on.
    own: broadcast::Sender<ProgressEvent>,
    /// In a farm, the jobs the relay told have ended.
    told_ended: Arc<relay::Ended>,
    pub metrics: Arc<Metrics>,
    pub config: ServiceConfig,
    slots: Arc<Semaphore>,
    running: Mutex<HashMap<String, Arc<AtomicBool>>>,
    wake: Notify,
    /// Signalled whenever a job's run ends, for callers that wait for a cancelled run to stop.
    ended: Notify,
    /// Set when the node drains: no new runs, no new chunks; chunks in hand are finished.
    draining: Arc<AtomicBool>,
    /// Signalled when the node is told to drain.
    drain_asked: Notify,
    /// Farm jobs checked against what this node has (see `runnable_here`).
    runnable: Mutex<HashMap<String, bool>>,
    /// The data folder's last measure and the janitor's removals.
    storage: Mutex<janitor::StorageRecord>,
}

/// How long a retry waits for a cancelled job's workers to stop (they stop within a frame, but a
/// frame of a big picture on a busy machine can take seconds).
const STOP_WAIT: Duration = Duration::from_secs(30);

impl Service {
    pub fn new(store: Store, config: ServiceConfig) -> Arc<Self> {
        let (events, _) = broadcast::channel(8192);
        let (own, _) = broadcast::channel(8192);
        let svc = Arc::new(Service {
            store,
            events,
            own,
            told_ended: Arc::default(),
            metrics: Arc::new(Metrics::new()),
            slots: Arc::new(Semaphore::new(config.chunk_slots.max(1))),
            config,
            running: Mutex::new(HashMap::new()),
            wake: Notify::new(),
            ended: Notify::new(),
            draining: Arc::default(),
            drain_asked: Notify::new(),
            runnable: Mutex::default(),
            storage: Mutex::default(),
        });
        svc.clone().spawn_metrics();
        if svc.config.sample_ms > 0 {
            svc.clone().spawn_sampler();
        }
        svc.clone().spawn_janitor();
        svc.clone().spawn_forward();
        svc.clone().spawn_scheduler();
        if svc.farm() {
            svc.clone().spawn_heartbeat();
            svc.clone().spawn_notify();
            let (store, node) = (svc.store.clone(), svc.config.node.clone());
            let wake = svc.clone();
            let poke = Arc::new(Notify::new());
            let heard = poke.clone();
            let (events, ended) = (svc.events.clone(), svc.told_ended.clone());
            tokio::spawn(relay::relay(store, node, events, poke, ended));
            // A job changed somewhere in the farm: the scheduler looks at once.
            tokio::spawn(async move {
                loop {
                    heard.notified().await;
                    wake.poke();
                }
            });
        }
        svc
    }

    /// Tells the farm when this node changed something (its runs and requests announce every change
    /// they commit): one notification per burst, at most every 50 ms.
    fn spawn_notify(self: Arc<Self>) {
        let mut rx = self.own.subscribe();
        tokio::spawn(async move {
            loop {
                match rx.recv().await {
                    Ok(
                        ProgressEvent::Frames { .. }
                        | ProgressEvent::Warning { .. }
                        | ProgressEvent::Note { .. },
                    ) => continue,
                    Err(broadcast::error::RecvError::Closed) => return,
                    _ => {}
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
                // Whatever came meanwhile is covered by this one.
                while let Ok(_) | Err(broadcast::error::TryRecvError::Lagged(_)) = rx.try_recv() {}
                if let Err(e) = self.store.notify_changed().await {
                    tracing::debug!("notifying the farm: {e}");
                }
            }
        });
    }

    /// Passes this node's events on to its clients. In a farm, job states (and a job's end) come
    /// from the store through the relay for every job, this node's included, so that they reach
    /// clients in the order the farm made them; nothing of a job is passed on after its end.
    fn spawn_forward(self: Arc<Self>) {
        let mut rx = self.own.subscribe();
        tokio::spawn(async move {
            loop {
                match rx.recv().await {
                    Ok(
                        ProgressEvent::JobState { .. }
                        | ProgressEvent::Done { .. }
                        | ProgressEvent::Failed { .. },
                    ) if self.farm() => {}
                    Ok(e) if self.farm() && self.told_ended.contains(e.job()) => {}
                    Ok(e) => {
                        let _ = self.events.send(e);
                    }
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(
                            "{n} events were not passed on (clients resync by snapshot)"
                        );
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        });
    }

    /// Wakes the scheduler (a job was queued).
    pub fn poke(&self) {
        self.wake.notify_one();
    }

    /// Queues an admitted job under `id` and wakes the scheduler.
    pub async fn submit(&self, job: &Admitted, id: &str) -> Result<JobStatus, ServiceError> {
        let status = jobs::submit(&self.store, &self.own, job, id, None).await?;
        self.poke();
        Ok(status)
    }

    /// Cancels a job and stops its workers.
    pub async fn cancel(&self, id: &str) -> Result<JobStatus, ServiceError> {
        let status = jobs::cancel(&self.store, &self.own, id).await?;
        self.stop(id);
        Ok(status)
    }

    /// Queues a failed or cancelled job again. A job cancelled a moment ago may still be stopping:
    /// the retry waits for its run to end rather than refusing what the user just asked for.
    pub async fn retry(&self, id: &str) -> Result<JobStatus, ServiceError> {
        let state = self.store.job(id).await?.state;
        if matches!(state, JobState::Failed | JobState::Cancelled) {
            self.wait_ended(id, STOP_WAIT).await;
        }
        let status = jobs::retry(&self.store, &self.own, id, self.is_running(id)).await?;
        self.poke();
        Ok(status)
    }

    /// Waits until job `id` has no run in this process, or `limit` has passed.
    async fn wait_ended(&self, id: &str, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        let _ = tokio::time::timeout_at(deadline, self.wait_runs(|r| !r.contains_key(id))).await;
    }

    /// Waits until `done` holds for the runs of this process, checked whenever a run ends.
    async fn wait_runs(&self, done: impl Fn(&HashMap<String, Arc<AtomicBool>>) -> bool) {
        loop {
            let ended = self.ended.notified();
            tokio::pin!(ended);
            // Registered before the check, so an end between the check and the wait is not missed.
            ended.as_mut().enable();
            if self.running.lock().map(|r| done(&r)).unwrap_or(true) {
                return;
            }
            ended.await;
        }
    }

    /// Resolves once the node has been told to drain (by a signal, or `worker --drain`).
    pub async fn drain_asked(&self) {
        let asked = self.drain_asked.notified();
        tokio::pin!(asked);
        asked.as_mut().enable();
        if self.draining.load(Ordering::Relaxed) {
            return;
        }
        asked.await;
    }

    /// Stops taking work: the chunks in hand are finished, then the runs end ([`Service::idle`]).
    pub fn drain(&self) {
        self.drain_asked.notify_waiters();
        self.draining.store(true, Ordering::Relaxed);
        self.wake.notify_one();
    }

    /// Waits until no job runs here.
    pub async fn idle(&self) {
        self.wait_runs(HashMap::is_empty).await;
    }

    pub fn is_running(&self, id: &str) -> bool {
        self.running
            .lock()
            .map(|r| r.contains_key(id))
            .unwrap_or(false)
    }

    /// Stops a running job's workers; the caller records the new state.
    pub fn stop(&self, id: &str) -> bool {
        match self.running.lock().ok().and_then(|r| r.get(id).cloned()) {
            Some(flag) => {
                flag.store(true, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }

    /// Whether this node is one of a farm's (named, on a shared store).
    fn farm(&self) -> bool {
        !self.config.node.is_empty()
    }

    /// In a farm, whether this node has what job `id` needs (encoder, models); other nodes take it
    /// otherwise. Alone, a node runs everything it admitted. Each job is checked once.
    async fn runnable_here(&self, id: &str) -> bool {
        if self.config.node.is_empty() {
            return true;
        }
        if let Some(known) = self.runnable.lock().ok().and_then(|r| r.get(id).copied()) {
            return known;
        }
        let Ok(job) = self.store.job(id).await else {
            return false;
        };
        let verdict = crate::pipeline::preflight::runnable_here(&job.spec);
        if let Err(reason) = &verdict {
            tracing::info!(job = id, "left to other nodes: {reason}");
            // Told to the others, so they do not wait for this node to fail a chunk; asked again
            // (the verdict forgotten) if the store does not take it.
            if let Err(e) = self.store.decline(id, &self.config.node, reason).await {
                tracing::warn!(job = id, "recording that this node cannot run it: {e}");
                return false;
            }
        }
        if let Ok(mut r) = self.runnable.lock() {
            r.insert(id.to_owned(), verdict.is_ok());
        }
        verdict.is_ok()
    }

    /// Tells the other nodes this one is alive (its row in `nodes`), every third of a lease.
    fn spawn_heartbeat(self: Arc<Self>) {
        tokio::spawn(async move {
            let every = Duration::from_millis((self.config.lease_ms / 3).max(100) as u64);
            loop {
                let draining = self.draining.load(Ordering::Relaxed);
                match self.store.heartbeat_node(&self.config.node, draining).await {
                    Ok(true) if !draining => {
                        tracing::info!("asked to drain: finishing the chunks in hand");
                        self.drain();
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!("heartbeat: {e}"),
                }
                tokio::time::sleep(every).await;
            }
        });
    }

    fn spawn_metrics(self: Arc<Self>) {
        let mut rx = self.own.subscribe();
        tokio::spawn(async move {
            // Each job's frames done so far, for the progress counter's increments.
            // Per job: frames counted into the progress so far, and frames of its finished chunks.
            let mut done: HashMap<String, u64> = HashMap::new();
            let mut chunk_frames: HashMap<String, u64> = HashMap::new();
            let progress = &self.metrics.progress;
            let count = |done: &mut HashMap<String, u64>, job: String, frames: u64| {
                let counted = done.entry(job).or_insert(0);
                if frames > *counted {
                    progress.fetch_add(frames - *counted, Ordering::Relaxed);
                    *counted = frames;
                }
            };
            loop {
                match rx.recv().await {
                    Ok(ProgressEvent::ChunkDone {
                        job,
                        frames,
                        timings,
                        ..
                    }) => {
                        self.metrics.chunks_done.inc();
                        self.metrics.observe_chunk(&timings);
                        self.metrics.frames.inc_by(frames);
                        // Progress events are throttled: a chunk's last frames may only show here.
                        let finished = chunk_frames.entry(job.clone()).or_insert(0);
                        *finished += frames;
                        let finished = *finished;
                        count(&mut done, job, finished);
                    }
                    Ok(ProgressEvent::ChunkFailed { .. }) => {
                        self.metrics.chunks_failed.inc();
                    }
                    Ok(ProgressEvent::Failed { job, .. }) => {
                        self.metrics.errors.inc();
                        done.remove(&job);
                        chunk_frames.remove(&job);
                    }
                    Ok(ProgressEvent::Frames {
                        fps,
                        job,
                        frames_done,
                        ..
                    }) => {
                        self.metrics.fps.set(fps);
                        count(&mut done, job, frames_done);
                    }
                    Ok(ProgressEvent::Done { job, .. }) => {
                        done.remove(&job);
                        chunk_frames.remove(&job);
                    }
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        });
    }

    fn spawn_scheduler(self: Arc<Self>) {
        tokio::spawn(async move {
            // Doubles while the store does not answer (up to 30 s), back to 2 s when it does.
            let mut pause = Duration::from_secs(2);
            loop {
                let draining = self.draining.load(Ordering::Relaxed);
                let unfinished = if draining {
                    Ok(Vec::new())
                } else {
                    self.store.unfinished_jobs().await
                };
                pause = match &unfinished {
                    Ok(_) => Duration::from_secs(2),
                    Err(e) => {
                        tracing::warn!("the store does not answer, next try in {pause:?}: {e}");
                        (pause * 2).min(Duration::from_secs(30))
                    }
                };
                if let Ok(ids) = unfinished {
                    // Verdicts on jobs that have ended are not needed again.
                    if let Ok(mut r) = self.runnable.lock() {
                        r.retain(|job, _| ids.contains(job));
                    }
                    self.forget_copies(&ids);
                    for id in ids {
                        if !self.runnable_here(&id).await {
                            continue;
                        }
                        let node = &self.config.node;
                        if self.farm() && self.store.node_barred(&id, node).await.unwrap_or(true) {
                            continue;
                        }
                        let started = {
                            let Ok(mut running) = self.running.lock() else {
                                break;
                            };
                            if running.len() >= self.config.max_jobs || running.contains_key(&id) {
                                continue;
                            }
                            running.insert(id.clone(), Arc::new(AtomicBool::new(false)));
                            true
                        };
                        if started {
                            tokio::spawn(self.clone().run(id));
                        }
                    }
                }
                tokio::select! {
                    _ = self.wake.notified() => {}
                    _ = tokio::time::sleep(pause) => {}
                }
            }
        });
    }

    async fn run(self: Arc<Self>, id: String) {
        let cancel = self
            .running
            .lock()
            .ok()
            .and_then(|r| r.get(&id).cloned())
            .unwrap_or_default();
        let opts = JobOptions {
            workers: self.config.chunk_slots.max(1),
            memory_bytes: self.config.memory_bytes,
            lease_ms: self.config.lease_ms,
            max_attempts: self.config.max_attempts,
            keep_chunks: false,
            data_dir: self.config.data_dir.clone(),
            slots: Some(self.slots.clone()),
            output_link: Some(format!("/api/jobs/{id}/output")),
            node: self.config.node.clone(),
            drain: Some(self.draining.clone()),
            storage: self.config.farm_link.as_ref().map(|l| l.storage.clone()),
        };
        let result = match self.where_input(&id).await {
            remote::Input::Here => run_job(&self.store, &id, &opts, self.own.clone(), cancel).await,
            remote::Input::There(input) => {
                let events = self.own.clone();
                run_remote(&self.store, &id, &opts, *input, events, cancel).await
            }
            remote::Input::Wait(why) => {
                tracing::debug!(job = id, "waiting: {why}");
                Ok(JobOutcome::Elsewhere)
            }
        };
        let opts = &opts;
        match result {
            Ok(
                JobOutcome::Done { .. }
                | JobOutcome::Failed(_)
                | JobOutcome::Cancelled
                | JobOutcome::Elsewhere,
            ) => {}
            // In a farm the store may be away for a while (PostgreSQL restarting), or the node
            // holding the input: the job is left as it is, and the scheduler takes it up again.
            Err(JobError::Store(e)) if self.farm() => {
                tracing::warn!(job = id, "the store failed the run, resumed later: {e}");
            }
            Err(JobError::Peer(e)) if self.farm() => {
                tracing::warn!(job = id, "resumed later: {e}");
            }
            // Something this node could not do (its copy of the input, its disk): a failure of
            // this node, not of the job, which the others go on with.
            Err(e) if self.farm() => {
                let (node, reason) = (&self.config.node, e.to_string());
                tracing::warn!(job = id, "failed on this node: {reason}");
                if self
                    .store
                    .record_failure(&id, None, node, &reason)
                    .await
                    .is_ok()
                {
                    let ctx =
                        crate::pipeline::context::JobCtx::new(&self.store, &id, self.own.clone());
                    if self.store.node_barred(&id, node).await.unwrap_or(false) {
                        let _ = crate::pipeline::job::left_to_others(&ctx, opts).await;
                    }
                }
            }
            Err(e) => {
                let reason = match &e {
                    JobError::Store(_) | JobError::Internal(_) => format!("internal error: {e}"),
                    _ => e.to_string(),
                };
                let _ = self
                    .store
                    .set_job_state(&id, JobState::Failed, Some(&reason))
                    .await;
                let _ = self.own.send(ProgressEvent::Failed {
                    job: id.clone(),
                    error: reason,
                });
            }
        }
        if let Ok(mut r) = self.running.lock() {
            r.remove(&id);
        }
        self.ended.notify_waiters();
        self.wake.notify_one();
    }
}
