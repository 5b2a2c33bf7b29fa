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
