//! Failures by node, Flamenco's way: a chunk fails the job only once it has failed on three
//! different nodes (or on every node there is, when fewer), so one node's broken disk or driver does
//! not end a job the others can finish; and a node that failed three times in one job stops taking
//! that job's chunks. Both are in the job's report.

use super::{Result, Store};
use kino_shared::{NodeFailure, RecentFailure};
use sqlx::Row;

/// Failures in one job after which a node stops taking its chunks.
pub const BAR_AFTER: i64 = 3;
/// Different nodes a chunk must fail on before it fails the job (fewer when the farm is smaller).
pub const NODES_PER_CHUNK: i64 = 3;

impl Store {
    /// Records a failure of `node` in job `id`: of chunk `chunk`, or before any chunk.
    pub async fn record_failure(
        &self,
        id: &str,
        chunk: Option<u32>,
        node: &str,
        error: &str,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO failures (job_id, chunk, node, error, at_ms) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(chunk.map_or(-1, i64::from))
        .bind(node)
        .bind(error)
        .bind(super::now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The job's failures, oldest first.
    pub async fn failures(&self, id: &str) -> Result<Vec<NodeFailure>> {
        let rows = sqlx::query(
            "SELECT chunk, node, error, at_ms FROM failures WHERE job_id = $1 ORDER BY at_ms, chunk",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let chunk: i64 = r.try_get("chunk")?;
                Ok(NodeFailure {
                    chunk: u32::try_from(chunk).ok(),
                    node: r.try_get("node")?,
                    error: r.try_get("error")?,
                    at_ms: r.try_get("at_ms")?,
                })
            })
            .collect()
    }

    /// The latest failures of every job, newest first, at most `limit`: failed jobs, chunks whose
    /// last attempt failed, and a farm's recorded attempts by node.
    pub async fn recent_failures(&self, limit: i64) -> Result<Vec<RecentFailure>> {
        let mut out = Vec::new();
        let one_line = |e: String| e.lines().next().unwrap_or_default().to_owned();
        for r in sqlx::query(
            "SELECT id, error, updated_ms FROM jobs WHERE state = 'failed' AND error IS NOT NULL
             ORDER BY updated_ms DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        {
            out.push(RecentFailure {
                job: r.try_get("id")?,
                chunk: None,
                node: String::new(),
                error: one_line(r.try_get("error")?),
                at_ms: r.try_get("updated_ms")?,
            });
        }
        for r in sqlx::query(
            "SELECT job_id, idx, error, updated_ms FROM chunks WHERE error IS NOT NULL
             ORDER BY updated_ms DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        {
            let idx: i64 = r.try_get("idx")?;
            out.push(RecentFailure {
                job: r.try_get("job_id")?,
                chunk: u32::try_from(idx).ok(),
                node: String::new(),
                error: one_line(r.try_get("error")?),
                at_ms: r.try_get("updated_ms")?,
            });
        }
        for r in sqlx::query(
            "SELECT job_id, chunk, node, error, at_ms FROM failures ORDER BY at_ms DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        {
            let chunk: i64 = r.try_get("chunk")?;
            let failure = RecentFailure {
                job: r.try_get("job_id")?,
                chunk: u32::try_from(chunk).ok(),
                node: r.try_get("node")?,
                error: one_line(r.try_get("error")?),
                at_ms: r.try_get("at_ms")?,
            };
            // A farm's record says more (the node) than the chunk's last error.
            out.retain(|f| {
                !(f.job == failure.job
                    && f.chunk == failure.chunk
                    && f.node.is_empty()
                    && f.error == failure.error)
            });
            out.push(failure);
        }
        out.sort_by_key(|f| std::cmp::Reverse(f.at_ms));
        out.truncate(limit.max(0) as usize);
        Ok(out)
    }

    /// Whether `node` has failed often enough in job `id` to stop taking its chunks.
    pub async fn node_barred(&self, id: &str, node: &str) -> Result<bool> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM failures WHERE job_id = $1 AND node = $2")
            .bind(id)
            .bind(node)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get::<i64, _>("n")? >= BAR_AFTER)
    }

    /// Records that `node` cannot run job `id` at all (once; the first reason stays).
    pub async fn decline(&self, id: &str, node: &str, reason: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO declines (job_id, node, reason) VALUES ($1, $2, $3)
             ON CONFLICT (job_id, node) DO NOTHING",
        )
        .bind(id)
        .bind(node)
        .bind(reason)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The nodes that cannot run job `id`, with why.
    pub async fn declines(&self, id: &str) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query("SELECT node, reason FROM declines WHERE job_id = $1 ORDER BY node")
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("node")?, r.try_get("reason")?)))
            .collect()
    }

    /// Live nodes (heard of within `alive_ms`, not draining) that can run job `id` and may still
    /// take its chunks.
    pub async fn nodes_left_for(&self, id: &str, alive_ms: i64) -> Result<Vec<String>> {
        let now = self.now_sql();
        let rows = sqlx::query(&format!(
            "SELECT name FROM nodes WHERE heartbeat_ms > {now} - $1 AND draining = 0
               AND (SELECT COUNT(*) FROM failures f WHERE f.job_id = $2 AND f.node = nodes.name) < $3
               AND NOT EXISTS (SELECT 1 FROM declines d WHERE d.job_id = $2 AND d.node = nodes.name)
             ORDER BY name"
        ))
        .bind(alive_ms)
        .bind(id)
        .bind(BAR_AFTER)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok(r.try_get("name")?))
            .collect::<Result<_>>()
    }

    /// Whether chunk `index` has now failed on enough different nodes to fail the job: three, or
    /// every live node that can run the job when the farm has fewer (at least one).
    pub(super) async fn chunk_exhausted(
        &self,
        id: &str,
        index: u32,
        alive_ms: i64,
    ) -> Result<bool> {
        let now = self.now_sql();
        let row = sqlx::query(&format!(
            "SELECT (SELECT COUNT(DISTINCT node) FROM failures WHERE job_id = $1 AND chunk = $2) AS failed_on,
                    (SELECT COUNT(*) FROM nodes WHERE heartbeat_ms > {now} - $3
                       AND NOT EXISTS (SELECT 1 FROM declines d WHERE d.job_id = $1 AND d.node = nodes.name)) AS alive"
        ))
        .bind(id)
        .bind(i64::from(index))
        .bind(alive_ms)
        .fetch_one(&self.pool)
        .await?;
        let (failed_on, alive): (i64, i64) = (row.try_get("failed_on")?, row.try_get("alive")?);
        Ok(failed_on >= NODES_PER_CHUNK.min(alive.max(1)))
    }
}
