//! Job and chunk states, job status, and the live progress events.

use super::*;
use serde::{Deserialize, Serialize};

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Queued,
    /// Whole-video analysis (motion, colour statistics) before rendering.
    Analysing,
    Rendering,
    Assembling,
    Done,
    Failed,
    Cancelled,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Analysing => "analysing",
            JobState::Rendering => "rendering",
            JobState::Assembling => "assembling",
            JobState::Done => "done",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "queued" => JobState::Queued,
            "analysing" => JobState::Analysing,
            "rendering" => JobState::Rendering,
            "assembling" => JobState::Assembling,
            "done" => JobState::Done,
            "failed" => JobState::Failed,
            "cancelled" => JobState::Cancelled,
            _ => return None,
        })
    }
    pub fn is_final(self) -> bool {
        matches!(
            self,
            JobState::Done | JobState::Failed | JobState::Cancelled
        )
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChunkState {
    Pending,
    Running,
    Done,
    Failed,
}

impl ChunkState {
    pub fn as_str(self) -> &'static str {
        match self {
            ChunkState::Pending => "pending",
            ChunkState::Running => "running",
            ChunkState::Done => "done",
            ChunkState::Failed => "failed",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => ChunkState::Pending,
            "running" => ChunkState::Running,
            "done" => ChunkState::Done,
            "failed" => ChunkState::Failed,
            _ => return None,
        })
    }
}

/// One chunk of a job: frames with presentation timestamps in `[start_pts, end_pts)`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChunkStatus {
    pub index: u32,
    pub state: ChunkState,
    /// First presentation timestamp (stream time base); absent for the first chunk, which starts
    /// with the stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_pts: Option<i64>,
    /// End of the chunk (exclusive); absent for the last chunk, which runs to the stream's end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_pts: Option<i64>,
    pub frames: u64,
    pub attempts: u32,
    pub worker: Option<String>,
    /// The node and worker holding (or that rendered) it, as `node#worker`: the 3D view's lane.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lane: Option<String>,
    pub error: Option<String>,
}

/// A failed attempt, by node: a chunk's, or the job's on that node before any chunk (its input
/// unreadable there, say). In a farm these decide when a chunk fails the job and when a node stops
/// taking a job's chunks.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeFailure {
    /// The chunk; absent for a failure before any chunk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk: Option<u32>,
    pub node: String,
    pub error: String,
    /// When, in milliseconds since the epoch.
    pub at_ms: i64,
}

/// A recent failure anywhere on the node (or farm): a chunk attempt or a whole job, newest first in
/// `GET /api/failures`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecentFailure {
    pub job: String,
    /// The chunk; absent for the job's own failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk: Option<u32>,
    /// The node it happened on, when known (a farm's failures record it).
    #[serde(default)]
    pub node: String,
    /// One line.
    pub error: String,
    pub at_ms: i64,
}

/// A job as the node reports it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobStatus {
    pub id: String,
    pub state: JobState,
    pub spec: JobSpec,
    pub frames_total: u64,
    pub frames_done: u64,
    pub chunks_total: u32,
    pub chunks_done: u32,
    pub error: Option<String>,
    pub output: Option<String>,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// Live progress, in order, as the node emits it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ProgressEvent {
    /// The current state of a job, sent first to every new listener.
    Snapshot {
        job: String,
        status: Box<JobStatus>,
        chunks: Vec<ChunkStatus>,
    },
    JobState {
        job: String,
        state: JobState,
    },
    /// The job was planned; `resumed` chunks were already done by an earlier run.
    Planned {
        job: String,
        chunks: u32,
        frames: u64,
        resumed: u32,
    },
    ChunkClaimed {
        job: String,
        chunk: u32,
        worker: String,
        /// The node and worker, as `node#worker` (see [`ChunkStatus::lane`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        lane: Option<String>,
    },
    ChunkDone {
        job: String,
        chunk: u32,
        frames: u64,
        /// Where the chunk's time went (decode, conversion, each stage, encode, measurement), when
        /// this node rendered it: the node's stage-timing histograms count it.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        timings: Vec<crate::PartTime>,
    },
    /// The analysis pass finished a chunk (`done` of `total` analysed).
    Analysed {
        job: String,
        chunk: u32,
        done: u32,
        total: u32,
    },
    ChunkFailed {
        job: String,
        chunk: u32,
        attempt: u32,
        error: String,
    },
    Frames {
        job: String,
        frames_done: u64,
        frames_total: u64,
        fps: f64,
        eta_seconds: Option<f64>,
    },
    Warning {
        job: String,
        message: String,
    },
    /// Something the user should know that is not a problem (e.g. which GPU a stage runs on).
    Note {
        job: String,
        message: String,
    },
    /// The job finished; `output` is where to get the result (a URL on the node, a path in the CLI),
    /// empty for an analysis-only job.
    Done {
        job: String,
        output: String,
    },
    Failed {
        job: String,
        error: String,
    },
}

impl ProgressEvent {
    /// The job the event concerns.
    pub fn job(&self) -> &str {
        match self {
            ProgressEvent::Snapshot { job, .. }
            | ProgressEvent::JobState { job, .. }
            | ProgressEvent::Planned { job, .. }
            | ProgressEvent::ChunkClaimed { job, .. }
            | ProgressEvent::ChunkDone { job, .. }
            | ProgressEvent::Analysed { job, .. }
            | ProgressEvent::ChunkFailed { job, .. }
            | ProgressEvent::Frames { job, .. }
            | ProgressEvent::Warning { job, .. }
            | ProgressEvent::Note { job, .. }
            | ProgressEvent::Done { job, .. }
            | ProgressEvent::Failed { job, .. } => job,
        }
    }
}
