//! One frame through the node's own stage code: the editor's browser preview can be checked against
//! it, and stages only the node computes (denoise) can be previewed. The pixels travel as RGBA and
//! are converted exactly as the browser converts them (`kino_shared::preview`).

use super::{ApiErr, ApiResult, AppState};
use crate::enhance::{self, Analysis, Context};
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::Query;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use kino_shared::kernels::{color, content};
use kino_shared::preview::{self, PreviewError, MAX_PREVIEW_PIXELS};
use kino_shared::ErrorCode;
use kino_shared::{ApiError, Frame, JobSpec, OutputSpec, StageSpec};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Arc;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/preview", post(preview))
        // Two frames for interpolation.
        .route_layer(axum::extract::DefaultBodyLimit::max(
            MAX_PREVIEW_PIXELS * 8 + 1,
        ))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PreviewQuery {
    /// Frame width in pixels.
    width: usize,
    /// Frame height in pixels.
    height: usize,
    /// The stages, a JSON array of `StageSpec` (URL-encoded).
    stages: String,
    /// With an `interpolate` stage: the moment between the two frames of the body, above 0 and
    /// below 1.
    time: Option<f32>,
}

fn unprocessable(field: &str, message: impl Into<String>) -> ApiErr {
    ApiErr::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::InvalidParameter,
        message,
    )
    .field(field)
}

/// Parses and checks the stages as a job's would be; only what works on one frame is accepted.
fn parse_stages(json: &str) -> ApiResult<Vec<StageSpec>> {
    let stages: Vec<StageSpec> =
        serde_json::from_str(json).map_err(|e| unprocessable("stages", format!("stages: {e}")))?;
    let spec = JobSpec {
        input: "preview".into(),
        stages,
        audio_stages: vec![],
        scenes: None,
        auto_edit: None,
        keep: Vec::new(),
        analyse_only: false,
        output: OutputSpec::default(),
        chunk_seconds: 4.0,
    };
    spec.validate()
        .map_err(|e| ApiErr(StatusCode::UNPROCESSABLE_ENTITY, ApiError::from(e)))?;
    for s in &spec.stages {
        if matches!(
            s,
            StageSpec::Stabilize(_) | StageSpec::Hdr(_) | StageSpec::Detect(_)
        ) {
            return Err(unprocessable(
                &format!("stages.{}", s.name()),
                format!(
                    "the {} stage needs the whole video; it cannot be previewed on one frame",
                    s.name()
                ),
            ));
        }
    }
    Ok(spec.stages)
}

/// The frame size after the stages (so a large upscale is refused before it is computed).
fn output_size(stages: &[StageSpec], (mut w, mut h): (usize, usize)) -> ApiResult<()> {
    for s in stages {
        if let StageSpec::Scale(p) = s {
            let (nw, nh) = p
                .target_size(w as u32, h as u32, 1)
                .map_err(|e| ApiErr(StatusCode::UNPROCESSABLE_ENTITY, ApiError::from(e)))?;
            (w, h) = (nw as usize, nh as usize);
        }
    }
    if w * h > MAX_PREVIEW_PIXELS {
        return Err(unprocessable(
            "stages.scale",
            PreviewError::TooLarge {
                width: w,
                height: h,
            }
            .to_string(),
        ));
    }
    Ok(())
}

/// Runs the stages the way a chunk worker does; with `interpolate`, the stages before it run on
/// both frames, the network makes the one at `time` between them, and the rest runs on that.
fn process_pair(
    frames: (Frame, Option<Frame>),
    specs: &[StageSpec],
    time: f32,
) -> Result<Frame, enhance::StageError> {
    let Some(at) = specs.iter().position(|s| s.name() == "interpolate") else {
        return process(frames.0, specs);
    };
    let a = process(frames.0, &specs[..at])?;
    let b = match frames.1 {
        Some(b) => process(b, &specs[..at])?,
        None => a.clone(),
    };
    let between = enhance::interp::between(&a, &b, time)?;
    process(between, &specs[at + 1..])
}

/// Runs the stages the way a chunk worker does, with every neighbour of the frame being the frame
/// itself, and an automatic colour correction measured on this frame alone.
fn process(frame: Frame, specs: &[StageSpec]) -> Result<Frame, enhance::StageError> {
    let auto = specs.iter().find_map(|s| match s {
        StageSpec::Color(p) if p.is_auto() => Some(*p),
        _ => None,
    });
    let analysis = auto.map(|p| {
        let c = color::AutoCorrection::from_stats(&color::stats(&frame), &p);
        Arc::new(Analysis {
            colour: HashMap::from([(0, c)]),
            ..Default::default()
        })
    });
    let ctx = Context {
        analysis,
        ..Default::default()
    };
    let mut f = frame;
    for mut stage in enhance::build(specs, &ctx)? {
        let m = stage.margin();
        let window: Vec<&Frame> = std::iter::repeat_n(&f, m.before + 1 + m.after).collect();
        f = stage.process(&window, m.before, 0)?;
    }
    Ok(f)
}

/// POST /api/preview: RGBA pixels in, the processed frame's RGBA pixels out.
#[utoipa::path(post, path = "/api/preview", tag = "preview", params(PreviewQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "width × height × 4 bytes of RGBA (two such frames, one after the other, with an interpolate stage)"),
    responses((status = 200, description = "RGBA of the processed frame; its size in the Kino-Width and Kino-Height headers"),
        (status = 422, body = kino_shared::ApiError)))]
pub async fn preview(
    query: Result<Query<PreviewQuery>, QueryRejection>,
    body: Bytes,
) -> ApiResult<Response> {
    let Query(q) = query.map_err(|e| {
        ApiErr::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidQuery,
            e.body_text(),
        )
    })?;
    let mut stages = parse_stages(&q.stages)?;
    output_size(&stages, (q.width, q.height))?;
    let pair = stages.iter().any(|s| s.name() == "interpolate");
    let one = q.width.saturating_mul(q.height).saturating_mul(4);
    let time = match (pair, q.time) {
        (false, _) => 0.0,
        (true, Some(t)) if t > 0.0 && t < 1.0 => t,
        (true, t) => {
            return Err(unprocessable(
                "time",
                format!(
                "interpolate needs a time above 0 and below 1 between the two frames, got {t:?}"
            ),
            ))
        }
    };
    if pair && body.len() != 2 * one {
        return Err(unprocessable(
            "body",
            format!(
                "interpolate needs two frames of {one} bytes of RGBA, one after the other; got {} bytes",
                body.len()
            ),
        ));
    }
    let (first, second) = body.split_at(if pair { one } else { body.len() });
    let frame = preview::rgba_to_frame(first, q.width, q.height)
        .map_err(|e| unprocessable("body", e.to_string()))?;
    let next = match pair {
        true => Some(
            preview::rgba_to_frame(second, q.width, q.height)
                .map_err(|e| unprocessable("body", e.to_string()))?,
        ),
        false => None,
    };
    // `model=auto` decides on this frame alone (a job decides on frames over the whole input).
    let drawn = content::is_drawn(&[content::measure(&frame)]);
    kino_shared::resolve_auto_model(&mut stages, drawn);
    // A neural stage without its model does the classic resize, as a job would; say so.
    let warning = enhance::neural::warnings(&stages).join("; ");
    let out = tokio::task::spawn_blocking(move || process_pair((frame, next), &stages, time))
        .await
        .map_err(ApiErr::internal)?
        .map_err(|e| unprocessable("stages", e.to_string()))?;
    let rgba = preview::frame_to_rgba(&out);
    let mut r = ([(header::CONTENT_TYPE, "application/octet-stream")], rgba).into_response();
    let h = r.headers_mut();
    h.insert("Kino-Width", HeaderValue::from(out.width));
    h.insert("Kino-Height", HeaderValue::from(out.height));
    if !warning.is_empty() {
        // Header values are visible ASCII.
        let ascii: String = warning
            .chars()
            .map(|c| if c.is_ascii_graphic() { c } else { ' ' })
            .collect();
        if let Ok(v) = HeaderValue::from_str(&ascii) {
            h.insert("Kino-Warning", v);
        }
    }
    Ok(r)
}
