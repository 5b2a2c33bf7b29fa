//! How a command fails, and the exit code each failure gets: 1 the work failed, 2 bad parameters
//! (or a missing encoder or model: the set-up, not the input), 3 bad input, 130 interrupted.

use crate::edit::measure::AutoEditError;
use crate::edit::EditError;
use crate::media::MediaError;
use crate::models::ModelError;
use crate::pipeline::job::JobError;
use crate::service::ServiceError;
use crate::store::StoreError;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum CliError {
    /// A usage problem found before any work.
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error(transparent)]
    Job(#[from] JobError),
    #[error(transparent)]
    Media(#[from] MediaError),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    AutoEdit(#[from] AutoEditError),
    #[error(transparent)]
    Edit(#[from] EditError),
    #[error("job store: {0}")]
    Store(#[from] StoreError),
    /// A file the command writes or a folder it needs.
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Json(#[from] serde_json::Error),
    /// Something this command expected is not there (a cut list, tracks).
    #[error("{0}")]
    Missing(String),
}

pub type CliResult<T> = Result<T, CliError>;

impl CliError {
    /// `what` failed with `source` (an error builder for `map_err`).
    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> CliError {
        let what = what.into();
        move |source| CliError::Io { what, source }
    }

    /// The process exit code for this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => 2,
            CliError::Service(s) => match s {
                ServiceError::Invalid(_) | ServiceError::ModelUnavailable(_) => 2,
                ServiceError::BadMedia { source, .. } => media_code(source),
                _ => 1,
            },
            CliError::Job(j) => match j {
                JobError::Invalid(_) | JobError::Stage(_) => 2,
                JobError::Media(m) => media_code(m),
                _ => 1,
            },
            CliError::Media(m) | CliError::AutoEdit(AutoEditError::Media(m)) => media_code(m),
            _ => 1,
        }
    }
}

fn media_code(m: &MediaError) -> u8 {
    match m {
        MediaError::EncoderMissing(_) | MediaError::Output { .. } | MediaError::Compare(_) => 2,
        MediaError::Encode(_) | MediaError::Io { .. } => 1,
        // A model the job needs is missing or broken: the set-up, not the input, is at fault.
        MediaError::Model(_) => 2,
        _ => 3,
    }
}
