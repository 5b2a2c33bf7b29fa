//! Events from the other nodes of a farm: each node broadcasts only what its own runs do, so a
//! serving node polls the shared store for what changed elsewhere (job states, chunks claimed and
//! finished by other nodes) and forwards it to its WebSocket clients. Polling is the whole
//! mechanism for now (LISTEN/NOTIFY would only make it prompter).

use crate::store::Store;
use kino_shared::{ChunkState, JobState, ProgressEvent};
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::broadcast;

/// How often the store is read.
const EVERY: Duration = Duration::from_millis(500);
/// How far back each read looks (node clocks differ a little; repeats are filtered).
const LOOK_BACK_MS: i64 = 10_000;

/// Forwards other nodes' changes to `events` until the process ends. `node`: this node's name.
pub async fn relay(store: Store, node: String, events: broadcast::Sender<ProgressEvent>) {
    let mut jobs: HashMap<String, JobState> = HashMap::new();
    let mut chunks: HashMap<(String, u32), (ChunkState, u64)> = HashMap::new();
    let mut first = true;
    loop {
        let since = crate::store::now_ms() - LOOK_BACK_MS;
        if let Ok((changed_jobs, changed_chunks)) = store.changed_since(since).await {
            // Only what this read returned is remembered: a row that leaves the look-back window
            // has not changed since, so the maps stay as small as the window.
            let (seen_jobs, seen_chunks) = (std::mem::take(&mut jobs), std::mem::take(&mut chunks));
            for (id, state) in changed_jobs {
                jobs.insert(id.clone(), state);
                if seen_jobs.get(&id) != Some(&state) && !first {
                    let _ = events.send(ProgressEvent::JobState { job: id, state });
                }
            }
            for c in changed_chunks {
                let key = (c.job.clone(), c.index);
                let seen = (c.state, c.lease_no);
                let before = seen_chunks.get(&key).copied();
                chunks.insert(key, seen);
                if before == Some(seen) || first {
                    continue;
                }
                let owner_node = c.owner.as_deref().and_then(|o| o.split(':').next());
                if owner_node == Some(node.as_str()) {
                    continue;
                }
                let event = match c.state {
                    ChunkState::Running => ProgressEvent::ChunkClaimed {
                        job: c.job,
                        chunk: c.index,
                        worker: c.owner.unwrap_or_default(),
                    },
                    ChunkState::Done => ProgressEvent::ChunkDone {
                        job: c.job,
                        chunk: c.index,
                        frames: c.frames,
                    },
                    _ => continue,
                };
                let _ = events.send(event);
            }
            first = false;
        }
        tokio::time::sleep(EVERY).await;
    }
}
