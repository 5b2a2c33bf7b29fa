//! A job's record brought from another node (a job bundle): the job, its chunks and its report
//! sections written in one transaction, so an import is all there or not at all.

use super::{Result, Store, StoreError};
use kino_shared::JobBundle;

impl Store {
    /// Writes bundle `b`'s job as job `id` (its output at `output`, `""` when not carried), in
    /// its ended state; `key` records where it came from.
    pub async fn import_job(&self, id: &str, key: &str, b: &JobBundle, output: &str) -> Result<()> {
        let spec =
            serde_json::to_string(&b.job.spec).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO jobs (id, job_key, spec, input, output, state, error, frames_total, \
             planned, created_ms, updated_ms) VALUES ($1, $2, $3, '', $4, $5, $6, $7, 1, $8, $9)",
        )
        .bind(id)
        .bind(key)
        .bind(spec)
        .bind(output)
        .bind(b.job.state.as_str())
        .bind(b.job.error.as_deref())
        .bind(b.job.frames_total as i64)
        .bind(b.job.created_ms)
        .bind(b.job.updated_ms)
        .execute(&mut *tx)
        .await?;
        for c in &b.chunks {
            sqlx::query(
                "INSERT INTO chunks (job_id, idx, start_pts, end_pts, decode_from_pts, frames, \
                 state, attempts, renders, lease_owner, lane, error, updated_ms) \
                 VALUES ($1, $2, $3, $4, $3, $5, $6, $7, $8, $9, $10, $11, $12)",
            )
            .bind(id)
            .bind(c.index as i64)
            .bind(c.start_pts.unwrap_or(i64::MIN))
            .bind(c.end_pts.unwrap_or(i64::MAX))
            .bind(c.frames as i64)
            .bind(c.state.as_str())
            .bind(c.attempts as i64)
            .bind(i64::from(c.state == kino_shared::ChunkState::Done))
            .bind(c.worker.as_deref())
            .bind(c.lane.as_deref())
            .bind(c.error.as_deref())
            .bind(b.job.updated_ms)
            .execute(&mut *tx)
            .await?;
        }
        for (name, value) in &b.sections {
            sqlx::query("INSERT INTO report_sections (job_id, name, data) VALUES ($1, $2, $3)")
                .bind(id)
                .bind(name)
                .bind(value.to_string())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
