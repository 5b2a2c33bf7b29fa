//! What the unfinished jobs use: the files the janitor must leave alone.

use super::{Result, Store};
use kino_shared::{AudioStageSpec, JobSpec};
use sqlx::Row;
use std::collections::HashSet;

impl Store {
    /// The paths unfinished jobs read or write: inputs, outputs and recordings to sync.
    pub async fn files_in_use(&self) -> Result<HashSet<String>> {
        let rows = sqlx::query(
            "SELECT input, output, spec FROM jobs \
             WHERE state NOT IN ('done', 'failed', 'cancelled')",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut used = HashSet::new();
        for r in rows {
            used.insert(r.try_get::<String, _>("input")?);
            used.insert(r.try_get::<String, _>("output")?);
            let spec: String = r.try_get("spec")?;
            // A spec that no longer parses names no track; its input is kept all the same.
            if let Ok(spec) = serde_json::from_str::<JobSpec>(&spec) {
                for s in spec.audio_stages {
                    if let AudioStageSpec::Sync(p) = s {
                        used.insert(p.track);
                    }
                }
            }
        }
        Ok(used)
    }
}

/// A job as the analytics read it: its life and, once finished, its `timings` section.
pub struct JobHistory {
    pub state: String,
    pub spec: String,
    pub created_ms: i64,
    pub timings: Option<String>,
}

impl Store {
    /// Jobs created since `since_ms`, oldest first, with their `timings` section.
    pub async fn job_history(&self, since_ms: i64) -> Result<Vec<JobHistory>> {
        let rows = sqlx::query(
            "SELECT j.state, j.spec, j.created_ms, r.data FROM jobs j \
             LEFT JOIN report_sections r ON r.job_id = j.id AND r.name = 'timings' \
             WHERE j.created_ms >= $1 ORDER BY j.created_ms",
        )
        .bind(since_ms)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(JobHistory {
                    state: r.try_get("state")?,
                    spec: r.try_get("spec")?,
                    created_ms: r.try_get("created_ms")?,
                    timings: r.try_get("data")?,
                })
            })
            .collect()
    }
}
