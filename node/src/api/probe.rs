//! What a file is before it is uploaded: the editor sends its first and last bytes (phone and camera
//! files keep their index at the end), and the node probes them in place in a sparse file of the
//! file's full size. A file that is not a video is refused before a byte of its upload, and one the
//! browser cannot play still shows its duration, size and codec.

use super::{ApiErr, ApiResult, AppState};
use crate::media::{probe, MediaError};
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use kino_shared::{ErrorCode, MediaInfo};
use serde::Deserialize;
use std::io::{Seek, SeekFrom, Write};

/// Most bytes of head and tail together: enough for the index of hours of phone video.
pub const MAX_PROBE_BYTES: usize = 16 << 20;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/probe", post(probe_file))
        .route_layer(axum::extract::DefaultBodyLimit::max(MAX_PROBE_BYTES))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProbeQuery {
    /// The whole file's size in bytes.
    size: u64,
    /// How many bytes of the body are the file's head; the rest is its tail.
    head: u64,
    /// The file's name, for messages.
    #[serde(default)]
    name: String,
}

fn invalid(field: &str, message: impl Into<String>) -> ApiErr {
    ApiErr::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::InvalidParameter,
        message,
    )
    .field(field)
}

/// POST /api/probe: the head and tail of a file in, what the node reads from them out.
#[utoipa::path(post, path = "/api/probe", tag = "uploads", params(ProbeQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream",
        description = "the file's first `head` bytes, then its last bytes (at most 16 MiB in all)"),
    responses((status = 200, body = kino_shared::MediaInfo),
        (status = 413, body = kino_shared::ApiError, description = "larger than uploads may be"),
        (status = 422, body = kino_shared::ApiError, description = "not a video the node can read")))]
pub async fn probe_file(
    State(state): State<AppState>,
    query: Result<Query<ProbeQuery>, QueryRejection>,
    body: Bytes,
) -> ApiResult<Json<MediaInfo>> {
    let Query(q) = query.map_err(|e| {
        ApiErr::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidQuery,
            e.body_text(),
        )
    })?;
    let name: String = q
        .name
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    let name = if name.is_empty() {
        "the file".to_owned()
    } else {
        format!("“{name}”")
    };
    if q.size > state.config.max_upload_bytes {
        return Err(ApiErr::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::TooLarge,
            format!(
                "{name} is larger than this node accepts ({} bytes at most)",
                state.config.max_upload_bytes
            ),
        ));
    }
    let sent = body.len() as u64;
    if q.head > sent || sent > q.size {
        return Err(invalid(
            "head",
            format!(
                "the body ({sent} bytes) must hold the head ({} bytes) and a tail, no more than the file's {} bytes",
                q.head, q.size
            ),
        ));
    }
    if q.size == 0 {
        return Err(ApiErr::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::BadMedia,
            format!("{name} is empty (0 bytes)"),
        ));
    }
    let dir = state.svc.config.data_dir.join("tmp");
    let (size, head) = (q.size, q.head as usize);
    let probed = tokio::task::spawn_blocking(move || -> Result<_, ProbeFault> {
        std::fs::create_dir_all(&dir).map_err(ProbeFault::Io)?;
        let mut file = tempfile::Builder::new()
            .prefix("probe-")
            .tempfile_in(&dir)
            .map_err(ProbeFault::Io)?;
        // Sparse: only the head and the tail take space.
        let f = file.as_file_mut();
        f.set_len(size).map_err(ProbeFault::Io)?;
        f.write_all(&body[..head]).map_err(ProbeFault::Io)?;
        f.seek(SeekFrom::Start(size - (body.len() - head) as u64))
            .map_err(ProbeFault::Io)?;
        f.write_all(&body[head..]).map_err(ProbeFault::Io)?;
        let path = file.path().to_owned();
        let shown = path.display().to_string();
        probe::probe(&path, false)
            .map(|p| p.info)
            .map_err(|e| ProbeFault::Media(e, shown))
    })
    .await
    .map_err(ApiErr::internal)?;
    match probed {
        Ok(mut info) => {
            info.size_bytes = size;
            Ok(Json(info))
        }
        Err(ProbeFault::Media(e, shown)) => Err(ApiErr::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::BadMedia,
            not_a_video(&e, &shown, &name),
        )),
        Err(ProbeFault::Io(e)) => Err(ApiErr::internal(e)),
    }
}

enum ProbeFault {
    Io(std::io::Error),
    /// What FFmpeg said, and the temporary file's path it names.
    Media(MediaError, String),
}

/// The refusal, naming the file as the user knows it.
fn not_a_video(e: &MediaError, shown: &str, name: &str) -> String {
    match e {
        MediaError::Unrecognised { .. } | MediaError::Playlist(_) => {
            format!("{name} is not a video the node can read")
        }
        MediaError::NoVideo(_) => format!("{name} has no video stream"),
        other => format!(
            "{name} cannot be rendered: {}",
            other.to_string().replace(shown, "the file")
        ),
    }
}
