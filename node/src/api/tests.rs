//! The HTTP error cases at the router (no server process, no port): every refusal has its status, a
//! JSON body with a code from `ErrorCode`, the field at fault where there is one, and no path of
//! the node's.

use super::{router, ApiConfig, AppState};
use crate::service::{Service, ServiceConfig};
use crate::store::Store;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use kino_shared::{ApiError, ErrorCode};
use std::sync::Arc;
use tower::ServiceExt;

const TOKEN: &str = "s3cret";

/// A router on a fresh data folder, with a token and a 1 MB upload cap.
async fn app(dir: &std::path::Path) -> Router {
    let store = Store::open_sqlite(dir).await.expect("store");
    let svc = Service::new(
        store,
        ServiceConfig {
            data_dir: dir.to_owned(),
            max_jobs: 1,
            chunk_slots: 1,
            memory_bytes: 1 << 30,
            max_attempts: 1,
            lease_ms: 30_000,
            sample_ms: 0,
            node: String::new(),
            farm_link: None,
            janitor: Default::default(),
        },
    );
    router(AppState {
        svc,
        config: Arc::new(ApiConfig {
            token: Some(TOKEN.into()),
            max_upload_bytes: 1_000_000,
            web_dir: None,
            static_dir: dir.join("static"),
        }),
        uploads: Arc::default(),
        redact: Arc::new(super::redact::Redactor::new(dir)),
    })
}

fn req(method: Method, uri: &str) -> axum::http::request::Builder {
    Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {TOKEN}"))
}

fn tus(method: Method, uri: &str) -> axum::http::request::Builder {
    req(method, uri).header("Tus-Resumable", "1.0.0")
}

fn post_job(body: &'static str) -> Request<Body> {
    req(Method::POST, "/api/jobs")
        .header("content-type", "application/json")
        .body(Body::from(body))
        .expect("request")
}

/// Sends `r` and returns the response's status and headers with its body.
async fn send(app: &Router, r: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let resp = app.clone().oneshot(r).await.expect("router answers");
    let (parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20).await.expect("body");
    (parts.status, parts.headers, bytes.to_vec())
}

/// Sends `r`, expects `status` and an error body, and returns it.
async fn refused(
    app: &Router,
    r: Request<Body>,
    status: StatusCode,
    dir: &std::path::Path,
) -> ApiError {
    let (got, _, body) = send(app, r).await;
    let text = String::from_utf8_lossy(&body).into_owned();
    assert_eq!(got, status, "{text}");
    assert!(
        !text.contains(&*dir.to_string_lossy()),
        "the data folder leaks: {text}"
    );
    serde_json::from_slice(&body).unwrap_or_else(|e| panic!("not an error body ({e}): {text}"))
}

#[tokio::test]
async fn tokens_are_required_except_for_health() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = app(dir.path()).await;
    let bare = |uri: &str| Request::get(uri).body(Body::empty()).expect("request");
    let e = refused(
        &app,
        bare("/api/jobs"),
        StatusCode::UNAUTHORIZED,
        dir.path(),
    )
    .await;
    assert_eq!(e.code, ErrorCode::Unauthorized);
    let wrong = Request::get("/api/jobs")
        .header("authorization", "Bearer nope")
        .body(Body::empty())
        .expect("request");
    refused(&app, wrong, StatusCode::UNAUTHORIZED, dir.path()).await;
    assert_eq!(send(&app, bare("/api/health")).await.0, StatusCode::OK);
    let listed = req(Method::GET, "/api/jobs")
        .body(Body::empty())
        .expect("request");
    assert_eq!(send(&app, listed).await.0, StatusCode::OK);
}

#[tokio::test]
async fn bad_job_specs_name_their_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = app(dir.path()).await;
    let d = dir.path();
    let e = refused(&app, post_job("{\"input\": "), StatusCode::BAD_REQUEST, d).await;
    assert_eq!(e.code, ErrorCode::InvalidJson);
    let unknown_kind = post_job(r#"{"input":"x","stages":[{"kind":"warp"}]}"#);
    let e = refused(&app, unknown_kind, StatusCode::UNPROCESSABLE_ENTITY, d).await;
    assert_eq!(
        (e.code, e.field.as_deref()),
        (ErrorCode::InvalidParameter, Some("stages[0].kind"))
    );
    let zero_width = post_job(r#"{"input":"x","stages":[{"kind":"scale","width":0}]}"#);
    let e = refused(&app, zero_width, StatusCode::UNPROCESSABLE_ENTITY, d).await;
    assert_eq!(e.field.as_deref(), Some("stages.scale.width"));
    let overlapping = post_job(r#"{"input":"x","keep":[{"start":0,"end":3},{"start":2,"end":4}]}"#);
    let e = refused(&app, overlapping, StatusCode::UNPROCESSABLE_ENTITY, d).await;
    assert_eq!(e.field.as_deref(), Some("keep[1]"));
    let backwards = post_job(r#"{"input":"x","keep":[{"start":5,"end":1}]}"#);
    let e = refused(&app, backwards, StatusCode::UNPROCESSABLE_ENTITY, d).await;
    assert_eq!(e.field.as_deref(), Some("keep[0]"));
    let with_interpolate = post_job(
        r#"{"input":"x","keep":[{"start":1}],"stages":[{"kind":"interpolate","factor":2}]}"#,
    );
    let e = refused(&app, with_interpolate, StatusCode::UNPROCESSABLE_ENTITY, d).await;
    assert_eq!(e.field.as_deref(), Some("keep"));
    let no_upload = post_job(r#"{"input":"0123456789abcdef0123456789abcdef"}"#);
    let e = refused(&app, no_upload, StatusCode::UNPROCESSABLE_ENTITY, d).await;
    assert_eq!(e.field.as_deref(), Some("input"));
    let bad_key = req(Method::POST, "/api/jobs")
        .header("content-type", "application/json")
        .header("Idempotency-Key", "")
        .body(Body::from(r#"{"input":"x"}"#))
        .expect("request");
    let e = refused(&app, bad_key, StatusCode::BAD_REQUEST, d).await;
    assert_eq!(e.code, ErrorCode::InvalidHeader);
}

#[tokio::test]
async fn unknown_jobs_are_404_on_every_route() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = app(dir.path()).await;
    for (method, uri) in [
        (Method::GET, "/api/jobs/nope"),
        (Method::DELETE, "/api/jobs/nope"),
        (Method::POST, "/api/jobs/nope/retry"),
        (Method::GET, "/api/jobs/nope/output"),
        (Method::GET, "/api/jobs/nope/report"),
        (Method::GET, "/api/jobs/nope/cutlist/edl"),
        (Method::GET, "/api/jobs/nope/tracks/json"),
        (Method::GET, "/api/no-such-route"),
    ] {
        let r = req(method.clone(), uri)
            .body(Body::empty())
            .expect("request");
        let e = refused(&app, r, StatusCode::NOT_FOUND, dir.path()).await;
        assert_eq!(e.code, ErrorCode::NotFound, "{method} {uri}");
    }
}

#[tokio::test]
async fn uploads_refuse_what_breaks_the_protocol() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = app(dir.path()).await;
    let d = dir.path();
    let too_big = tus(Method::POST, "/api/uploads")
        .header("Upload-Length", "2000000")
        .body(Body::empty())
        .expect("request");
    let e = refused(&app, too_big, StatusCode::PAYLOAD_TOO_LARGE, d).await;
    assert_eq!(
        (e.code, e.field.as_deref()),
        (ErrorCode::TooLarge, Some("Upload-Length"))
    );
    let create = tus(Method::POST, "/api/uploads")
        .header("Upload-Length", "10")
        .body(Body::empty())
        .expect("request");
    let (status, headers, _) = send(&app, create).await;
    assert_eq!(status, StatusCode::CREATED);
    let location = headers["location"].to_str().expect("location").to_owned();
    let wrong_offset = tus(Method::PATCH, &location)
        .header("Upload-Offset", "5")
        .header("Content-Type", "application/offset+octet-stream")
        .body(Body::from("abc"))
        .expect("request");
    let e = refused(&app, wrong_offset, StatusCode::CONFLICT, d).await;
    assert_eq!(e.code, ErrorCode::OffsetMismatch);
    let wrong_type = tus(Method::PATCH, &location)
        .header("Upload-Offset", "0")
        .body(Body::from("abc"))
        .expect("request");
    let e = refused(&app, wrong_type, StatusCode::UNSUPPORTED_MEDIA_TYPE, d).await;
    assert_eq!(e.code, ErrorCode::ContentType);
    let no_version = req(Method::POST, "/api/uploads")
        .header("Upload-Length", "10")
        .body(Body::empty())
        .expect("request");
    let e = refused(&app, no_version, StatusCode::PRECONDITION_FAILED, d).await;
    assert_eq!(e.code, ErrorCode::TusVersion);
}

#[tokio::test]
async fn a_file_that_is_not_media_is_refused_by_name_not_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = app(dir.path()).await;
    let text = "not a video\n".repeat(100);
    let create = tus(Method::POST, "/api/uploads")
        .header("Upload-Length", text.len().to_string())
        .body(Body::empty())
        .expect("request");
    let (_, headers, _) = send(&app, create).await;
    let location = headers["location"].to_str().expect("location").to_owned();
    let patch = tus(Method::PATCH, &location)
        .header("Upload-Offset", "0")
        .header("Content-Type", "application/offset+octet-stream")
        .body(Body::from(text))
        .expect("request");
    assert_eq!(send(&app, patch).await.0, StatusCode::NO_CONTENT);
    let id = location.rsplit('/').next().expect("upload id");
    let body = serde_json::json!({ "input": id }).to_string();
    let job = req(Method::POST, "/api/jobs")
        .header("content-type", "application/json")
        .body(Body::from(body))
        .expect("request");
    let e = refused(&app, job, StatusCode::UNPROCESSABLE_ENTITY, dir.path()).await;
    assert_eq!(
        (e.code, e.field.as_deref()),
        (ErrorCode::BadMedia, Some("input"))
    );
    assert!(e.message.contains(id), "{}", e.message);
}

#[tokio::test]
async fn previews_refuse_bad_queries_and_stages() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = app(dir.path()).await;
    let d = dir.path();
    let no_size = req(Method::POST, "/api/preview?stages=%5B%5D")
        .body(Body::empty())
        .expect("request");
    let e = refused(&app, no_size, StatusCode::BAD_REQUEST, d).await;
    assert_eq!(e.code, ErrorCode::InvalidQuery);
    let bad_stage = req(
        Method::POST,
        "/api/preview?width=2&height=2&stages=%5B%7B%22kind%22%3A%22warp%22%7D%5D",
    )
    .body(Body::from(vec![0u8; 2 * 2 * 4]))
    .expect("request");
    let e = refused(&app, bad_stage, StatusCode::UNPROCESSABLE_ENTITY, d).await;
    assert_eq!(e.code, ErrorCode::InvalidParameter);
}
