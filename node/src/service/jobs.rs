//! A job's life, in one place for the CLI and the HTTP API alike: `admit` checks a spec against its
//! input before anything is stored (the same checks for both), `submit` stores it and announces it,
//! `cancel` and `retry` change its state. Each owns its state change and its event; callers only
//! map the typed outcome to an HTTP status or an exit code.

use crate::media::{self, probe, MediaError};
use crate::pipeline::job::{self, JobError};
use crate::store::{Store, StoreError};
use kino_shared::ErrorCode;
use kino_shared::{JobSpec, JobState, JobStatus, MediaInfo, ProgressEvent, SpecError};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use thiserror::Error;
use tokio::sync::broadcast;

/// Why a job could not be admitted or changed.
#[derive(Debug, Error)]
pub enum ServiceError {
    /// A value of the spec (or what it needs) is wrong: HTTP 422 with the field, CLI exit 2.
    #[error(transparent)]
    Invalid(#[from] SpecError),
    /// The input (or a track) cannot be used: HTTP 422 naming `field`, CLI exit 3.
    #[error("{source}")]
    BadMedia {
        field: &'static str,
        #[source]
        source: MediaError,
    },
    /// A network the job cannot run without is not installed: HTTP 422, CLI exit 2.
    #[error("{0}")]
    ModelUnavailable(SpecError),
    #[error("job {0} not found")]
    NotFound(String),
    /// The job is not in a state that allows this: HTTP 409.
    #[error("{message}")]
    Conflict { code: ErrorCode, message: String },
    #[error(transparent)]
    Store(StoreError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(id) => ServiceError::NotFound(id),
            other => ServiceError::Store(other),
        }
    }
}

/// A spec that passed every check that can be made before work starts.
#[derive(Debug, Clone)]
pub struct Admitted {
    pub spec: JobSpec,
    pub input: PathBuf,
    pub output: PathBuf,
    /// The input's probe (headers only).
    pub info: MediaInfo,
}

/// The field an error of the sync track is reported under.
pub const TRACK_FIELD: &str = "audio_stages.sync.track";

/// Detection cannot produce its tracks without its models: refused up front, naming the set-up
/// step. Needs only the spec, so HTTP checks it before looking the input up.
pub fn check_models(spec: &JobSpec) -> Result<(), ServiceError> {
    job::check_detect_models(spec).map_err(|e| match e {
        JobError::Invalid(e) => ServiceError::ModelUnavailable(e),
        other => ServiceError::Internal(other.to_string()),
    })
}

/// Checks `spec` for `input` → `output`: values, models, container and encoder, that the input is
/// media with what the stages need. Nothing is stored.
pub async fn admit(
    spec: JobSpec,
    input: PathBuf,
    output: PathBuf,
) -> Result<Admitted, ServiceError> {
    media::init();
    check_models(&spec)?;
    job::preflight(&spec, &output).map_err(|e| match e {
        JobError::Invalid(e) => ServiceError::Invalid(e),
        JobError::Media(m) => ServiceError::BadMedia {
            field: "output",
            source: m,
        },
        other => ServiceError::Internal(other.to_string()),
    })?;
    let (path, audio_stages) = (input.clone(), spec.audio_stages.clone());
    let info = tokio::task::spawn_blocking(move || {
        let probed = probe::probe(&path, false)?;
        media::audio::check_stages(&audio_stages, !probed.info.audio.is_empty())?;
        Ok::<_, MediaError>(probed.info)
    })
    .await
    .map_err(|e| ServiceError::Internal(e.to_string()))?
    .map_err(|e| {
        let field = match &e {
            MediaError::Audio(crate::audio::AudioError::NoReferenceAudio) => "input",
            MediaError::Audio(_) => TRACK_FIELD,
            _ => "input",
        };
        ServiceError::BadMedia { field, source: e }
    })?;
    job::check_stages_fit_input(&spec, &info).map_err(|e| match e {
        JobError::Invalid(e) => ServiceError::Invalid(e),
        other => ServiceError::Internal(other.to_string()),
    })?;
    Ok(Admitted {
        spec,
        input,
        output,
        info,
    })
}

/// Stores an admitted job as queued under `id` (its resume `key` defaults to the id) and announces
/// it. The caller wakes whatever runs jobs.
pub async fn submit(
    store: &Store,
    events: &broadcast::Sender<ProgressEvent>,
    job: &Admitted,
    id: &str,
    key: Option<&str>,
) -> Result<JobStatus, ServiceError> {
    store
        .create_job(
            id,
            key.unwrap_or(id),
            &job.spec,
            &job.input.display().to_string(),
            &job.output.display().to_string(),
        )
        .await?;
    let _ = events.send(ProgressEvent::JobState {
        job: id.to_owned(),
        state: JobState::Queued,
    });
    Ok(store.job(id).await?)
}

/// Marks a job cancelled and announces it; finished chunks stay (retry resumes). The caller stops
/// its workers.
pub async fn cancel(
    store: &Store,
    events: &broadcast::Sender<ProgressEvent>,
    id: &str,
) -> Result<JobStatus, ServiceError> {
    let job = store.job(id).await?;
    if job.state.is_final() {
        return Err(ServiceError::Conflict {
            code: ErrorCode::JobFinished,
            message: format!("job is already {}", job.state.as_str()),
        });
    }
    store.set_job_state(id, JobState::Cancelled, None).await?;
    let _ = events.send(ProgressEvent::JobState {
        job: id.to_owned(),
        state: JobState::Cancelled,
    });
    Ok(store.job(id).await?)
}

/// Queues a failed or cancelled job again (done chunks are not redone) and announces it.
/// `running`: its workers have not stopped yet.
pub async fn retry(
    store: &Store,
    events: &broadcast::Sender<ProgressEvent>,
    id: &str,
    running: bool,
) -> Result<JobStatus, ServiceError> {
    let job = store.job(id).await?;
    if !matches!(job.state, JobState::Failed | JobState::Cancelled) {
        return Err(ServiceError::Conflict {
            code: ErrorCode::NotRetryable,
            message: format!("job is {}", job.state.as_str()),
        });
    }
    if running {
        return Err(ServiceError::Conflict {
            code: ErrorCode::NotRetryable,
            message: format!(
                "job is {} but its workers are still stopping; try again shortly",
                job.state.as_str()
            ),
        });
    }
    store.retry_job(id).await?;
    let _ = events.send(ProgressEvent::JobState {
        job: id.to_owned(),
        state: JobState::Queued,
    });
    Ok(store.job(id).await?)
}

/// Identifies "the same render" for the CLI's resume: input identity (path, size, modification
/// time), spec and output path.
pub fn job_key(input: &Path, spec: &JobSpec, output: &Path) -> Result<String, ServiceError> {
    let meta = std::fs::metadata(input).map_err(|e| ServiceError::BadMedia {
        field: "input",
        source: match e.kind() {
            std::io::ErrorKind::NotFound => MediaError::NotFound(input.display().to_string()),
            _ => MediaError::Io {
                path: input.display().to_string(),
                source: e,
            },
        },
    })?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let spec_json = serde_json::to_vec(spec).map_err(|e| ServiceError::Internal(e.to_string()))?;
    let mut h = Sha256::new();
    h.update(input.display().to_string());
    h.update(meta.len().to_le_bytes());
    h.update(mtime.to_le_bytes());
    h.update(spec_json);
    h.update(output.display().to_string());
    Ok(hex::encode(h.finalize()))
}
