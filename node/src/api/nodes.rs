//! `GET /api/nodes`: the nodes sharing this node's store (one, alone; every node, in a farm).

use super::{ApiResult, AppState};
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use kino_shared::{NodeChunk, NodeStatus};

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/nodes", get(list_nodes))
}

/// The farm's nodes with their resources, heartbeat and chunks (empty for a node on its own store).
#[utoipa::path(tag = "nodes", get, path = "/api/nodes", responses((status = 200, body = Vec<NodeStatus>)))]
pub async fn list_nodes(State(state): State<AppState>) -> ApiResult<Json<Vec<NodeStatus>>> {
    let alive_ms = 3 * state.svc.config.lease_ms;
    let rows = state.svc.store.nodes().await?;
    // Each node's latest reading (oldest first, so the last one wins).
    let mut latest = std::collections::HashMap::new();
    for s in state
        .svc
        .store
        .samples(crate::store::now_ms() - 60_000)
        .await?
    {
        latest.insert(s.node.clone(), s);
    }
    Ok(Json(
        rows.into_iter()
            .map(|n| {
                let text = |k: &str| n.info[k].as_str().unwrap_or_default().to_owned();
                let list = |k: &str| -> Vec<String> {
                    n.info[k]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                };
                NodeStatus {
                    host: text("host"),
                    cores: n.info["cores"].as_u64().unwrap_or(0) as u32,
                    memory_bytes: n.info["memory_bytes"].as_u64(),
                    encoders: list("encoders"),
                    models: list("models"),
                    gpus: list("gpus"),
                    alive: n.silent_ms <= alive_ms,
                    silent_ms: n.silent_ms,
                    draining: n.draining,
                    running_chunks: n.running.len() as u64,
                    current: n
                        .running
                        .iter()
                        .map(|(job, chunk)| NodeChunk {
                            job: job.clone(),
                            chunk: *chunk,
                        })
                        .collect(),
                    chunks_done: n.done.max(0) as u64,
                    resources: latest.remove(&n.name),
                    version: n.version,
                    name: n.name,
                }
            })
            .collect(),
    ))
}
