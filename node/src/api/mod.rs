//! The HTTP API (axum): tus uploads, jobs, WebSocket progress, downloads with Range, one-frame preview,
//! health, metrics, the OpenAPI document and its browsable UI. Every error is an HTTP status with a JSON `ApiError`.

pub mod bundles;
pub mod docs;
pub mod events;
pub mod farm;
pub mod jobs;
pub mod nodes;
pub mod overview;
pub mod presets;
pub mod preview;
pub mod probe;
pub mod redact;
pub mod resources;
pub mod uploads;

#[cfg(test)]
mod tests;

use crate::service::Service;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::{Json, Router};
use kino_shared::ApiError;
use kino_shared::ErrorCode;
use std::path::PathBuf;
use std::sync::Arc;

/// Settings of the HTTP side.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Bearer token protecting every route but health; `None` only on loopback.
    pub token: Option<String>,
    /// Largest accepted upload.
    pub max_upload_bytes: u64,
    /// The built web bundle served at `/`, when present.
    pub web_dir: Option<PathBuf>,
    /// Static assets (the API docs UI) served at `/static`.
    pub static_dir: PathBuf,
}

#[derive(Clone)]
pub struct AppState {
    pub svc: Arc<Service>,
    pub config: Arc<ApiConfig>,
    pub uploads: Arc<uploads::Locks>,
    /// Keeps data-folder paths out of responses and events.
    pub redact: Arc<redact::Redactor>,
}

/// An error response: status plus the JSON body every client can rely on.
#[derive(Debug)]
pub struct ApiErr(pub StatusCode, pub ApiError);

impl ApiErr {
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        ApiErr(
            status,
            ApiError {
                code,
                message: message.into(),
                field: None,
            },
        )
    }
    pub fn field(mut self, field: &str) -> Self {
        self.1.field = Some(field.into());
        self
    }
    pub fn not_found(what: &str, id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            format!("{what} {id} not found"),
        )
    }
    /// A write that failed: 507 when the disk is full (the client may come back), else internal.
    pub fn write(e: std::io::Error) -> Self {
        if e.raw_os_error() == Some(libc::ENOSPC) {
            Self::new(
                StatusCode::INSUFFICIENT_STORAGE,
                ErrorCode::DiskFull,
                "the node's disk is full",
            )
        } else {
            Self::internal(e)
        }
    }
    /// A fault of the node's own: the cause goes to the log under a request id, the client gets
    /// the id (the cause may name files or internals).
    pub fn internal(e: impl std::fmt::Display) -> Self {
        let request = uuid::Uuid::new_v4().simple().to_string();
        let request = &request[..12];
        tracing::error!(request, "internal error: {e}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            format!("internal error (request {request}); the node's log has the cause"),
        )
    }
}

/// A JSON body of type `T`: 400 when it is not JSON, 422 naming the field that does not fit.
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> ApiResult<T> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let (status, code) = match inner.classify() {
            serde_json::error::Category::Syntax
            | serde_json::error::Category::Eof
            | serde_json::error::Category::Io => (StatusCode::BAD_REQUEST, ErrorCode::InvalidJson),
            serde_json::error::Category::Data => (
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::InvalidParameter,
            ),
        };
        let err = ApiErr::new(status, code, format!("{path}: {inner}"));
        if path == "." {
            err
        } else {
            err.field(&path)
        }
    })
}

/// A file's format or version refused (see `kino_shared::check_format`): 422, and
/// `unsupported_version` when it comes from a newer Kino.
pub fn refused_file(e: kino_shared::FileError) -> ApiErr {
    let code = if e.newer {
        ErrorCode::UnsupportedVersion
    } else {
        ErrorCode::InvalidParameter
    };
    ApiErr::new(StatusCode::UNPROCESSABLE_ENTITY, code, e.error.message).field(&e.error.field)
}

impl IntoResponse for ApiErr {
    fn into_response(self) -> Response {
        let mut r = (self.0, Json(self.1)).into_response();
        r.headers_mut()
            .insert("Tus-Resumable", HeaderValue::from_static("1.0.0"));
        r
    }
}

impl From<crate::store::StoreError> for ApiErr {
    fn from(e: crate::store::StoreError) -> Self {
        match e {
            crate::store::StoreError::NotFound(id) => ApiErr::not_found("job", &id),
            e if e.is_unavailable() => {
                tracing::warn!("store unavailable: {e}");
                ApiErr::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    ErrorCode::StoreUnavailable,
                    "the job store (database) does not answer just now; try again shortly",
                )
            }
            other => ApiErr::internal(other),
        }
    }
}

impl From<crate::service::ServiceError> for ApiErr {
    fn from(e: crate::service::ServiceError) -> Self {
        use crate::service::ServiceError as E;
        match e {
            E::Invalid(spec) => ApiErr(StatusCode::UNPROCESSABLE_ENTITY, ApiError::from(spec)),
            E::BadMedia { field, source } => ApiErr::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::BadMedia,
                source.to_string(),
            )
            .field(field),
            E::ModelUnavailable(spec) => ApiErr(
                StatusCode::UNPROCESSABLE_ENTITY,
                ApiError {
                    code: ErrorCode::ModelUnavailable,
                    message: spec.to_string(),
                    field: Some(spec.field),
                },
            ),
            E::NotFound(id) => ApiErr::not_found("job", &id),
            E::Conflict { code, message } => ApiErr::new(StatusCode::CONFLICT, code, message),
            E::Store(e) => ApiErr::internal(e),
            E::Internal(e) => ApiErr::internal(e),
        }
    }
}

pub type ApiResult<T> = Result<T, ApiErr>;

/// A job as clients see it: the output is its download link and a synced recording its upload id,
/// not paths on the node.
pub fn public(mut status: kino_shared::JobStatus) -> kino_shared::JobStatus {
    if status.output.is_some() {
        status.output = Some(format!("/api/jobs/{}/output", status.id));
    }
    for stage in &mut status.spec.audio_stages {
        if let kino_shared::AudioStageSpec::Sync(p) = stage {
            if let Some(id) = std::path::Path::new(&p.track).file_name() {
                p.track = id.to_string_lossy().into_owned();
            }
        }
    }
    status
}

/// Checks the bearer token (header, or `?token=` for WebSockets and `<video>` sources).
async fn auth(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(token) = state.config.token.as_deref() else {
        return next.run(req).await;
    };
    let path = req.uri().path();
    if path == "/api/health" || !(path.starts_with("/api") || path == "/metrics") {
        return next.run(req).await;
    }
    let from_header = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let from_query = req
        .uri()
        .query()
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("token=")));
    let given = from_header.or(from_query);
    let ok = given.is_some_and(|g| constant_time_eq(g.as_bytes(), token.as_bytes()));
    if ok {
        next.run(req).await
    } else {
        let mut r = ApiErr::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthorized,
            "missing or wrong bearer token",
        )
        .into_response();
        r.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        r
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

/// OpenMetrics for a scraper that asks for it (Prometheus does), the classic text format otherwise.
async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let text = state.svc.metrics.render(&state.svc.store).await;
    let openmetrics = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/openmetrics-text"));
    if openmetrics {
        return (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response();
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        crate::service::metrics_text(&text),
    )
        .into_response()
}

/// What `/` shows until the editor bundle is built: where things are.
async fn landing() -> axum::response::Html<&'static str> {
    axum::response::Html(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Kino node</title><style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem}
@media (prefers-color-scheme:dark){body{background:#111;color:#eee}a{color:#8cf}}</style></head><body>
<h1>Kino render node</h1><p>The node is running. The browser editor is not built: <code>bash scripts/web.sh</code> builds it (the README's run command does), then reload.</p>
<ul><li><a href="/api/docs">API documentation</a> (<a href="/api/openapi.json">OpenAPI document</a>)</li>
<li><a href="/api/health">Health</a> · <a href="/metrics">Metrics</a></li></ul>
<p>Render from the command line with <code>kino-node render IN -o OUT</code>.</p></body></html>"#,
    )
}

async fn fallback() -> ApiErr {
    ApiErr::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, "no such route")
}

/// The whole router.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/api/health", get(health))
        .route("/metrics", get(metrics))
        .merge(uploads::routes())
        .merge(overview::routes())
        .merge(jobs::routes())
        .merge(nodes::routes())
        .merge(resources::routes())
        .merge(presets::routes())
        .merge(bundles::routes())
        .merge(farm::routes())
        .merge(events::routes())
        .merge(preview::routes())
        .merge(probe::routes())
        .merge(docs::routes())
        // An unknown API path is a JSON 404, not the editor's page.
        .route("/api/{*rest}", any(fallback))
        // Only what the node itself says can name its files: the editor's bundle and static assets
        // are served as they are, without being buffered and scanned.
        .layer(axum::middleware::from_fn_with_state(
            state.redact.clone(),
            redact::bodies,
        ));
    let mut app = api.nest_service(
        "/static",
        tower_http::services::ServeDir::new(&state.config.static_dir),
    );
    if let Some(web) = &state.config.web_dir {
        app = app.fallback_service(
            tower_http::services::ServeDir::new(web)
                .fallback(tower_http::services::ServeFile::new(web.join("index.html"))),
        );
    } else {
        app = app.route("/", get(landing)).fallback(fallback);
    }
    app.layer(axum::middleware::from_fn_with_state(state.clone(), auth))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}
