//! Job bundles over HTTP: `GET /api/jobs/{id}/bundle[?output=true]` streams an ended job's
//! record (and output) as a tar archive; `POST /api/jobs/import` reads one back as a new job with
//! that history, or, with `?input=UPLOAD`, runs the bundle's spec again on that upload.

use super::resources::parsed;
use super::{ApiErr, ApiResult, AppState};
use crate::service::bundle::{self, BundleError};
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::StreamExt;
use kino_shared::{ApiError, ErrorCode, JobStatus};
use serde::Deserialize;
use std::io::Write;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/jobs/{id}/bundle", get(export))
        .route("/api/jobs/import", post(import))
}

impl From<BundleError> for ApiErr {
    fn from(e: BundleError) -> Self {
        match e {
            BundleError::Refused(f) => super::refused_file(f),
            BundleError::Damaged(_) => ApiErr::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::InvalidParameter,
                e.to_string(),
            ),
            BundleError::Io(io) => ApiErr::write(io),
            BundleError::Service(s) => s.into(),
        }
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// Carry the output file too (default false: the record only).
    output: Option<bool>,
}

/// An ended job as a bundle: a tar archive of `bundle.json` (spec, state, chunks, every report
/// section) and, when asked, the output.
#[utoipa::path(operation_id = "export_job_bundle", tag = "jobs", get, path = "/api/jobs/{id}/bundle", params(("id" = String, Path), ExportQuery),
    responses((status = 200, content_type = "application/x-tar", body = Vec<u8>),
        (status = 404, body = ApiError), (status = 409, body = ApiError)))]
pub async fn export(
    State(state): State<AppState>,
    Path(id): Path<String>,
    query: Result<Query<ExportQuery>, QueryRejection>,
) -> ApiResult<Response> {
    let with_output = parsed(query)?.output.unwrap_or(false);
    let (mut manifest, output) = bundle::bundle_of(&state.svc, &id, with_output).await?;
    if let Some(f) = manifest.output.as_mut() {
        let (input, out) = state.svc.store.job_input_output(&id).await?;
        f.download_name = Some(super::jobs::download_name(&state, &input, &out).await);
    }
    // The record leaves the node as the report does: without the data folder's paths.
    let text = serde_json::to_string(&manifest).map_err(ApiErr::internal)?;
    let manifest: kino_shared::JobBundle =
        serde_json::from_str(&state.redact.text(&text)).map_err(ApiErr::internal)?;
    let (w, r) = tokio::io::duplex(256 << 10);
    tokio::task::spawn_blocking(move || {
        let mut sink = tokio_util::io::SyncIoBridge::new(w);
        let written = bundle::write_bundle(&manifest, output.as_deref(), &mut sink)
            .and_then(|()| sink.shutdown());
        if let Err(e) = written {
            // The client sees an archive without its end: tar readers report it cut short.
            tracing::warn!("bundle of job {}: {e}", manifest.job.id);
        }
    });
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-tar".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"kino-job-{id}.tar\""),
            ),
        ],
        Body::from_stream(tokio_util::io::ReaderStream::new(r)),
    )
        .into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// An upload to render the bundle's spec on (a new job); without it the bundle's job is added
    /// with its history (state, chunks, report, output when carried).
    input: Option<String>,
}

/// A temporary file removed when dropped.
struct Scratch(std::path::PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Imports a job bundle: the job with its history, or its spec run again on `input`.
#[utoipa::path(operation_id = "import_job_bundle", tag = "jobs", post, path = "/api/jobs/import", params(ImportQuery),
    request_body(content = Vec<u8>, content_type = "application/x-tar"),
    responses((status = 201, body = JobStatus), (status = 422, body = ApiError),
        (status = 507, body = ApiError)))]
pub async fn import(
    State(state): State<AppState>,
    query: Result<Query<ImportQuery>, QueryRejection>,
    body: Body,
) -> ApiResult<Response> {
    let input = parsed(query)?.input;
    let dir = state.svc.config.data_dir.join("tmp");
    std::fs::create_dir_all(&dir).map_err(ApiErr::write)?;
    let scratch = Scratch(dir.join(format!("bundle-{}.tar", uuid::Uuid::new_v4().simple())));
    let mut file = std::fs::File::create(&scratch.0).map_err(ApiErr::write)?;
    let mut stream = body.into_data_stream();
    while let Some(piece) = stream.next().await {
        let piece = piece.map_err(|e| {
            ApiErr::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidParameter,
                format!("reading the bundle: {e}"),
            )
        })?;
        file.write_all(&piece).map_err(ApiErr::write)?;
    }
    file.sync_all().map_err(ApiErr::write)?;
    drop(file);
    let job = match input {
        Some(upload) => {
            let manifest = bundle::manifest(&scratch.0).await?;
            let spec = kino_shared::JobSpec {
                input: upload,
                ..manifest.job.spec
            };
            let body = serde_json::to_vec(&spec).map_err(ApiErr::internal)?;
            let id = uuid::Uuid::new_v4().to_string();
            return super::jobs::create(&state, &body, id).await;
        }
        None => bundle::import(&state.svc, &scratch.0).await?,
    };
    Ok((StatusCode::CREATED, Json(job)).into_response())
}
