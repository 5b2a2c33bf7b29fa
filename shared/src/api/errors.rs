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

/// What went wrong, for programs: every code the node sends in [`ApiError::code`], and the two the
/// editor uses for answers that carry no error body. A code a newer node adds reads as `Unknown`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// A request value is out of range or inconsistent (`field` names it).
    InvalidParameter,
    /// The request body is not JSON.
    InvalidJson,
    InvalidQuery,
    InvalidHeader,
    ContentType,
    Unauthorized,
    NotFound,
    /// The upload is not a media file the node can read.
    BadMedia,
    /// A model the job needs is not installed.
    ModelUnavailable,
    /// A job's output asked for before it is done.
    NotReady,
    /// The job's output file has gone from the node.
    OutputMissing,
    /// Cancelling a job that has ended.
    JobFinished,
    NotRetryable,
    /// An `Idempotency-Key` sent again with another body.
    IdempotencyKeyReused,
    /// The cut list cannot be written in the format asked for.
    CutList,
    TooLarge,
    DiskFull,
    UnknownUpload,
    UploadIncomplete,
    OffsetMismatch,
    ChecksumAlgorithm,
    ChecksumMismatch,
    TusVersion,
    /// The node's job store (a farm's PostgreSQL) does not answer just now; try again shortly.
    StoreUnavailable,
    /// A built-in preset: it cannot be replaced, renamed or deleted.
    ReadOnly,
    /// The name is taken.
    Conflict,
    /// An exported file (presets, job bundle) from a newer Kino than this node.
    UnsupportedVersion,
    /// A fault of the node's own; the message gives a request id to find it in the log.
    Internal,
    /// (Editor) an answer without an error body.
    Http,
    /// (Editor) the upload protocol answered something unexpected.
    Tus,
    #[serde(other)]
    Unknown,
}

impl ErrorCode {
    /// Every code.
    pub const ALL: [ErrorCode; 31] = [
        ErrorCode::InvalidParameter,
        ErrorCode::InvalidJson,
        ErrorCode::InvalidQuery,
        ErrorCode::InvalidHeader,
        ErrorCode::ContentType,
        ErrorCode::Unauthorized,
        ErrorCode::NotFound,
        ErrorCode::BadMedia,
        ErrorCode::ModelUnavailable,
        ErrorCode::NotReady,
        ErrorCode::OutputMissing,
        ErrorCode::JobFinished,
        ErrorCode::NotRetryable,
        ErrorCode::IdempotencyKeyReused,
        ErrorCode::CutList,
        ErrorCode::TooLarge,
        ErrorCode::DiskFull,
        ErrorCode::UnknownUpload,
        ErrorCode::UploadIncomplete,
        ErrorCode::OffsetMismatch,
        ErrorCode::ChecksumAlgorithm,
        ErrorCode::ChecksumMismatch,
        ErrorCode::TusVersion,
        ErrorCode::Internal,
        ErrorCode::StoreUnavailable,
        ErrorCode::ReadOnly,
        ErrorCode::Conflict,
        ErrorCode::UnsupportedVersion,
        ErrorCode::Http,
        ErrorCode::Tus,
        ErrorCode::Unknown,
    ];

    /// The code as sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidParameter => "invalid_parameter",
            ErrorCode::InvalidJson => "invalid_json",
            ErrorCode::InvalidQuery => "invalid_query",
            ErrorCode::InvalidHeader => "invalid_header",
            ErrorCode::ContentType => "content_type",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::NotFound => "not_found",
            ErrorCode::BadMedia => "bad_media",
            ErrorCode::ModelUnavailable => "model_unavailable",
            ErrorCode::NotReady => "not_ready",
            ErrorCode::OutputMissing => "output_missing",
            ErrorCode::JobFinished => "job_finished",
            ErrorCode::NotRetryable => "not_retryable",
            ErrorCode::IdempotencyKeyReused => "idempotency_key_reused",
            ErrorCode::CutList => "cut_list",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::DiskFull => "disk_full",
            ErrorCode::UnknownUpload => "unknown_upload",
            ErrorCode::UploadIncomplete => "upload_incomplete",
            ErrorCode::OffsetMismatch => "offset_mismatch",
            ErrorCode::ChecksumAlgorithm => "checksum_algorithm",
            ErrorCode::ChecksumMismatch => "checksum_mismatch",
            ErrorCode::TusVersion => "tus_version",
            ErrorCode::StoreUnavailable => "store_unavailable",
            ErrorCode::ReadOnly => "read_only",
            ErrorCode::Conflict => "conflict",
            ErrorCode::UnsupportedVersion => "unsupported_version",
            ErrorCode::Internal => "internal",
            ErrorCode::Http => "http",
            ErrorCode::Tus => "tus",
            ErrorCode::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The JSON body of every error the node returns.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// Stable machine-readable code, e.g. `invalid_parameter`, `not_found`.
    pub code: ErrorCode,
    pub message: String,
    /// The request field at fault, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl From<SpecError> for ApiError {
    fn from(e: SpecError) -> Self {
        ApiError {
            code: ErrorCode::InvalidParameter,
            message: e.to_string(),
            field: Some(e.field),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ErrorCode;

    #[test]
    fn codes_read_and_write_as_their_wire_names() {
        for code in ErrorCode::ALL {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            assert_eq!(serde_json::from_str::<ErrorCode>(&json).unwrap(), code);
        }
        assert_eq!(
            serde_json::from_str::<ErrorCode>("\"from_the_future\"").unwrap(),
            ErrorCode::Unknown
        );
    }
}
