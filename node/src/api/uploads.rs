//! tus 1.0 resumable uploads (core, creation, creation-with-upload, termination, checksum with sha1).
//! Bytes stream straight to a file in the data folder; the file's length is the upload offset, so an
//! interrupted upload resumes at exactly what reached the disk, also after a restart.

use super::{ApiErr, ApiResult, AppState};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{options, post};
use axum::{Json, Router};
use base64::Engine;
use futures_util::StreamExt;
use kino_shared::ErrorCode;
use sha1::Digest;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::Mutex;

const TUS_VERSION: &str = "1.0.0";
const EXTENSIONS: &str = "creation,creation-with-upload,termination,checksum";
/// Writes go to disk in blocks of this size (few syscalls, flat memory).
const BLOCK: usize = 1 << 20;

/// Per-upload state behind one lock, so two PATCH requests never interleave.
#[derive(Default)]
pub struct Locks(std::sync::Mutex<HashMap<String, Arc<Mutex<Running>>>>);

/// The SHA-256 of the bytes received so far, carried from PATCH to PATCH so completing a large
/// upload costs no second read (rebuilt from the file after a restart).
#[derive(Default)]
pub struct Running {
    hash: Option<(u64, sha2::Sha256)>,
}

impl Locks {
    fn get(&self, id: &str) -> Arc<Mutex<Running>> {
        let mut m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        m.entry(id.to_owned()).or_default().clone()
    }
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/uploads", options(tus_options).post(create))
        .route(
            "/api/uploads/{id}",
            axum::routing::head(head)
                .patch(patch)
                .delete(terminate)
                .get(info),
        )
        .route_layer(axum::extract::DefaultBodyLimit::disable())
        .merge(Router::new().route("/api/uploads/", post(create)))
}

/// Where an upload's bytes live.
pub fn upload_path(state: &AppState, id: &str) -> PathBuf {
    state.svc.config.data_dir.join("uploads").join(id)
}

fn tus_headers(r: &mut Response) {
    let h = r.headers_mut();
    h.insert("Tus-Resumable", HeaderValue::from_static(TUS_VERSION));
    h.insert("Cache-Control", HeaderValue::from_static("no-store"));
}

fn check_version(headers: &HeaderMap) -> ApiResult<()> {
    match headers.get("Tus-Resumable").and_then(|v| v.to_str().ok()) {
        Some(TUS_VERSION) => Ok(()),
        _ => Err(ApiErr::new(
            StatusCode::PRECONDITION_FAILED,
            ErrorCode::TusVersion,
            "Tus-Resumable: 1.0.0 header required",
        )),
    }
}

fn header_u64(headers: &HeaderMap, name: &str) -> ApiResult<Option<u64>> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .map(Some)
            .ok_or_else(|| {
                ApiErr::new(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::InvalidHeader,
                    format!("{name} must be a non-negative integer"),
                )
                .field(name)
            }),
    }
}

fn valid_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// tus discovery: version, extensions, maximum size.
#[utoipa::path(options, path = "/api/uploads", tag = "uploads", responses((status = 204, description = "Tus-Version, Tus-Extension, Tus-Max-Size headers")))]
pub async fn tus_options(State(state): State<AppState>) -> Response {
    let mut r = StatusCode::NO_CONTENT.into_response();
    tus_headers(&mut r);
    let h = r.headers_mut();
    h.insert("Tus-Version", HeaderValue::from_static(TUS_VERSION));
    h.insert("Tus-Extension", HeaderValue::from_static(EXTENSIONS));
    h.insert("Tus-Checksum-Algorithm", HeaderValue::from_static("sha1"));
    if let Ok(v) = HeaderValue::from_str(&state.config.max_upload_bytes.to_string()) {
        h.insert("Tus-Max-Size", v);
    }
    r
}

/// POST /api/uploads: creates an upload of `Upload-Length` bytes (optionally with a first part).
#[utoipa::path(post, path = "/api/uploads", tag = "uploads", params(("Upload-Length" = u64, Header, description = "total size in bytes"), ("Upload-Metadata" = Option<String>, Header, description = "tus metadata")), responses((status = 201, description = "Location of the new upload"), (status = 413, body = kino_shared::ApiError)))]
pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    check_version(&headers)?;
    let length = header_u64(&headers, "Upload-Length")?.ok_or_else(|| {
        ApiErr::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidHeader,
            "Upload-Length is required",
        )
        .field("Upload-Length")
    })?;
    if length > state.config.max_upload_bytes {
        return Err(ApiErr::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::TooLarge,
            format!(
                "upload of {length} bytes exceeds the {} byte limit",
                state.config.max_upload_bytes
            ),
        )
        .field("Upload-Length"));
    }
    let metadata = headers
        .get("Upload-Metadata")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let id = uuid::Uuid::new_v4().simple().to_string();
    let path = upload_path(&state, &id);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(ApiErr::internal)?;
    }
    std::fs::File::create(&path).map_err(ApiErr::internal)?;
    state
        .svc
        .store
        .create_upload(&id, length, &metadata)
        .await?;
    let location = format!("/api/uploads/{id}");
    let with_data = headers
        .get("Content-Type")
        .is_some_and(|v| v.as_bytes() == b"application/offset+octet-stream");
    let offset = if with_data {
        let lock = state.uploads.get(&id);
        let mut running = lock.lock().await;
        append(&state, &id, length, 0, &headers, body, &mut running).await?
    } else {
        0
    };
    let mut r = StatusCode::CREATED.into_response();
    tus_headers(&mut r);
    r.headers_mut().insert(
        "Location",
        HeaderValue::from_str(&location).map_err(ApiErr::internal)?,
    );
    r.headers_mut()
        .insert("Upload-Offset", HeaderValue::from(offset));
    Ok(r)
}

/// tus offset query.
#[utoipa::path(head, path = "/api/uploads/{id}", tag = "uploads", responses((status = 200, description = "Upload-Offset and Upload-Length headers"), (status = 404, body = kino_shared::ApiError)))]
pub async fn head(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    let (row, offset) = load(&state, &id).await?;
    let mut r = StatusCode::OK.into_response();
    tus_headers(&mut r);
    let h = r.headers_mut();
    h.insert("Upload-Offset", HeaderValue::from(offset));
    h.insert("Upload-Length", HeaderValue::from(row.length));
    if !row.metadata.is_empty() {
        if let Ok(v) = HeaderValue::from_str(&row.metadata) {
            h.insert("Upload-Metadata", v);
        }
    }
    Ok(r)
}

/// GET /api/uploads/{id}: JSON status (offset, length, completion, SHA-256 once complete).
#[utoipa::path(get, path = "/api/uploads/{id}", tag = "uploads", responses((status = 200, description = "id, length, offset, complete, sha256, metadata"), (status = 404, body = kino_shared::ApiError)))]
pub async fn info(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let (row, offset) = load(&state, &id).await?;
    Ok(Json(serde_json::json!({
        "id": row.id, "length": row.length, "offset": offset, "complete": row.complete,
        "sha256": row.sha256, "metadata": decode_metadata(&row.metadata),
    })))
}

async fn load(state: &AppState, id: &str) -> ApiResult<(crate::store::UploadRow, u64)> {
    if !valid_id(id) {
        return Err(ApiErr::not_found("upload", id));
    }
    let row = state
        .svc
        .store
        .upload(id)
        .await?
        .ok_or_else(|| ApiErr::not_found("upload", id))?;
    let offset = std::fs::metadata(upload_path(state, id))
        .map(|m| m.len())
        .unwrap_or(0)
        .min(row.length);
    Ok((row, offset))
}

/// tus data: appends the body at `Upload-Offset`.
#[utoipa::path(patch, path = "/api/uploads/{id}", tag = "uploads", request_body(content = Vec<u8>, content_type = "application/offset+octet-stream"), responses((status = 204, description = "new Upload-Offset"), (status = 409, body = kino_shared::ApiError), (status = 460, body = kino_shared::ApiError)))]
pub async fn patch(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    check_version(&headers)?;
    if headers.get("Content-Type").map(|v| v.as_bytes()) != Some(b"application/offset+octet-stream")
    {
        return Err(ApiErr::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::ContentType,
            "Content-Type must be application/offset+octet-stream",
        ));
    }
    let claimed = header_u64(&headers, "Upload-Offset")?.ok_or_else(|| {
        ApiErr::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidHeader,
            "Upload-Offset is required",
        )
        .field("Upload-Offset")
    })?;
    let lock = state.uploads.get(&id);
    let mut running = lock.lock().await;
    let (row, offset) = load(&state, &id).await?;
    if claimed != offset {
        return Err(ApiErr::new(
            StatusCode::CONFLICT,
            ErrorCode::OffsetMismatch,
            format!("Upload-Offset is {claimed} but the upload is at {offset}"),
        )
        .field("Upload-Offset"));
    }
    let new_offset = append(
        &state,
        &id,
        row.length,
        offset,
        &headers,
        body,
        &mut running,
    )
    .await?;
    let mut r = StatusCode::NO_CONTENT.into_response();
    tus_headers(&mut r);
    r.headers_mut()
        .insert("Upload-Offset", HeaderValue::from(new_offset));
    Ok(r)
}

/// Streams `body` to the end of the upload file; verifies `Upload-Checksum` when given (rolling the
/// file back on mismatch) and finishes the upload when it is complete. Returns the new offset.
async fn append(
    state: &AppState,
    id: &str,
    length: u64,
    offset: u64,
    headers: &HeaderMap,
    body: Body,
    running: &mut Running,
) -> ApiResult<u64> {
    let checksum = match headers.get("Upload-Checksum").and_then(|v| v.to_str().ok()) {
        None => None,
        Some(v) => {
            let (alg, b64) = v.split_once(' ').unwrap_or((v, ""));
            if alg != "sha1" {
                return Err(ApiErr::new(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::ChecksumAlgorithm,
                    format!("unsupported checksum algorithm {alg}"),
                ));
            }
            Some(
                base64::engine::general_purpose::STANDARD
                    .decode(b64.trim())
                    .map_err(|_| {
                        ApiErr::new(
                            StatusCode::BAD_REQUEST,
                            ErrorCode::InvalidHeader,
                            "Upload-Checksum is not base64",
                        )
                        .field("Upload-Checksum")
                    })?,
            )
        }
    };
    let path = upload_path(state, id);
    let sha = match running.hash.take() {
        Some((at, h)) if at == offset => h,
        _ => {
            let p = path.clone();
            tokio::task::spawn_blocking(move || hash_prefix(&p, offset))
                .await
                .map_err(ApiErr::internal)?
                .map_err(ApiErr::internal)?
        }
    };
    let file = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .map_err(ApiErr::internal)?;
    // A writer thread appends and hashes block by block while the request keeps streaming in; the
    // bounded channel keeps memory to a few blocks per upload.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(4);
    let writer = tokio::task::spawn_blocking(move || -> (std::io::Result<()>, sha2::Sha256) {
        let (mut file, mut sha) = (file, sha);
        while let Some(block) = rx.blocking_recv() {
            if let Err(e) = file.write_all(&block) {
                return (Err(e), sha);
            }
            sha2::Digest::update(&mut sha, &block);
        }
        (Ok(()), sha)
    });
    let mut hasher = checksum.as_ref().map(|_| sha1::Sha1::new());
    let mut written = offset;
    let mut buf: Vec<u8> = Vec::with_capacity(BLOCK);
    let mut stream = body.into_data_stream();
    let mut too_long = false;
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else { break }; // client went away: keep what arrived
        let room = (length - written) as usize;
        let take = chunk.len().min(room);
        if take < chunk.len() {
            too_long = true;
        }
        if let Some(h) = hasher.as_mut() {
            h.update(&chunk[..take]);
        }
        buf.extend_from_slice(&chunk[..take]);
        written += take as u64;
        state.svc.metrics.upload_bytes.inc_by(take as u64);
        if buf.len() >= BLOCK {
            let full = std::mem::replace(&mut buf, Vec::with_capacity(BLOCK));
            if tx.send(full).await.is_err() {
                break; // the writer failed; its error is reported below
            }
        }
        if too_long {
            break;
        }
    }
    if !buf.is_empty() {
        let _ = tx.send(buf).await;
    }
    drop(tx);
    let (result, sha) = writer.await.map_err(ApiErr::internal)?;
    result.map_err(ApiErr::write)?;
    if let (Some(expected), Some(h)) = (checksum, hasher) {
        if h.finalize().as_slice() != expected.as_slice() {
            roll_back(&path, offset)?;
            return Err(ApiErr::new(
                StatusCode::from_u16(460).unwrap_or(StatusCode::BAD_REQUEST),
                ErrorCode::ChecksumMismatch,
                "Upload-Checksum does not match the data",
            ));
        }
    }
    if too_long {
        roll_back(&path, offset)?;
        return Err(ApiErr::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::TooLarge,
            "more data than Upload-Length",
        ));
    }
    if written == length {
        let p = path.clone();
        tokio::task::spawn_blocking(move || std::fs::File::open(&p).and_then(|f| f.sync_all()))
            .await
            .map_err(ApiErr::internal)?
            .map_err(ApiErr::internal)?;
        let hex = hex::encode(sha2::Digest::finalize(sha));
        state.svc.store.complete_upload(id, &hex).await?;
    } else {
        running.hash = Some((written, sha));
    }
    Ok(written)
}

/// Drops what a refused PATCH appended, back to the offset it started from.
fn roll_back(path: &std::path::Path, offset: u64) -> ApiResult<()> {
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(ApiErr::internal)?;
    f.set_len(offset).map_err(ApiErr::internal)
}

/// SHA-256 state over the first `len` bytes of a file.
fn hash_prefix(path: &std::path::Path, len: u64) -> std::io::Result<sha2::Sha256> {
    let mut h = sha2::Sha256::new();
    let mut f = std::fs::File::open(path)?.take(len);
    let mut buf = vec![0u8; BLOCK];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        sha2::Digest::update(&mut h, &buf[..n]);
    }
    Ok(h)
}

/// tus termination: deletes the upload.
#[utoipa::path(delete, path = "/api/uploads/{id}", tag = "uploads", responses((status = 204, description = "deleted"), (status = 404, body = kino_shared::ApiError)))]
pub async fn terminate(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    check_version(&headers)?;
    let lock = state.uploads.get(&id);
    let mut running = lock.lock().await;
    running.hash = None;
    load(&state, &id).await?;
    state.svc.store.delete_upload(&id).await?;
    let _ = std::fs::remove_file(upload_path(&state, &id));
    let mut r = StatusCode::NO_CONTENT.into_response();
    tus_headers(&mut r);
    Ok(r)
}

/// tus metadata: `key base64,key base64` → a JSON object of decoded strings.
pub fn decode_metadata(raw: &str) -> serde_json::Map<String, serde_json::Value> {
    raw.split(',')
        .filter_map(|kv| {
            let mut it = kv.trim().splitn(2, ' ');
            let k = it.next()?.to_owned();
            if k.is_empty() {
                return None;
            }
            let v = it
                .next()
                .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            Some((k, serde_json::Value::String(v)))
        })
        .collect()
}
