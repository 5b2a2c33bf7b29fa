//! A finished upload's filmstrip and waveform, for the editor's timeline when the browser cannot
//! play the file (AVI, Theora, …): thumbnails decoded by FFmpeg and the sound's level per column.

use super::{ApiErr, ApiResult, AppState};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use kino_shared::ErrorCode;
use serde::{Deserialize, Serialize};

/// Most thumbnails and columns one request may ask for.
const MAX_THUMBS: u32 = 64;
const MAX_COLUMNS: u32 = 4000;

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/uploads/{id}/overview", get(overview))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OverviewQuery {
    /// Thumbnails, evenly spread (1…64).
    #[serde(default = "default_thumbs")]
    thumbs: u32,
    /// Their height in pixels (16…360).
    #[serde(default = "default_height")]
    height: u32,
    /// Waveform columns (1…4000).
    #[serde(default = "default_columns")]
    columns: u32,
}

fn default_thumbs() -> u32 {
    16
}
fn default_height() -> u32 {
    60
}
fn default_columns() -> u32 {
    600
}

/// The timeline of a file.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Overview {
    /// Seconds of video.
    pub duration: f64,
    /// `data:image/jpeg;base64,…` thumbnails at `(i + 0.5) × duration / thumbs`.
    pub thumbs: Vec<String>,
    /// The first audio stream's RMS level per column, 0…1 of full scale (empty without sound).
    pub peaks: Vec<f32>,
}

/// GET /api/uploads/{id}/overview
#[utoipa::path(get, path = "/api/uploads/{id}/overview", tag = "uploads", params(OverviewQuery),
    responses((status = 200, body = Overview),
        (status = 409, body = kino_shared::ApiError, description = "the upload is not complete"),
        (status = 422, body = kino_shared::ApiError, description = "no such upload, bad parameters, or not a video")))]
pub async fn overview(
    State(state): State<AppState>,
    Path(id): Path<String>,
    query: Result<Query<OverviewQuery>, QueryRejection>,
) -> ApiResult<Json<Overview>> {
    let Query(q) = query.map_err(|e| {
        ApiErr::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidParameter,
            e.body_text(),
        )
    })?;
    let bad = |field: &str, msg: String| {
        ApiErr::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidParameter,
            msg,
        )
        .field(field)
    };
    if !(1..=MAX_THUMBS).contains(&q.thumbs) {
        return Err(bad(
            "thumbs",
            format!("must be 1…{MAX_THUMBS}, got {}", q.thumbs),
        ));
    }
    if !(16..=360).contains(&q.height) {
        return Err(bad("height", format!("must be 16…360, got {}", q.height)));
    }
    if !(1..=MAX_COLUMNS).contains(&q.columns) {
        return Err(bad(
            "columns",
            format!("must be 1…{MAX_COLUMNS}, got {}", q.columns),
        ));
    }
    let path = super::jobs::finished_upload(&state, &id, "id").await?;
    let made = tokio::task::spawn_blocking(move || make(&path, &q))
        .await
        .map_err(ApiErr::internal)?;
    made.map(Json).map_err(|e| {
        ApiErr::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::BadMedia,
            format!("the upload cannot be read as a video: {e}"),
        )
        .field("id")
    })
}

fn make(path: &std::path::Path, q: &OverviewQuery) -> Result<Overview, crate::media::MediaError> {
    let info = crate::media::probe::probe(path, false)?.info;
    let video = info
        .video
        .as_ref()
        .ok_or_else(|| crate::media::MediaError::NoVideo("the upload".into()))?;
    let duration = video.duration_seconds.max(0.0);
    let times: Vec<f64> = (0..q.thumbs)
        .map(|i| (f64::from(i) + 0.5) * duration / f64::from(q.thumbs))
        .collect();
    let thumbs = crate::media::thumbnail::jpegs_at(path, &times, q.height)?
        .into_iter()
        .map(|j| {
            format!(
                "data:image/jpeg;base64,{}",
                base64::engine::general_purpose::STANDARD.encode(j)
            )
        })
        .collect();
    let peaks = match info.audio.first() {
        Some(a) => {
            let levels = crate::edit::measure::audio_levels(path, a.stream_index)?;
            columns(&levels.rms_db, q.columns as usize)
        }
        None => Vec::new(),
    };
    Ok(Overview {
        duration,
        thumbs,
        peaks,
    })
}

/// The loudest window of each column, as a linear level.
fn columns(rms_db: &[f32], n: usize) -> Vec<f32> {
    if rms_db.is_empty() {
        return Vec::new();
    }
    (0..n)
        .map(|c| {
            let a = c * rms_db.len() / n;
            let b = ((c + 1) * rms_db.len() / n).max(a + 1).min(rms_db.len());
            let db = rms_db[a..b].iter().copied().fold(f32::MIN, f32::max);
            10f32.powf(db / 20.0).clamp(0.0, 1.0)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn columns_take_the_loudest_window() {
        let c = super::columns(&[-120.0, -6.0, -120.0, -120.0], 2);
        assert!((c[0] - 0.501).abs() < 0.01 && c[1] < 1e-5, "{c:?}");
        assert_eq!(super::columns(&[-6.0], 3).len(), 3);
    }
}
