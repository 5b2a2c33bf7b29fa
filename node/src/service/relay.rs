//! A farm's events, in order, on every serving node. Each node's runs announce their own chunks at
//! once; everything else comes from the shared store: other nodes' chunks, and every job's state
//! (this node's too, so that a job's end never overtakes a chunk another node finished). The store
//! is read when a node notifies a change (PostgreSQL's LISTEN/NOTIFY) and, in case a notification
//! is lost, every few seconds anyway. Within a read, jobs are read before chunks and chunks are announced before
//! jobs: a chunk done before its job ended is always told first.

use crate::store::{Changes, ChunkChange, Store};
use kino_shared::{ChunkState, JobState, ProgressEvent};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, Notify};

/// How often the store is read without notifications, and with them (a safety net).
const POLL: Duration = Duration::from_millis(500);
const POLL_LISTENING: Duration = Duration::from_secs(3);
/// How far back each read looks (node clocks differ a little; repeats are filtered).
const LOOK_BACK_MS: i64 = 10_000;

/// What the last read saw, to announce only what changed since.
#[derive(Default)]
struct Seen {
    jobs: HashMap<String, JobState>,
    chunks: HashMap<(String, u32), (ChunkState, u64)>,
}

/// Jobs lately told to have ended, newest last: what this node's runs still say about them (a last
/// progress tick of a run that ended because another node finished the job) is not passed on.
#[derive(Default)]
pub struct Ended(Mutex<VecDeque<String>>);

/// How many ended jobs are remembered.
const ENDED_KEPT: usize = 256;

impl Ended {
    pub fn contains(&self, job: &str) -> bool {
        self.0.lock().is_ok_and(|e| e.iter().any(|j| j == job))
    }

    fn add(&self, job: &str) {
        if let Ok(mut e) = self.0.lock() {
            if e.len() >= ENDED_KEPT {
                e.pop_front();
            }
            e.push_back(job.to_owned());
        }
    }

    /// A job runs again (retried).
    fn remove(&self, job: &str) {
        if let Ok(mut e) = self.0.lock() {
            e.retain(|j| j != job);
        }
    }
}

/// Forwards the store's changes to `events` until the process ends, and wakes the scheduler
/// (`wake`) when a job changes. `node`: this node's name.
pub async fn relay(
    store: Store,
    node: String,
    events: broadcast::Sender<ProgressEvent>,
    wake: Arc<Notify>,
    ended: Arc<Ended>,
) {
    let mut seen: Option<Seen> = None;
    let mut listener: Option<Changes> = None;
    loop {
        if listener.is_none() {
            listener = match store.listen().await {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!("change notifications unavailable, polling: {e}");
                    None
                }
            };
        }
        seen = read(&store, &node, &events, &ended, seen).await;
        let pause = if listener.is_some() {
            POLL_LISTENING
        } else {
            POLL
        };
        match listener.as_mut() {
            Some(l) => tokio::select! {
                changed = l.next() => match changed {
                    Ok(_) => wake.notify_one(),
                    Err(e) => {
                        tracing::warn!("change notifications lost, polling: {e}");
                        listener = None;
                        tokio::time::sleep(POLL).await;
                    }
                },
                _ = tokio::time::sleep(pause) => {}
            },
            None => tokio::time::sleep(pause).await,
        }
    }
}

/// One read: announces what changed since `before` (nothing on the first read, which only learns
/// where things stand). Returns what this read saw (the old view when the store does not answer).
async fn read(
    store: &Store,
    node: &str,
    events: &broadcast::Sender<ProgressEvent>,
    ended: &Ended,
    before: Option<Seen>,
) -> Option<Seen> {
    let since = crate::store::now_ms() - LOOK_BACK_MS;
    let Ok((jobs, chunks)) = store.changed_since(since).await else {
        return before;
    };
    // Only what this read returned is remembered: a row that leaves the look-back window has not
    // changed since, so the maps stay as small as the window.
    let mut now = Seen::default();
    let mut out = Vec::new();
    for c in chunks {
        let key = (c.job.clone(), c.index);
        let state = (c.state, c.lease_no);
        now.chunks.insert(key.clone(), state);
        let changed = before
            .as_ref()
            .is_some_and(|b| b.chunks.get(&key) != Some(&state));
        if changed {
            out.extend(chunk_event(c, node));
        }
    }
    for (id, state) in jobs {
        now.jobs.insert(id.clone(), state);
        let changed = before
            .as_ref()
            .is_some_and(|b| b.jobs.get(&id) != Some(&state));
        if changed {
            if state.is_final() {
                ended.add(&id);
            } else {
                ended.remove(&id);
            }
            out.extend(job_events(store, id, state).await);
        }
    }
    for e in out {
        let _ = events.send(e);
    }
    Some(now)
}

/// A chunk another node claimed or finished (this node announced its own already).
fn chunk_event(c: ChunkChange, node: &str) -> Option<ProgressEvent> {
    let owner_node = c.owner.as_deref().and_then(|o| o.split(':').next());
    if owner_node == Some(node) {
        return None;
    }
    match c.state {
        ChunkState::Running => Some(ProgressEvent::ChunkClaimed {
            job: c.job,
            chunk: c.index,
            worker: c.owner.unwrap_or_default(),
            lane: c.lane,
        }),
        ChunkState::Done => Some(ProgressEvent::ChunkDone {
            job: c.job,
            chunk: c.index,
            frames: c.frames,
            timings: Vec::new(),
        }),
        _ => None,
    }
}

/// A job's new state, and at its end what a client needs: where the output is, or why it failed.
async fn job_events(store: &Store, job: String, state: JobState) -> Vec<ProgressEvent> {
    let mut out = vec![ProgressEvent::JobState {
        job: job.clone(),
        state,
    }];
    match state {
        JobState::Done => out.push(ProgressEvent::Done {
            output: format!("/api/jobs/{job}/output"),
            job,
        }),
        JobState::Failed => {
            let error = match store.job(&job).await {
                Ok(s) => s.error.unwrap_or_default(),
                Err(e) => format!("(the reason could not be read: {e})"),
            };
            out.push(ProgressEvent::Failed { job, error });
        }
        _ => {}
    }
    out
}
