//! The dashboard's data: `GET /api/resources`, the nodes' resource readings over the last minutes
//! (downsampled for long windows), and `GET /api/failures`, the latest failures.

use super::{ApiErr, ApiResult, AppState};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use kino_shared::{ErrorCode, RecentFailure, ResourceHistory, ResourceSample, StorageStatus};
use serde::Deserialize;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/resources", get(resources))
        .route("/api/failures", get(failures))
        .route("/api/storage", get(storage))
}

/// Points a chart gets at most when the step is not given.
const POINTS: f64 = 360.0;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Window {
    /// Minutes back from now (default 60, at most a day: 1440).
    minutes: Option<f64>,
    /// Averages readings over buckets of this many seconds (default: raw readings up to an hour,
    /// 360 points beyond).
    step_seconds: Option<f64>,
}

/// The query's fields, or a 400 saying what is wrong with it.
pub(super) fn parsed<T>(query: Result<Query<T>, QueryRejection>) -> Result<T, ApiErr> {
    query.map(|Query(q)| q).map_err(|e| {
        ApiErr::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidQuery,
            e.body_text(),
        )
    })
}

fn invalid(field: &str, message: &str) -> ApiErr {
    ApiErr::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::InvalidParameter,
        message,
    )
    .field(field)
}

/// Every node's readings (CPU per core, memory, disk, process, queue, throughput), oldest first.
#[utoipa::path(tag = "nodes", get, path = "/api/resources", params(Window),
    responses((status = 200, body = ResourceHistory), (status = 422, body = kino_shared::ApiError)))]
pub async fn resources(
    State(state): State<AppState>,
    query: Result<Query<Window>, QueryRejection>,
) -> ApiResult<Json<ResourceHistory>> {
    let w = parsed(query)?;
    let minutes = w.minutes.unwrap_or(60.0);
    if !(minutes > 0.0 && minutes <= 1440.0) {
        return Err(invalid(
            "minutes",
            "minutes must be more than 0 and at most 1440 (a day)",
        ));
    }
    let step_ms = match w.step_seconds {
        Some(s) if (0.0..=3600.0).contains(&s) => (s * 1000.0) as i64,
        Some(_) => return Err(invalid("step_seconds", "step_seconds must be 0 to 3600")),
        None if minutes <= 60.0 => 0,
        None => (minutes * 60_000.0 / POINTS) as i64,
    };
    let since = crate::store::now_ms() - (minutes * 60_000.0) as i64;
    let raw = state.svc.store.samples(since).await?;
    Ok(Json(ResourceHistory {
        step_ms,
        retention_ms: crate::store::SAMPLE_RETENTION_MS,
        samples: ResourceSample::downsample(&raw, step_ms),
    }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Latest {
    /// How many (default 20, at most 200).
    limit: Option<i64>,
}

/// The latest failures, newest first: failed jobs, chunks whose last attempt failed, and in a farm
/// each node's failed attempts, each with its one-line reason.
#[utoipa::path(tag = "nodes", get, path = "/api/failures", params(Latest),
    responses((status = 200, body = Vec<RecentFailure>), (status = 422, body = kino_shared::ApiError)))]
pub async fn failures(
    State(state): State<AppState>,
    query: Result<Query<Latest>, QueryRejection>,
) -> ApiResult<Json<Vec<RecentFailure>>> {
    let q = parsed(query)?;
    let limit = q.limit.unwrap_or(20);
    if !(1..=200).contains(&limit) {
        return Err(invalid("limit", "limit must be 1 to 200"));
    }
    Ok(Json(state.svc.store.recent_failures(limit).await?))
}

/// The data folder's uploads and outputs (as last measured), the retention policy, and what the
/// janitor removed.
#[utoipa::path(tag = "nodes", get, path = "/api/storage", responses((status = 200, body = StorageStatus)))]
pub async fn storage(State(state): State<AppState>) -> Json<StorageStatus> {
    Json(state.svc.storage())
}
