//! Presets: `GET /api/presets` (built-in first, read-only, then the user's), `PUT` and `DELETE
//! /api/presets/{name}`, `POST /api/presets/{name}/rename`, and the versioned file: `GET
//! /api/presets/export`, `POST /api/presets/import`.

use super::{parse_json, refused_file, ApiErr, ApiResult, AppState};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use kino_shared::{
    builtin_presets, check_preset_name, is_builtin_preset, ApiError, ErrorCode, Preset, PresetFile,
    PresetSettings,
};
use serde::{Deserialize, Serialize};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/presets", get(list))
        .route("/api/presets/export", get(export))
        .route("/api/presets/import", post(import))
        .route("/api/presets/{name}", put(save).delete(delete))
        .route("/api/presets/{name}/rename", post(rename))
}

/// A name a user preset may take: valid, and not a built-in's.
fn writable(name: &str, field: &str) -> Result<(), ApiErr> {
    check_preset_name(name).map_err(|e| {
        ApiErr::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidParameter,
            e.message,
        )
        .field(field)
    })?;
    if is_builtin_preset(name) {
        return Err(ApiErr::new(
            StatusCode::FORBIDDEN,
            ErrorCode::ReadOnly,
            format!("'{name}' is a built-in preset: it is read-only (save under another name)"),
        )
        .field(field));
    }
    Ok(())
}

fn settings_checked(settings: &PresetSettings) -> Result<(), ApiErr> {
    settings.validate().map_err(|e| {
        ApiErr(
            StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::from(kino_shared::SpecError::new(
                format!("settings.{}", e.field),
                e.message,
            )),
        )
    })
}

/// Every preset: the built-in ones (read-only) first, then the user's by name.
#[utoipa::path(operation_id = "list_presets", tag = "presets", get, path = "/api/presets",
    responses((status = 200, body = Vec<Preset>)))]
pub async fn list(State(state): State<AppState>) -> ApiResult<Json<Vec<Preset>>> {
    let mut all = builtin_presets();
    all.extend(state.svc.store.presets().await?);
    Ok(Json(all))
}

/// Saves the settings as a user preset (created, or replaced when the name exists).
#[utoipa::path(operation_id = "save_preset", tag = "presets", put, path = "/api/presets/{name}", request_body = PresetSettings,
    params(("name" = String, Path, description = "1–64 characters")),
    responses((status = 201, body = Preset), (status = 200, body = Preset),
        (status = 403, body = ApiError), (status = 422, body = ApiError)))]
pub async fn save(
    State(state): State<AppState>,
    Path(name): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    writable(&name, "name")?;
    let settings: PresetSettings = parse_json(&body)?;
    settings_checked(&settings)?;
    let replaced = state.svc.store.save_preset(&name, &settings).await?;
    let status = if replaced {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let preset = Preset {
        name,
        builtin: false,
        settings,
    };
    Ok((status, Json(preset)).into_response())
}

#[derive(Deserialize, Serialize, utoipa::ToSchema)]
pub struct Rename {
    /// The new name.
    pub name: String,
}

/// Renames a user preset.
#[utoipa::path(operation_id = "rename_preset", tag = "presets", post, path = "/api/presets/{name}/rename", request_body = Rename,
    params(("name" = String, Path)),
    responses((status = 204), (status = 403, body = ApiError), (status = 404, body = ApiError),
        (status = 409, body = ApiError)))]
pub async fn rename(
    State(state): State<AppState>,
    Path(name): Path<String>,
    body: Bytes,
) -> ApiResult<StatusCode> {
    let to: Rename = parse_json(&body)?;
    writable(&name, "name")?;
    writable(&to.name, "name")?;
    if state.svc.store.rename_preset(&name, &to.name).await? {
        return Ok(StatusCode::NO_CONTENT);
    }
    let names: Vec<String> = (state.svc.store.presets().await?)
        .into_iter()
        .map(|p| p.name)
        .collect();
    if !names.contains(&name) {
        return Err(ApiErr::not_found("preset", &name));
    }
    Err(ApiErr::new(
        StatusCode::CONFLICT,
        ErrorCode::Conflict,
        format!("a preset named '{}' exists already", to.name),
    )
    .field("name"))
}

/// Deletes a user preset.
#[utoipa::path(operation_id = "delete_preset", tag = "presets", delete, path = "/api/presets/{name}",
    params(("name" = String, Path)),
    responses((status = 204), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn delete(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    writable(&name, "name")?;
    if state.svc.store.delete_preset(&name).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiErr::not_found("preset", &name))
    }
}

/// The user's presets as a versioned file (`kino-presets.json`); built-ins are not exported.
#[utoipa::path(operation_id = "export_presets", tag = "presets", get, path = "/api/presets/export",
    responses((status = 200, body = PresetFile)))]
pub async fn export(State(state): State<AppState>) -> ApiResult<Response> {
    let file = PresetFile::new(state.svc.store.presets().await?);
    Ok((
        [(
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"kino-presets.json\"",
        )],
        Json(file),
    )
        .into_response())
}

/// What an import added.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct Imported {
    /// The names the presets were saved under, in the file's order: a name already taken (or a
    /// built-in's) gets " (2)", " (3)", … so nothing is overwritten.
    pub names: Vec<String>,
}

/// Imports a presets file: all of it or, when any preset is invalid or the file is from a newer
/// Kino, none of it.
#[utoipa::path(operation_id = "import_presets", tag = "presets", post, path = "/api/presets/import", request_body = PresetFile,
    responses((status = 200, body = Imported), (status = 400, body = ApiError),
        (status = 422, body = ApiError)))]
pub async fn import(State(state): State<AppState>, body: Bytes) -> ApiResult<Json<Imported>> {
    let text = std::str::from_utf8(&body).map_err(|_| {
        ApiErr::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidJson,
            "the presets file is not UTF-8 text",
        )
    })?;
    let file = PresetFile::parse(text).map_err(refused_file)?;
    let mut taken: Vec<String> = (state.svc.store.presets().await?)
        .into_iter()
        .map(|p| p.name)
        .collect();
    let mut names = Vec::new();
    for p in file.presets {
        let name = free_name(&p.name, |n| {
            taken.iter().any(|t| t == n) || is_builtin_preset(n)
        });
        state.svc.store.save_preset(&name, &p.settings).await?;
        taken.push(name.clone());
        names.push(name);
    }
    Ok(Json(Imported { names }))
}

/// `name`, or the first of "name (2)", "name (3)", … that is not taken.
fn free_name(name: &str, taken: impl Fn(&str) -> bool) -> String {
    if !taken(name) {
        return name.to_owned();
    }
    (2..)
        .map(|k| format!("{name} ({k})"))
        .find(|n| !taken(n))
        .unwrap_or_else(|| name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::free_name;

    #[test]
    fn a_taken_name_gets_the_next_free_number() {
        let taken = ["Look", "Look (2)"];
        assert_eq!(free_name("Look", |n| taken.contains(&n)), "Look (3)");
        assert_eq!(free_name("Other", |n| taken.contains(&n)), "Other");
    }
}
