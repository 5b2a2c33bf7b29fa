//! The dashboard's data: `GET /api/resources`, the nodes' resource readings over the last minutes
//! (downsampled for long windows), and `GET /api/failures`, the latest failures.

use super::{ApiErr, ApiResult, AppState};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use kino_shared::{
    Analytics, ErrorCode, RecentFailure, ResourceHistory, ResourceSample, StorageStatus,
};
use serde::Deserialize;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/resources", get(resources))
        .route("/api/failures", get(failures))
        .route("/api/storage", get(storage))
        .route("/api/analytics", get(analytics))
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

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AnalyticsQuery {
    /// Days back from now (default 30, at most 366).
    days: Option<f64>,
    /// Only jobs in this state: queued, analysing, rendering, assembling, done, failed, cancelled.
    state: Option<String>,
    /// Only jobs with a stage of this kind (denoise, scale, color, …).
    stage: Option<String>,
    /// `json` (default) or `csv`.
    format: Option<String>,
    /// The CSV's table: `days` (default) or `speeds`.
    table: Option<String>,
}

/// The job history summed up: jobs and minutes of video per day, success rate, speed per stage
/// and resolution, storage; filtered by window, state and stage; JSON or CSV.
#[utoipa::path(tag = "nodes", get, path = "/api/analytics", params(AnalyticsQuery),
    responses((status = 200, body = Analytics), (status = 200, content_type = "text/csv", body = String),
        (status = 422, body = kino_shared::ApiError)))]
pub async fn analytics(
    State(state): State<AppState>,
    query: Result<Query<AnalyticsQuery>, QueryRejection>,
) -> ApiResult<Response> {
    use crate::service::analytics::{csv, summarize, Filter};
    let q = parsed(query)?;
    let days = q.days.unwrap_or(30.0);
    if !(days > 0.0 && days <= 366.0) {
        return Err(invalid("days", "days must be more than 0 and at most 366"));
    }
    if let Some(s) = &q.state {
        if kino_shared::JobState::parse(s).is_none() {
            return Err(invalid(
                "state",
                "state must be a job state (done, failed, cancelled, queued, …)",
            ));
        }
    }
    let table = q.table.as_deref().unwrap_or("days");
    if !["days", "speeds"].contains(&table) {
        return Err(invalid("table", "table must be days or speeds"));
    }
    let to_ms = crate::store::now_ms();
    let from_ms = to_ms - (days * 86_400_000.0) as i64;
    let history = state.svc.store.job_history(from_ms).await?;
    let filter = Filter {
        state: q.state,
        stage: q.stage,
    };
    let mut a = summarize(&history, from_ms, to_ms, &filter);
    let storage = state.svc.storage();
    (a.uploads_bytes, a.outputs_bytes) = (storage.uploads_bytes, storage.outputs_bytes);
    match q.format.as_deref().unwrap_or("json") {
        "json" => Ok(Json(a).into_response()),
        "csv" => {
            let text = csv(&a, table).map_err(ApiErr::internal)?;
            Ok((
                [
                    (
                        axum::http::header::CONTENT_TYPE,
                        "text/csv; charset=utf-8".to_owned(),
                    ),
                    (
                        axum::http::header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"kino-analytics-{table}.csv\""),
                    ),
                ],
                text,
            )
                .into_response())
        }
        _ => Err(invalid("format", "format must be json or csv")),
    }
}
