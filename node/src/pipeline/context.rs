//! What every phase of a job's run shares: the job's handle (store, id, events), how a run ends or
//! fails, and the one place blocking work is handed to tokio's blocking pool.

use crate::enhance as stages;
use crate::media::MediaError;
use crate::store::{Store, StoreError};
use kino_shared::{JobState, ProgressEvent};
use thiserror::Error;
use tokio::sync::broadcast;

#[derive(Debug, Error)]
pub enum JobError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Media(#[from] MediaError),
    #[error(transparent)]
    Stage(#[from] stages::StageError),
    /// A parameter the job cannot run with, naming its field (HTTP 422, CLI exit 2).
    #[error(transparent)]
    Invalid(#[from] kino_shared::SpecError),
    /// The node holding a job's input (a farm without shared storage) could not be reached or
    /// refused: not the job's fault nor this node's, the job waits for it.
    #[error("{0}")]
    Peer(String),
    #[error("internal error: {0}")]
    Internal(String),
}

/// Runs `f` on the blocking pool (decoding, probing, encoding): a panic there is an internal error.
pub async fn blocking<T, F>(f: F) -> Result<T, JobError>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| JobError::Internal(e.to_string()))
}

#[derive(Debug, Clone, PartialEq)]
pub enum JobOutcome {
    Done {
        output: String,
        frames: u64,
        chunks: u32,
        resumed: u32,
    },
    Failed(String),
    Cancelled,
    /// Another node of the farm finishes the job (it holds the assembly, or the job ended there).
    Elsewhere,
}

/// One job's handle for the phases of its run: state changes are written to the store and announced.
#[derive(Clone)]
pub struct JobCtx {
    pub store: Store,
    pub job: String,
    pub events: broadcast::Sender<ProgressEvent>,
}

impl JobCtx {
    pub fn new(store: &Store, job: &str, events: broadcast::Sender<ProgressEvent>) -> JobCtx {
        JobCtx {
            store: store.clone(),
            job: job.to_owned(),
            events,
        }
    }

    /// Announces `e` (no listener is fine).
    pub fn send(&self, e: ProgressEvent) {
        let _ = self.events.send(e);
    }

    pub fn warn(&self, message: String) {
        self.send(ProgressEvent::Warning {
            job: self.job.clone(),
            message,
        });
    }

    pub fn note(&self, message: String) {
        self.send(ProgressEvent::Note {
            job: self.job.clone(),
            message,
        });
    }

    /// Records and announces the job's new state.
    pub async fn set_state(&self, state: JobState) -> Result<(), JobError> {
        if !self.store.advance_job_state(&self.job, state, None).await? {
            return Ok(());
        }
        self.send(ProgressEvent::JobState {
            job: self.job.clone(),
            state,
        });
        Ok(())
    }

    /// Records the job as failed with its reason and tells the listeners.
    pub async fn fail(&self, reason: String) -> Result<JobOutcome, JobError> {
        let job = &self.job;
        if !(self.store)
            .advance_job_state(job, JobState::Failed, Some(&reason))
            .await?
        {
            return Ok(JobOutcome::Elsewhere);
        }
        self.send(ProgressEvent::Failed {
            job: self.job.clone(),
            error: reason.clone(),
        });
        Ok(JobOutcome::Failed(reason))
    }
}
