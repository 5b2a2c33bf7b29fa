//! Resource readings of the nodes (see `service::sampler`): one row per node and reading, the
//! reading as JSON, removed once older than the retention.

use super::{get_i64, Result, Store, StoreError};
use kino_shared::ResourceSample;
use sqlx::Row;

/// Readings older than this are removed as new ones arrive.
pub const SAMPLE_RETENTION_MS: i64 = 24 * 3600 * 1000;

impl Store {
    /// Stores a reading and removes the readings past the retention.
    pub async fn save_sample(&self, s: &ResourceSample) -> Result<()> {
        let data = serde_json::to_string(s).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        sqlx::query("INSERT INTO resource_samples (node, at_ms, data) VALUES ($1, $2, $3)")
            .bind(&s.node)
            .bind(s.at_ms)
            .bind(data)
            .execute(&self.pool)
            .await?;
        sqlx::query("DELETE FROM resource_samples WHERE at_ms < $1")
            .bind(s.at_ms - SAMPLE_RETENTION_MS)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Every node's readings since `since_ms`, oldest first.
    pub async fn samples(&self, since_ms: i64) -> Result<Vec<ResourceSample>> {
        let rows =
            sqlx::query("SELECT data FROM resource_samples WHERE at_ms >= $1 ORDER BY at_ms, node")
                .bind(since_ms)
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| {
                let data: String = r.try_get("data")?;
                serde_json::from_str(&data).map_err(|e| StoreError::Corrupt(e.to_string()))
            })
            .collect()
    }

    /// Chunks waiting to be rendered, all jobs.
    pub async fn pending_chunks(&self) -> Result<u64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM chunks WHERE state = 'pending'")
            .fetch_one(&self.pool)
            .await?;
        Ok(get_i64(&row, "n")?.max(0) as u64)
    }
}
