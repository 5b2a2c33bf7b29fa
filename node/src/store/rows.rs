//! Rows as the database returns them (`sqlx::FromRow`, plain scalars that both backends decode) and
//! their conversion into the types the rest of the node uses, checking what SQL cannot.

use super::{ChunkPlan, ChunkRow, Result, StoreError, UploadRow};
use kino_shared::{ChunkState, ChunkStatus, JobState, JobStatus};

/// A job row with its chunk counts, each read through the chunks' primary-key index (sums cast:
/// PostgreSQL sums BIGINT into NUMERIC).
pub const JOB_STATUS: &str =
    "SELECT j.id, j.state, j.spec, j.output, j.error, j.frames_total, j.created_ms,
        j.updated_ms,
        CAST((SELECT COUNT(*) FROM chunks c WHERE c.job_id = j.id) AS BIGINT) AS total,
        CAST((SELECT COALESCE(SUM(CASE WHEN c.state = 'done' THEN 1 ELSE 0 END), 0)
            FROM chunks c WHERE c.job_id = j.id) AS BIGINT) AS done,
        CAST((SELECT COALESCE(SUM(CASE WHEN c.state = 'done' THEN c.frames ELSE 0 END), 0)
            FROM chunks c WHERE c.job_id = j.id) AS BIGINT) AS frames_done
    FROM jobs j";

/// One row of [`JOB_STATUS`].
#[derive(sqlx::FromRow)]
pub struct JobRecord {
    id: String,
    state: String,
    spec: String,
    output: String,
    error: Option<String>,
    frames_total: i64,
    created_ms: i64,
    updated_ms: i64,
    total: i64,
    done: i64,
    frames_done: i64,
}

impl TryFrom<JobRecord> for JobStatus {
    type Error = StoreError;

    fn try_from(r: JobRecord) -> Result<Self> {
        let state = JobState::parse(&r.state)
            .ok_or_else(|| StoreError::Corrupt(format!("job {}: state {}", r.id, r.state)))?;
        let spec: kino_shared::JobSpec = serde_json::from_str(&r.spec)
            .map_err(|e| StoreError::Corrupt(format!("job {}: spec: {e}", r.id)))?;
        // An analysis-only job ends without an output.
        let output = (state == JobState::Done && !spec.analyse_only).then_some(r.output);
        Ok(JobStatus {
            state,
            spec,
            frames_total: r.frames_total as u64,
            frames_done: r.frames_done as u64,
            chunks_total: r.total as u32,
            chunks_done: r.done as u32,
            error: r.error,
            output,
            created_ms: r.created_ms,
            updated_ms: r.updated_ms,
            id: r.id,
        })
    }
}

/// A row of `chunks`.
#[derive(sqlx::FromRow)]
pub struct ChunkRecord {
    pub job_id: String,
    idx: i64,
    start_pts: i64,
    end_pts: i64,
    decode_from_pts: i64,
    frames: i64,
    state: String,
    attempts: i64,
    renders: i64,
    lease_owner: Option<String>,
    lease_no: i64,
    error: Option<String>,
    lane: Option<String>,
}

impl TryFrom<ChunkRecord> for ChunkRow {
    type Error = StoreError;

    fn try_from(r: ChunkRecord) -> Result<Self> {
        let state = ChunkState::parse(&r.state).ok_or_else(|| {
            StoreError::Corrupt(format!(
                "job {} chunk {}: state {}",
                r.job_id, r.idx, r.state
            ))
        })?;
        Ok(ChunkRow {
            plan: ChunkPlan {
                index: r.idx as u32,
                start_pts: r.start_pts,
                end_pts: r.end_pts,
                decode_from_pts: r.decode_from_pts,
                frames: r.frames as u64,
            },
            state,
            attempts: r.attempts as u32,
            renders: r.renders as u32,
            lease_owner: r.lease_owner,
            lease_no: r.lease_no as u64,
            error: r.error,
            lane: r.lane,
        })
    }
}

impl From<ChunkRow> for ChunkStatus {
    fn from(c: ChunkRow) -> Self {
        ChunkStatus {
            index: c.plan.index,
            state: c.state,
            // The plan's open ends (i64::MIN/MAX) are not values a client should see.
            start_pts: (c.plan.start_pts != i64::MIN).then_some(c.plan.start_pts),
            end_pts: (c.plan.end_pts != i64::MAX).then_some(c.plan.end_pts),
            frames: c.plan.frames,
            attempts: c.attempts,
            worker: c.lease_owner,
            lane: c.lane,
            error: c.error,
        }
    }
}

/// A chunk as another node changed it (for the event relay).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkChange {
    pub job: String,
    pub index: u32,
    pub state: ChunkState,
    pub lease_no: u64,
    pub owner: Option<String>,
    pub lane: Option<String>,
    pub frames: u64,
}

/// A row of `uploads`.
#[derive(sqlx::FromRow)]
pub struct UploadRecord {
    id: String,
    length: i64,
    metadata: String,
    complete: i64,
    sha256: Option<String>,
    created_ms: i64,
}

impl From<UploadRecord> for UploadRow {
    fn from(r: UploadRecord) -> Self {
        UploadRow {
            id: r.id,
            length: r.length as u64,
            metadata: r.metadata,
            complete: r.complete != 0,
            sha256: r.sha256,
            created_ms: r.created_ms,
        }
    }
}
