//! Jobs: create from an upload, list, get, cancel, retry, download the output (with Range), report.

use super::{ApiErr, ApiResult, AppState};
use crate::media::probe;
use crate::pipeline::input_layout::InputLayout;
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use kino_shared::ErrorCode;
use kino_shared::{ApiError, AudioStageSpec, ChunkStatus, JobSpec, JobState, JobStatus, MediaInfo};
use serde::Serialize;
use tower::ServiceExt;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/jobs", post(create_job).get(list_jobs))
        .route("/api/jobs/{id}", get(get_job).delete(cancel_job))
        .route("/api/jobs/{id}/retry", post(retry_job))
        .route("/api/jobs/{id}/output", get(output))
        .route("/api/jobs/{id}/report", get(report))
        .route("/api/jobs/{id}/scenes/{name}", get(scene_thumbnail))
        .route("/api/jobs/{id}/quality/{name}", get(quality_thumbnail))
        .route("/api/jobs/{id}/cutlist/{format}", get(cut_list))
        .route("/api/jobs/{id}/tracks/{format}", get(tracks))
}

/// Parses a `JobSpec`, naming the field at fault: 400 for malformed JSON, 422 for wrong values.
pub fn parse_spec(body: &[u8]) -> ApiResult<JobSpec> {
    let spec: JobSpec = super::parse_json(body)?;
    spec.validate()
        .map_err(|e| ApiErr(StatusCode::UNPROCESSABLE_ENTITY, ApiError::from(e)))?;
    Ok(spec)
}

/// Create a job from a finished upload; `input` is the upload id. With an `Idempotency-Key`
/// header a retried request (same key, same body) answers with the job the first one made
/// (200, `Idempotent-Replayed: true`) instead of making another; the same key with another body
/// is refused. Keys are kept for 48 hours.
#[utoipa::path(tag = "jobs", post, path = "/api/jobs", request_body = JobSpec,
    params(("Idempotency-Key" = Option<String>, Header, description = "a client-chosen unique key (1–255 visible ASCII characters) that makes retries safe")),
    responses((status = 201, body = JobStatus), (status = 200, body = JobStatus, description = "a retry: the job the first request with this key made"),
        (status = 400, body = ApiError), (status = 422, body = ApiError)))]
pub async fn create_job(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let id = uuid::Uuid::new_v4().to_string();
    let Some(key) = idempotency_key(&headers)? else {
        return create(&state, &body, id).await;
    };
    let hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&body));
    let started = std::time::Instant::now();
    loop {
        match state
            .svc
            .store
            .reserve_idempotency_key(&key, &hash, &id)
            .await?
        {
            crate::store::Reservation::New => {
                let made = create(&state, &body, id.clone()).await;
                if made.is_err() {
                    state.svc.store.release_idempotency_key(&key, &id).await?;
                }
                return made;
            }
            crate::store::Reservation::Earlier {
                request_hash,
                job_id,
            } => {
                if request_hash != hash {
                    return Err(ApiErr::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        ErrorCode::IdempotencyKeyReused,
                        "this Idempotency-Key was used with a different request body",
                    ));
                }
                // The first request may still be admitting its job: wait for it, or for its
                // refusal (the key is then free and this request is judged afresh).
                match state.svc.store.job(&job_id).await {
                    Ok(status) => {
                        let mut r = (StatusCode::OK, Json(super::public(status))).into_response();
                        r.headers_mut()
                            .insert("Idempotent-Replayed", HeaderValue::from_static("true"));
                        if let Ok(v) = HeaderValue::from_str(&format!("/api/jobs/{job_id}")) {
                            r.headers_mut().insert(header::LOCATION, v);
                        }
                        return Ok(r);
                    }
                    Err(crate::store::StoreError::NotFound(_))
                        if started.elapsed() < std::time::Duration::from_secs(60) =>
                    {
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }
}

/// The `Idempotency-Key` header, checked: 1–255 visible ASCII characters.
fn idempotency_key(headers: &axum::http::HeaderMap) -> ApiResult<Option<String>> {
    let Some(v) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let bad = || {
        ApiErr::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidHeader,
            "Idempotency-Key must be 1 to 255 visible ASCII characters",
        )
        .field("Idempotency-Key")
    };
    let s = v.to_str().map_err(|_| bad())?.trim();
    if s.is_empty() || s.len() > 255 || !s.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad());
    }
    Ok(Some(s.to_owned()))
}

/// Admits a job (spec, upload, media checks) and creates it under `id`.
pub(super) async fn create(state: &AppState, body: &[u8], id: String) -> ApiResult<Response> {
    let mut spec = parse_spec(body)?;
    crate::service::jobs::check_models(&spec)?;
    let input = finished_upload(state, &spec.input, "input").await?;
    // An external recording to sync is an upload too; the job keeps its path in the data folder.
    for stage in &mut spec.audio_stages {
        if let AudioStageSpec::Sync(p) = stage {
            let path = finished_upload(state, &p.track, TRACK_FIELD).await?;
            p.track = path.display().to_string();
        }
    }
    let out_dir = state.svc.config.data_dir.join("outputs");
    std::fs::create_dir_all(&out_dir).map_err(ApiErr::internal)?;
    let output = out_dir.join(format!("{id}.{}", spec.output.container.extension()));
    // The same checks the CLI makes, before anything is stored.
    let admitted = crate::service::admit(spec, input, output).await?;
    let status = super::public(state.svc.submit(&admitted, &id).await?);
    let mut r = (StatusCode::CREATED, Json(status)).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("/api/jobs/{id}")) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    Ok(r)
}

use crate::service::jobs::TRACK_FIELD;

/// The file of a finished upload named by `id` (refused, naming `field`, when there is none).
/// Only upload ids are accepted, never paths: a client cannot point the node at other files.
pub(super) async fn finished_upload(
    state: &AppState,
    id: &str,
    field: &str,
) -> ApiResult<std::path::PathBuf> {
    let upload = if id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        state.svc.store.upload(id).await?
    } else {
        None
    };
    let upload = upload.ok_or_else(|| {
        ApiErr::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::UnknownUpload,
            format!("no upload with id '{id}'"),
        )
        .field(field)
    })?;
    if !upload.complete {
        return Err(ApiErr::new(
            StatusCode::CONFLICT,
            ErrorCode::UploadIncomplete,
            "the upload is not complete yet",
        )
        .field(field));
    }
    Ok(super::uploads::upload_path(state, &upload.id))
}

/// All jobs, newest first.
#[utoipa::path(tag = "jobs", get, path = "/api/jobs", responses((status = 200, body = [JobStatus])))]
pub async fn list_jobs(State(state): State<AppState>) -> ApiResult<Json<Vec<JobStatus>>> {
    Ok(Json(
        state
            .svc
            .store
            .list_jobs(500)
            .await?
            .into_iter()
            .map(super::public)
            .collect(),
    ))
}

async fn job_or_404(state: &AppState, id: &str) -> ApiResult<JobStatus> {
    match state.svc.store.job(id).await {
        Ok(j) => Ok(j),
        Err(crate::store::StoreError::NotFound(_)) => Err(ApiErr::not_found("job", id)),
        Err(e) => Err(e.into()),
    }
}

#[utoipa::path(tag = "jobs", get, path = "/api/jobs/{id}", responses((status = 200, body = JobStatus), (status = 404, body = ApiError)))]
pub async fn get_job(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<JobStatus>> {
    Ok(Json(super::public(job_or_404(&state, &id).await?)))
}

/// Cancel a job: its workers stop, finished chunks are kept (retry resumes).
#[utoipa::path(tag = "jobs", delete, path = "/api/jobs/{id}", responses((status = 200, body = JobStatus), (status = 404, body = ApiError), (status = 409, body = ApiError)))]
pub async fn cancel_job(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<JobStatus>> {
    Ok(Json(super::public(state.svc.cancel(&id).await?)))
}

/// Retry a failed or cancelled job; done chunks are not redone.
#[utoipa::path(tag = "jobs", post, path = "/api/jobs/{id}/retry", responses((status = 200, body = JobStatus), (status = 404, body = ApiError), (status = 409, body = ApiError)))]
pub async fn retry_job(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<JobStatus>> {
    Ok(Json(super::public(state.svc.retry(&id).await?)))
}

/// The rendered file; supports `Range` so a `<video>` can seek.
#[utoipa::path(tag = "jobs", get, path = "/api/jobs/{id}/output", responses((status = 200, description = "the file"), (status = 206, description = "a byte range"), (status = 307, description = "in a farm without shared storage, on the node with the job's folder"), (status = 404, body = ApiError), (status = 409, body = ApiError), (status = 410, body = ApiError)))]
pub async fn output(
    State(state): State<AppState>,
    Path(id): Path<String>,
    req: Request,
) -> ApiResult<Response> {
    let job = job_or_404(&state, &id).await?;
    if job.state != JobState::Done {
        return Err(ApiErr::new(
            StatusCode::CONFLICT,
            ErrorCode::NotReady,
            format!("job is {}", job.state.as_str()),
        ));
    }
    let (input, out) = state.svc.store.job_input_output(&id).await?;
    // In a farm without shared storage, the output is on the node with the job's folder (asked
    // only when it is not in this node's: a player's many range requests cost no store reads).
    if !state.svc.in_my_folder(&out) {
        if let Some(home) = state.svc.home_of(&id).await {
            let to = format!("{}/api/jobs/{id}/output", home.trim_end_matches('/'));
            return Ok(axum::response::Redirect::temporary(&to).into_response());
        }
    }
    let mime = match std::path::Path::new(&out)
        .extension()
        .and_then(|e| e.to_str())
    {
        Some("webm") => "video/webm",
        Some("mkv") => "video/x-matroska",
        Some("mov") => "video/quicktime",
        _ => "video/mp4",
    };
    let resp = tower_http::services::ServeFile::new_with_mime(
        &out,
        &mime.parse().map_err(ApiErr::internal)?,
    )
    .oneshot(req)
    .await
    .map_err(ApiErr::internal)?;
    if resp.status() == StatusCode::NOT_FOUND {
        return Err(ApiErr::new(
            StatusCode::GONE,
            ErrorCode::OutputMissing,
            "the output file is gone",
        ));
    }
    let mut resp = resp.into_response();
    let name = download_name(&state, &input, &out).await;
    if let Ok(v) = axum::http::HeaderValue::from_str(&content_disposition(&name)) {
        resp.headers_mut()
            .insert(axum::http::header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

/// What a downloaded output is called: the uploaded file's name with `-kino` and the output's
/// extension (`holiday.mov` → `holiday-kino.mp4`), else `kino-<job>.<ext>`; an imported job's
/// output keeps the name it was saved under (its input is not on this node).
pub(super) async fn download_name(state: &AppState, input: &str, output: &str) -> String {
    if input.is_empty() {
        if let Some(name) = std::path::Path::new(output).file_name() {
            return name.to_string_lossy().into_owned();
        }
    }
    let ext = std::path::Path::new(output)
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("mp4");
    let upload = std::path::Path::new(input)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let original = match state.svc.store.upload(&upload).await {
        Ok(Some(row)) => super::uploads::decode_metadata(&row.metadata)
            .get("filename")
            .and_then(|v| v.as_str())
            .map(str::to_owned),
        _ => None,
    };
    let stem = original
        .as_deref()
        .map(std::path::Path::new)
        .and_then(|p| p.file_stem())
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.trim().is_empty());
    match stem {
        Some(stem) => format!("{stem}-kino.{ext}"),
        None => format!("kino-{}.{ext}", &upload.chars().take(8).collect::<String>()),
    }
}

/// `inline` (a `<video>` plays it) with the name for saving: an ASCII fallback and the exact name
/// as RFC 6266's `filename*`.
fn content_disposition(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            let plain = (c.is_ascii_graphic() && c != '"' && c != '\\') || c == ' ';
            if plain {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = name
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("inline; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// A scene thumbnail named in the report's `scenes` section (JPEG).
#[utoipa::path(tag = "jobs", get, path = "/api/jobs/{id}/scenes/{name}", responses((status = 200, content_type = "image/jpeg"), (status = 404, body = ApiError)))]
pub async fn scene_thumbnail(
    State(state): State<AppState>,
    Path((id, name)): Path<(String, String)>,
    req: Request,
) -> ApiResult<Response> {
    let dir = crate::pipeline::job::scene_dir(&state.svc.config.data_dir, &id);
    thumbnail(&state, &id, &dir, &name, req).await
}

/// A thumbnail of one of the worst moments named in the report's `quality` section (JPEG).
#[utoipa::path(tag = "jobs", get, path = "/api/jobs/{id}/quality/{name}", responses((status = 200, content_type = "image/jpeg"), (status = 404, body = ApiError)))]
pub async fn quality_thumbnail(
    State(state): State<AppState>,
    Path((id, name)): Path<(String, String)>,
    req: Request,
) -> ApiResult<Response> {
    let dir = crate::pipeline::job::quality_dir(&state.svc.config.data_dir, &id);
    thumbnail(&state, &id, &dir, &name, req).await
}

/// Serves the thumbnail `name` of job `id` from `dir`.
async fn thumbnail(
    state: &AppState,
    id: &str,
    dir: &std::path::Path,
    name: &str,
    req: Request,
) -> ApiResult<Response> {
    job_or_404(state, id).await?;
    // Names are `NNN.jpg`; anything else (a path, `..`) is not a thumbnail.
    let valid =
        name.len() == 7 && name.ends_with(".jpg") && name[..3].bytes().all(|b| b.is_ascii_digit());
    let path = dir.join(name);
    if !valid || !path.is_file() {
        return Err(ApiErr::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            format!("no thumbnail {name} for job {id}"),
        ));
    }
    let mime = "image/jpeg".parse().map_err(ApiErr::internal)?;
    tower_http::services::ServeFile::new_with_mime(&path, &mime)
        .oneshot(req)
        .await
        .map(IntoResponse::into_response)
        .map_err(ApiErr::internal)
}

/// The auto-edit cut list of a job, for editing tools: `edl` (CMX 3600), `fcpxml` (FCPXML 1.10) or
/// `otio` (OpenTimelineIO JSON). It names the source, so an editor can refine the cut.
#[utoipa::path(tag = "jobs", get, path = "/api/jobs/{id}/cutlist/{format}", params(("format" = String, Path, description = "edl, fcpxml or otio")), responses((status = 200, content_type = "text/plain"), (status = 404, body = ApiError)))]
pub async fn cut_list(
    State(state): State<AppState>,
    Path((id, format)): Path<(String, String)>,
) -> ApiResult<Response> {
    use crate::edit::{ExportFormat, ExportOptions};
    job_or_404(&state, &id).await?;
    let Some(kind) = ExportFormat::ALL
        .into_iter()
        .find(|f| f.extension() == format)
    else {
        return Err(ApiErr::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            format!("unknown cut list format {format:?} (edl, fcpxml or otio)"),
        ));
    };
    let report = crate::pipeline::job::job_cut(&state.svc.store, &id)
        .await
        .map_err(ApiErr::internal)?;
    let Some(report) = report else {
        return Err(ApiErr::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            format!("job {id} has no cut list (neither auto_edit nor keep was asked for, or the cut is not decided yet)"),
        ));
    };
    let text = kind
        .write(&report.cut_list, &ExportOptions::default())
        .map_err(|e| {
            ApiErr::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::CutList,
                e.to_string(),
            )
        })?;
    let mime = match kind {
        ExportFormat::Fcpxml => "application/xml",
        ExportFormat::Otio => "application/json",
        ExportFormat::Edl => "text/plain; charset=utf-8",
    };
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, mime.to_owned()),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"cut-{id}.{}\"", kind.extension()),
            ),
        ],
        text,
    )
        .into_response())
}

/// The tracks a job's `detect` stage found: `json` (per track: id, class, boxes in source pixels
/// with frame, time and score) or `mot` (MOT Challenge CSV: `frame,id,x,y,w,h,conf,-1,-1,-1`,
/// frames from 1).
#[utoipa::path(tag = "jobs", get, path = "/api/jobs/{id}/tracks/{format}", params(("format" = String, Path, description = "json or mot")), responses((status = 200, content_type = "application/json"), (status = 200, content_type = "text/csv"), (status = 404, body = ApiError)))]
pub async fn tracks(
    State(state): State<AppState>,
    Path((id, format)): Path<(String, String)>,
) -> ApiResult<Response> {
    use crate::detect::mot::TracksReport;
    job_or_404(&state, &id).await?;
    if format != "json" && format != "mot" {
        return Err(ApiErr::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            format!("unknown tracks format {format:?} (json or mot)"),
        ));
    }
    let Some(report) = state.svc.store.section::<TracksReport>(&id).await? else {
        return Err(ApiErr::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            format!("job {id} has no tracks (no detect stage, or its analysis has not run yet)"),
        ));
    };
    let (mime, ext, body) = if format == "mot" {
        ("text/csv; charset=utf-8", "csv", report.to_mot())
    } else {
        (
            "application/json",
            "json",
            serde_json::to_string(&report).map_err(ApiErr::internal)?,
        )
    };
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, mime.to_owned()),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"tracks-{id}.{ext}\""),
            ),
        ],
        body,
    )
        .into_response())
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Report {
    pub job: JobStatus,
    pub chunks: Vec<ChunkStatus>,
    /// Seconds from creation to the last state change.
    pub elapsed_seconds: f64,
    pub input: Option<MediaInfo>,
    pub output: Option<MediaInfo>,
    /// What the analysis and audio passes found, by section (`scenes`, `audio_sync`, …).
    #[schema(value_type = Object)]
    pub sections: std::collections::BTreeMap<String, serde_json::Value>,
    /// Failed attempts by node (a farm's record; alone, a chunk's last error is in `chunks`).
    pub failures: Vec<kino_shared::NodeFailure>,
    /// Nodes that failed too often in this job and no longer take its chunks.
    pub barred_nodes: Vec<String>,
    /// Nodes that cannot run this job at all, with why (an encoder or model missing there).
    pub declined_by: std::collections::BTreeMap<String, String>,
}

/// Stages, timings, chunk states and the probed input/output.
#[utoipa::path(tag = "jobs", get, path = "/api/jobs/{id}/report", responses((status = 200, body = Report), (status = 404, body = ApiError)))]
pub async fn report(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Report>> {
    let job = job_or_404(&state, &id).await?;
    let chunks = state.svc.store.chunk_statuses(&id).await?;
    let (input, output) = state.svc.store.job_input_output(&id).await?;
    let sections = state
        .svc
        .store
        .report_sections(&id)
        .await?
        .into_iter()
        // The nodes' own record of where the input's bytes lie: not for people.
        .filter(|(name, _)| name != <InputLayout as crate::store::ReportSection>::NAME)
        .collect();
    let failures = state.svc.store.failures(&id).await?;
    let mut per_node = std::collections::BTreeMap::<&str, i64>::new();
    for f in &failures {
        *per_node.entry(f.node.as_str()).or_default() += 1;
    }
    let barred_nodes = per_node
        .into_iter()
        .filter(|(_, n)| *n >= crate::store::BAR_AFTER)
        .map(|(node, _)| node.to_owned())
        .collect();
    let declined_by = state.svc.store.declines(&id).await?.into_iter().collect();
    let done = job.state == JobState::Done;
    let (input_info, output_info) = tokio::task::spawn_blocking(move || {
        let i = probe::probe(std::path::Path::new(&input), false)
            .ok()
            .map(|p| p.info);
        let o = if done {
            probe::probe(std::path::Path::new(&output), false)
                .ok()
                .map(|p| p.info)
        } else {
            None
        };
        (i, o)
    })
    .await
    .map_err(ApiErr::internal)?;
    Ok(Json(Report {
        elapsed_seconds: (job.updated_ms - job.created_ms) as f64 / 1000.0,
        job: super::public(job),
        chunks,
        input: input_info,
        output: output_info,
        sections,
        failures,
        barred_nodes,
        declined_by,
    }))
}
