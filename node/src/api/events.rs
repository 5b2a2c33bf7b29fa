//! Live progress over WebSocket: a snapshot first, then every event in order.

use super::{ApiErr, ApiResult, AppState};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use kino_shared::ProgressEvent;
use tokio::sync::broadcast;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/events", get(all_events))
        .route("/api/jobs/{id}/events", get(job_events))
}

async fn snapshot(state: &AppState, id: &str) -> ApiResult<ProgressEvent> {
    let status = match state.svc.store.job(id).await {
        Ok(s) => s,
        Err(crate::store::StoreError::NotFound(_)) => return Err(ApiErr::not_found("job", id)),
        Err(e) => return Err(e.into()),
    };
    let chunks = state.svc.store.chunk_statuses(id).await?;
    Ok(ProgressEvent::Snapshot {
        job: id.to_owned(),
        status: Box::new(super::public(status)),
        chunks,
    })
}

async fn snapshots(state: &AppState, filter: Option<&str>) -> ApiResult<Vec<ProgressEvent>> {
    match filter {
        Some(id) => Ok(vec![snapshot(state, id).await?]),
        None => {
            let jobs = state.svc.store.jobs_with_chunks(100).await?;
            Ok(jobs
                .into_iter()
                .map(|(status, chunks)| ProgressEvent::Snapshot {
                    job: status.id.clone(),
                    status: Box::new(super::public(status)),
                    chunks,
                })
                .collect())
        }
    }
}

/// Events of one job (WebSocket): a `snapshot`, then live events.
#[utoipa::path(get, path = "/api/jobs/{id}/events", tag = "events", responses((status = 101, description = "WebSocket of ProgressEvent JSON messages"), (status = 404, body = kino_shared::ApiError)))]
pub async fn job_events(
    ws: WebSocketUpgrade,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    // Subscribe before reading the snapshot so nothing falls between the two.
    let rx = state.svc.events.subscribe();
    let initial = snapshots(&state, Some(&id)).await?;
    Ok(ws.on_upgrade(move |socket| pump(socket, rx, initial, Some(id), state)))
}

/// Events of every job (WebSocket): a snapshot per recent job, then live events.
#[utoipa::path(get, path = "/api/events", tag = "events", responses((status = 101, description = "WebSocket of ProgressEvent JSON messages")))]
pub async fn all_events(
    ws: WebSocketUpgrade,
    State(state): State<AppState>,
) -> ApiResult<Response> {
    let rx = state.svc.events.subscribe();
    let initial = snapshots(&state, None).await?;
    Ok(ws.on_upgrade(move |socket| pump(socket, rx, initial, None, state)))
}

async fn send(socket: &mut WebSocket, ev: &ProgressEvent, state: &AppState) -> bool {
    match serde_json::to_string(ev) {
        Ok(text) => {
            let text = state.redact.text(&text).into_owned();
            socket.send(Message::Text(text.into())).await.is_ok()
        }
        Err(_) => true,
    }
}

async fn pump(
    mut socket: WebSocket,
    mut rx: broadcast::Receiver<ProgressEvent>,
    initial: Vec<ProgressEvent>,
    filter: Option<String>,
    state: AppState,
) {
    for ev in &initial {
        if !send(&mut socket, ev, &state).await {
            return;
        }
    }
    loop {
        tokio::select! {
            ev = rx.recv() => match ev {
                Ok(ev) => {
                    if filter.as_deref().is_some_and(|f| f != ev.job()) {
                        continue;
                    }
                    if !send(&mut socket, &ev, &state).await {
                        return;
                    }
                }
                // Too slow to keep up: start again from a fresh snapshot.
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    let Ok(snaps) = snapshots(&state, filter.as_deref()).await else { return };
                    for ev in &snaps {
                        if !send(&mut socket, ev, &state).await {
                            return;
                        }
                    }
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            msg = socket.recv() => match msg {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}
