//! Errors every client reads: a spec value at fault, and the HTTP error body.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A parameter that is out of range or inconsistent, with the field it concerns.
#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize, Deserialize)]
#[error("{field}: {message}")]
pub struct SpecError {
    pub field: String,
    pub message: String,
}

impl SpecError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        SpecError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// The JSON body of every error the node returns.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// Stable machine-readable code, e.g. `invalid_parameter`, `not_found`.
    pub code: String,
    pub message: String,
    /// The request field at fault, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl From<SpecError> for ApiError {
    fn from(e: SpecError) -> Self {
        ApiError {
            code: "invalid_parameter".into(),
            message: e.to_string(),
            field: Some(e.field),
        }
    }
}
