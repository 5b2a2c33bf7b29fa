//! The OpenAPI 3 document, generated from the handlers and types, and a browsable UI (Swagger UI from
//! the `swagger-ui-dist` npm package, installed by the set-up into `static/vendor`).

use super::{jobs, AppState};
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::{Json, Router};
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Kino render node",
        description = "Uploads (tus 1.0 at /api/uploads), jobs, live progress, downloads."
    ),
    paths(
        super::uploads::tus_options,
        super::uploads::create,
        super::uploads::head,
        super::uploads::info,
        super::uploads::patch,
        super::uploads::terminate,
        jobs::create_job,
        jobs::list_jobs,
        jobs::get_job,
        jobs::cancel_job,
        jobs::retry_job,
        jobs::output,
        jobs::report,
        jobs::scene_thumbnail,
        jobs::quality_thumbnail,
        jobs::cut_list,
        jobs::tracks,
        super::events::job_events,
        super::events::all_events,
        super::preview::preview,
        super::probe::probe_file,
        super::overview::overview,
        super::nodes::list_nodes,
        super::resources::resources,
        super::resources::failures,
        super::resources::storage,
        super::resources::analytics,
        super::presets::list,
        super::presets::save,
        super::presets::rename,
        super::presets::delete,
        super::presets::export,
        super::presets::import,
        super::bundles::export,
        super::bundles::import
    ),
    components(schemas(
        kino_shared::JobSpec,
        kino_shared::JobStatus,
        kino_shared::ApiError,
        kino_shared::MediaInfo,
        kino_shared::ProgressEvent,
        jobs::Report,
        kino_shared::NodeStatus,
        kino_shared::ResourceHistory,
        kino_shared::PresetFile,
        kino_shared::JobBundle
    ))
)]
pub struct ApiDoc;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/openapi.json", get(openapi))
        .route("/api/docs", get(ui))
}

async fn openapi() -> impl IntoResponse {
    Json(ApiDoc::openapi())
}

async fn ui() -> Html<&'static str> {
    Html(
        r##"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Kino API</title>
<link rel="stylesheet" href="/static/vendor/swagger-ui/swagger-ui.css"></head>
<body><div id="ui"></div><script src="/static/vendor/swagger-ui/swagger-ui-bundle.js"></script>
<script>
const token = new URLSearchParams(location.search).get("token");
window.ui = SwaggerUIBundle({ url: "/api/openapi.json" + (token ? "?token=" + encodeURIComponent(token) : ""), dom_id: "#ui",
  requestInterceptor: r => { if (token) r.headers.Authorization = "Bearer " + token; return r; } });
</script></body></html>"##,
    )
}
