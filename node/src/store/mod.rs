//! Jobs and chunks in SQL through sqlx's `Any` driver: SQLite in the data folder by default, with
//! queries written so PostgreSQL can run them too. A chunk is claimed with a lease its worker renews;
//! an expired lease, or one held by a dead process on this host, is claimed again.

use kino_shared::{ChunkState, ChunkStatus, JobSpec, JobState, JobStatus};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};
use thiserror::Error;

mod failures;
mod idempotency;
mod imports;
mod leases;
mod listen;
mod nodes;
mod plan;
mod presets;
mod rows;
mod samples;
mod sections;
mod usage;
pub use failures::{BAR_AFTER, NODES_PER_CHUNK};
pub use idempotency::{Reservation, IDEMPOTENCY_KEEP_MS};
pub use leases::{host_name, owner_id, ChunkFailure};
pub use listen::Changes;
pub use nodes::NodeRow;
pub use plan::ChunkPlan;
pub use rows::ChunkChange;
use rows::{ChunkRecord, JobRecord, UploadRecord, JOB_STATUS};
pub use samples::SAMPLE_RETENTION_MS;
pub use sections::ReportSection;
pub use usage::JobHistory;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("job {0} not found")]
    NotFound(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// This node cannot join the store's farm.
    #[error("{0}")]
    Incompatible(String),
}

impl StoreError {
    /// Whether the database is away (down, restarting, unreachable) rather than refusing this
    /// request: worth retrying later, and nothing to fail a job over.
    pub fn is_unavailable(&self) -> bool {
        let StoreError::Db(e) = self else {
            return false;
        };
        match e {
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Tls(_) => true,
            // Class 08: connection exceptions; 57P0x: the server shutting down or starting.
            sqlx::Error::Database(d) => d
                .code()
                .is_some_and(|c| c.starts_with("08") || c.starts_with("57P")),
            _ => false,
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Inserts a plan's chunks, all pending.
async fn insert_chunks(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    id: &str,
    chunks: &[ChunkPlan],
    now: i64,
) -> Result<()> {
    for c in chunks {
        sqlx::query(
            "INSERT INTO chunks (job_id, idx, start_pts, end_pts, decode_from_pts, frames, state, updated_ms)
             VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7)",
        )
        .bind(id)
        .bind(c.index as i64)
        .bind(c.start_pts)
        .bind(c.end_pts)
        .bind(c.decode_from_pts)
        .bind(c.frames as i64)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// An upload as the store keeps it; its bytes live in the data folder, and the file's length is the
/// offset (so a crash never loses or invents data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRow {
    pub id: String,
    pub length: u64,
    /// The raw tus `Upload-Metadata` header.
    pub metadata: String,
    pub complete: bool,
    pub sha256: Option<String>,
    pub created_ms: i64,
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A chunk row as the pipeline needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkRow {
    pub plan: ChunkPlan,
    pub state: ChunkState,
    pub attempts: u32,
    /// How many times this chunk was rendered to completion (1 in a healthy job).
    pub renders: u32,
    /// The process holding the chunk (running), or the one that rendered it (done).
    pub lease_owner: Option<String>,
    /// The fencing token: grows on every claim; only its holder may finish the chunk.
    pub lease_no: u64,
    pub error: Option<String>,
    /// The node and worker holding (or that rendered) it, as `node#worker`.
    pub lane: Option<String>,
}

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    /// PostgreSQL (row locks that skip, the database's clock) rather than SQLite.
    postgres: bool,
    /// The PostgreSQL URL, for the notification listener's own connection. Never logged: it may
    /// hold the password.
    pg_url: Option<std::sync::Arc<str>>,
}

impl Store {
    /// Opens (creating if needed) the SQLite store `kino.db` in `data_dir`.
    pub async fn open_sqlite(data_dir: &Path) -> Result<Self> {
        let path = data_dir.join("kino.db");
        Self::connect(&format!("sqlite://{}?mode=rwc", path.display())).await
    }

    /// Connects to a store by URL (`sqlite://…` or `postgres://…`) and creates the schema.
    pub async fn connect(url: &str) -> Result<Self> {
        let connections = if url.starts_with("sqlite:") { 4 } else { 8 };
        Self::connect_with(url, connections).await
    }

    /// Like [`Store::connect`], with a pool of `connections` (the queue benchmark shares one pool
    /// among many simulated workers).
    pub async fn connect_with(url: &str, connections: u32) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let is_sqlite = url.starts_with("sqlite:");
        let pool = AnyPoolOptions::new()
            .max_connections(connections.max(1))
            // A database that is away fails a request in seconds instead of holding it for 30.
            .acquire_timeout(std::time::Duration::from_secs(5))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if is_sqlite {
                        sqlx::query("PRAGMA busy_timeout = 10000")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA foreign_keys = ON")
                            .execute(&mut *conn)
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect(url)
            .await?;
        if is_sqlite {
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await?;
        }
        if is_sqlite {
            sqlx::migrate!("migrations/sqlite").run(&pool).await?;
        } else {
            sqlx::migrate!("migrations/postgres").run(&pool).await?;
        }
        Ok(Store {
            pool,
            postgres: !is_sqlite,
            pg_url: (!is_sqlite).then(|| url.into()),
        })
    }

    pub async fn create_job(
        &self,
        id: &str,
        key: &str,
        spec: &JobSpec,
        input: &str,
        output: &str,
    ) -> Result<()> {
        let now = now_ms();
        let spec_json =
            serde_json::to_string(spec).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        sqlx::query(
            "INSERT INTO jobs (id, job_key, spec, input, output, state, created_ms, updated_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
        )
        .bind(id)
        .bind(key)
        .bind(spec_json)
        .bind(input)
        .bind(output)
        .bind(JobState::Queued.as_str())
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The newest unfinished job with this key (same input, spec and output), for resuming.
    pub async fn find_resumable(&self, key: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT id FROM jobs WHERE job_key = $1 AND state NOT IN ('done', 'cancelled') ORDER BY created_ms DESC LIMIT 1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get::<String, _>("id")).transpose()?)
    }

    pub async fn job(&self, id: &str) -> Result<JobStatus> {
        let row = sqlx::query_as::<_, JobRecord>(&format!("{JOB_STATUS} WHERE j.id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.ok_or_else(|| StoreError::NotFound(id.to_owned()))?
            .try_into()
    }

    /// Only the job's state: what a lease heartbeat checks, without the chunk counts of
    /// [`Store::job`].
    pub async fn job_state(&self, id: &str) -> Result<JobState> {
        let row = sqlx::query("SELECT state FROM jobs WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else {
            return Err(StoreError::NotFound(id.to_owned()));
        };
        let state: String = row.try_get("state")?;
        JobState::parse(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("job {id}: state {state}")))
    }

    pub async fn job_input_output(&self, id: &str) -> Result<(String, String)> {
        let row = sqlx::query("SELECT input, output FROM jobs WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        let row = row.ok_or_else(|| StoreError::NotFound(id.to_owned()))?;
        Ok((row.try_get("input")?, row.try_get("output")?))
    }

    pub async fn set_job_state(
        &self,
        id: &str,
        state: JobState,
        error: Option<&str>,
    ) -> Result<()> {
        sqlx::query("UPDATE jobs SET state = $1, error = $2, updated_ms = $3 WHERE id = $4")
            .bind(state.as_str())
            .bind(error)
            .bind(now_ms())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Moves a job that has not ended to `state` (a run never revives a job that was cancelled or
    /// failed meanwhile, here or on another node). Returns whether it moved.
    pub async fn advance_job_state(
        &self,
        id: &str,
        state: JobState,
        error: Option<&str>,
    ) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE jobs SET state = $1, error = $2, updated_ms = $3
             WHERE id = $4 AND state NOT IN ('done', 'failed', 'cancelled')",
        )
        .bind(state.as_str())
        .bind(error)
        .bind(now_ms())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Records the plan once: chunks and total frames, in one transaction.
    pub async fn save_plan(&self, id: &str, chunks: &[ChunkPlan]) -> Result<()> {
        let now = now_ms();
        let total: i64 = chunks.iter().map(|c| c.frames as i64).sum();
        let mut tx = self.pool.begin().await?;
        // Write first: the transaction takes the write lock at once (waiting for it), instead of
        // upgrading a read lock, which SQLite refuses outright when another writer got there first.
        let claimed = sqlx::query(
            "UPDATE jobs SET planned = 1, frames_total = $1, updated_ms = $2 WHERE id = $3 AND planned = 0",
        )
        .bind(total)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if claimed.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(());
        }
        insert_chunks(&mut tx, id, chunks, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Replaces a job's plan while none of its chunks has been claimed (after the analysis pass has
    /// found better chunk boundaries). Returns false, changing nothing, once one has: rows a worker
    /// holds are not deleted, so the counts differ and the transaction rolls back.
    pub async fn replan(&self, id: &str, chunks: &[ChunkPlan]) -> Result<bool> {
        let now = now_ms();
        let total: i64 = chunks.iter().map(|c| c.frames as i64).sum();
        let mut tx = self.pool.begin().await?;
        // Write first, to take the write lock at once (see `save_plan`).
        sqlx::query("UPDATE jobs SET frames_total = $1, updated_ms = $2 WHERE id = $3")
            .bind(total)
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let all: i64 = sqlx::query("SELECT COUNT(*) AS n FROM chunks WHERE job_id = $1")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?
            .try_get("n")?;
        let deleted = sqlx::query(
            "DELETE FROM chunks WHERE job_id = $1 AND state = 'pending' AND lease_owner IS NULL
             AND attempts = 0 AND renders = 0",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if deleted.rows_affected() as i64 != all {
            tx.rollback().await?;
            return Ok(false);
        }
        insert_chunks(&mut tx, id, chunks, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    pub async fn chunks(&self, id: &str) -> Result<Vec<ChunkRow>> {
        let rows =
            sqlx::query_as::<_, ChunkRecord>("SELECT * FROM chunks WHERE job_id = $1 ORDER BY idx")
                .bind(id)
                .fetch_all(&self.pool)
                .await?;
        rows.into_iter().map(ChunkRow::try_from).collect()
    }

    pub async fn chunk_statuses(&self, id: &str) -> Result<Vec<ChunkStatus>> {
        Ok(self.chunks(id).await?.into_iter().map(Into::into).collect())
    }

    /// The `limit` newest jobs with their chunks, newest first: two statements whatever the number
    /// (the event stream's first snapshot lists them all).
    pub async fn jobs_with_chunks(&self, limit: i64) -> Result<Vec<(JobStatus, Vec<ChunkStatus>)>> {
        let jobs = self.list_jobs(limit).await?;
        let rows = sqlx::query_as::<_, ChunkRecord>(
            "SELECT * FROM chunks WHERE job_id IN
                (SELECT id FROM jobs ORDER BY created_ms DESC, id LIMIT $1)
             ORDER BY job_id, idx",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut by_job: std::collections::HashMap<String, Vec<ChunkStatus>> = Default::default();
        for r in rows {
            let job = r.job_id.clone();
            by_job
                .entry(job)
                .or_default()
                .push(ChunkRow::try_from(r)?.into());
        }
        Ok(jobs
            .into_iter()
            .map(|j| {
                let chunks = by_job.remove(&j.id).unwrap_or_default();
                (j, chunks)
            })
            .collect())
    }
}

impl Store {
    /// Stores the analysis of chunk `index` (JSON); analysing it again replaces it.
    /// Stores chunk `index`'s analysis, made by `owner` (a second save of the same chunk replaces
    /// it and is counted), and ends the claim on it.
    pub async fn save_analysis(&self, id: &str, index: u32, data: &str, owner: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO analysis (job_id, idx, data, owner, saves) VALUES ($1, $2, $3, $4, 1)
             ON CONFLICT (job_id, idx) DO UPDATE SET data = $3, owner = $4,
                saves = analysis.saves + 1",
        )
        .bind(id)
        .bind(index as i64)
        .bind(data)
        .bind(owner)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE chunks SET analysis_until_ms = 0 WHERE job_id = $1 AND idx = $2")
            .bind(id)
            .bind(index as i64)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every stored chunk analysis of a job, by chunk index.
    pub async fn analyses(&self, id: &str) -> Result<Vec<(u32, String)>> {
        let rows = sqlx::query("SELECT idx, data FROM analysis WHERE job_id = $1 ORDER BY idx")
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get::<i64, _>("idx")? as u32, r.try_get("data")?)))
            .collect()
    }

    pub async fn create_upload(&self, id: &str, length: u64, metadata: &str) -> Result<()> {
        let now = now_ms();
        sqlx::query("INSERT INTO uploads (id, length, metadata, created_ms, updated_ms) VALUES ($1, $2, $3, $4, $4)")
            .bind(id)
            .bind(length as i64)
            .bind(metadata)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn upload(&self, id: &str) -> Result<Option<UploadRow>> {
        let row = sqlx::query_as::<_, UploadRecord>("SELECT * FROM uploads WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(UploadRow::from))
    }

    pub async fn complete_upload(&self, id: &str, sha256: &str) -> Result<()> {
        sqlx::query("UPDATE uploads SET complete = 1, sha256 = $1, updated_ms = $2 WHERE id = $3")
            .bind(sha256)
            .bind(now_ms())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn delete_upload(&self, id: &str) -> Result<bool> {
        let r = sqlx::query("DELETE FROM uploads WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Jobs, newest first, in one query whatever their number.
    pub async fn list_jobs(&self, limit: i64) -> Result<Vec<JobStatus>> {
        let rows = sqlx::query_as::<_, JobRecord>(&format!(
            "{JOB_STATUS} ORDER BY j.created_ms DESC, j.id LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(JobStatus::try_from).collect()
    }

    /// Jobs (their state) and chunks changed since `since_ms`, for relaying other nodes' events.
    pub async fn changed_since(
        &self,
        since_ms: i64,
    ) -> Result<(Vec<(String, JobState)>, Vec<ChunkChange>)> {
        let rows = sqlx::query("SELECT id, state FROM jobs WHERE updated_ms >= $1")
            .bind(since_ms)
            .fetch_all(&self.pool)
            .await?;
        let mut jobs = Vec::new();
        for r in rows {
            let (id, state): (String, String) = (r.try_get("id")?, r.try_get("state")?);
            let state = JobState::parse(&state)
                .ok_or_else(|| StoreError::Corrupt(format!("job {id}: state {state}")))?;
            jobs.push((id, state));
        }
        let chunks =
            sqlx::query_as::<_, ChunkRecord>("SELECT * FROM chunks WHERE updated_ms >= $1")
                .bind(since_ms)
                .fetch_all(&self.pool)
                .await?;
        let chunks = chunks
            .into_iter()
            .map(|r| {
                let job = r.job_id.clone();
                ChunkRow::try_from(r).map(|c| ChunkChange {
                    job,
                    index: c.plan.index,
                    state: c.state,
                    lease_no: c.lease_no,
                    owner: c.lease_owner,
                    lane: c.lane,
                    frames: c.plan.frames,
                })
            })
            .collect::<Result<_>>()?;
        Ok((jobs, chunks))
    }

    /// Jobs that still have work (queued, or interrupted while analysing/rendering/assembling), oldest
    /// first. A job whose assembly a live lease holds (another node's, in a farm) has none to share.
    pub async fn unfinished_jobs(&self) -> Result<Vec<String>> {
        let rows = sqlx::query(&format!(
            "SELECT id FROM jobs WHERE state IN ('queued', 'analysing', 'rendering', 'assembling')
               AND NOT (assembler IS NOT NULL AND assembly_until_ms >= {})
             ORDER BY created_ms",
            self.now_sql()
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok(r.try_get::<String, _>("id")?))
            .collect()
    }

    /// Counts of jobs per state, for metrics.
    pub async fn job_counts(&self) -> Result<Vec<(String, i64)>> {
        let rows = sqlx::query("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get::<String, _>("state")?, get_i64(r, "n")?)))
            .collect()
    }

    /// Puts failed chunks back to pending and the job back in the queue.
    pub async fn retry_job(&self, id: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE chunks SET state = 'pending', attempts = 0, error = NULL, lease_owner = NULL WHERE job_id = $1 AND state IN ('failed', 'running')")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        // A retry is a fresh start: nodes barred from the job may take it again.
        sqlx::query("DELETE FROM failures WHERE job_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM declines WHERE job_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE jobs SET state = 'queued', error = NULL, updated_ms = $1 WHERE id = $2",
        )
        .bind(now_ms())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

fn get_i64(row: &AnyRow, col: &str) -> Result<i64> {
    Ok(row.try_get::<i64, _>(col)?)
}
