//! What the nodes of a farm without shared storage ask of a node that has a job's input: byte
//! ranges of the input (HTTP Range), and the place to put a rendered chunk. Behind the node's
//! bearer token like every route.

use super::{ApiErr, ApiResult, AppState};
use crate::pipeline::job::chunk_dir;
use crate::pipeline::layout::chunk_path;
use crate::pipeline::remote::{MEASURES_HEADER, SHA256_HEADER};
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::Router;
use futures_util::StreamExt;
use kino_shared::ErrorCode;
use sha2::{Digest, Sha256};
use std::io::Write;
use tower::ServiceExt;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/farm/jobs/{id}/input", get(input))
        .route("/api/farm/jobs/{id}/chunks/{index}/{lease}", put(chunk))
}

/// The job's input file, with Range (a node without it copies its chunks' bytes).
async fn input(
    State(state): State<AppState>,
    Path(id): Path<String>,
    req: Request,
) -> ApiResult<Response> {
    let (input, _) = job_paths(&state, &id).await?;
    if !std::path::Path::new(&input).is_file() {
        return Err(ApiErr::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            format!("the input of job {id} is not on this node"),
        ));
    }
    let mime = "application/octet-stream"
        .parse()
        .map_err(ApiErr::internal)?;
    let resp = tower_http::services::ServeFile::new_with_mime(&input, &mime)
        .oneshot(req)
        .await
        .map_err(ApiErr::internal)?;
    Ok(resp.into_response())
}

/// A chunk rendered elsewhere, stored as the file of its lease once its SHA-256 matches. A send
/// repeated (or late, from a lease since taken over) writes its own lease's file and harms nothing.
async fn chunk(
    State(state): State<AppState>,
    Path((id, index, lease)): Path<(String, u32, u64)>,
    req: Request,
) -> ApiResult<StatusCode> {
    let expected = req
        .headers()
        .get(SHA256_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| hex::decode(v).ok())
        .filter(|h| h.len() == 32)
        .ok_or_else(|| {
            ApiErr::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidHeader,
                format!("{SHA256_HEADER} must be the chunk's SHA-256 in hex"),
            )
        })?;
    // Checked before the body is read: a malformed outcome refuses the chunk, nothing written.
    let measures = match req.headers().get(MEASURES_HEADER) {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|t| serde_json::from_str::<kino_shared::ChunkMeasures>(t).ok())
                .filter(|t| t.index == index)
                .ok_or_else(|| {
                    ApiErr::new(
                        StatusCode::BAD_REQUEST,
                        ErrorCode::InvalidHeader,
                        format!(
                            "{MEASURES_HEADER} must be what this chunk's render measured (JSON)"
                        ),
                    )
                })?,
        ),
    };
    job_paths(&state, &id).await?;
    let chunks = state.svc.store.chunks(&id).await?;
    if !chunks.iter().any(|c| c.plan.index == index) {
        return Err(ApiErr::not_found("chunk", &format!("{id}/{index}")));
    }
    let dir = chunk_dir(&state.svc.config.data_dir, &id);
    let done = chunk_path(&dir, index, lease);
    let part = dir.join(format!("chunk-{index:05}-{lease}.recv.part"));
    let result = receive(req.into_body(), &dir, &part, &expected).await;
    if result.is_err() {
        let _ = std::fs::remove_file(&part);
    }
    result?;
    if let Some(m) = measures {
        let text = serde_json::to_vec(&m).map_err(ApiErr::internal)?;
        std::fs::write(crate::pipeline::render::measures_file(&done), text)
            .map_err(ApiErr::write)?;
    }
    std::fs::rename(&part, &done).map_err(ApiErr::write)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Streams `body` into `part` (synced), checking its SHA-256 against `expected`.
async fn receive(
    body: Body,
    dir: &std::path::Path,
    part: &std::path::Path,
    expected: &[u8],
) -> ApiResult<()> {
    std::fs::create_dir_all(dir).map_err(ApiErr::write)?;
    let mut file = std::fs::File::create(part).map_err(ApiErr::write)?;
    let mut hash = Sha256::new();
    let mut stream = body.into_data_stream();
    while let Some(piece) = stream.next().await {
        let piece = piece.map_err(|e| {
            ApiErr::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidParameter,
                format!("reading the chunk: {e}"),
            )
        })?;
        hash.update(&piece);
        file.write_all(&piece).map_err(ApiErr::write)?;
    }
    file.sync_all().map_err(ApiErr::write)?;
    if hash.finalize().as_slice() != expected {
        return Err(ApiErr::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::ChecksumMismatch,
            "the chunk does not match its SHA-256",
        ));
    }
    Ok(())
}

async fn job_paths(state: &AppState, id: &str) -> ApiResult<(String, String)> {
    match state.svc.store.job_input_output(id).await {
        Ok(p) => Ok(p),
        Err(crate::store::StoreError::NotFound(_)) => Err(ApiErr::not_found("job", id)),
        Err(e) => Err(e.into()),
    }
}
