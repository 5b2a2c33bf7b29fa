//! A job's report sections: what the analysis and audio passes found, kept as JSON by name. Each
//! section is one type that names itself ([`ReportSection::NAME`]), so a section's name is written
//! in one place and its readers get the type back, not a string to parse.

use super::{Result, Store, StoreError};
use serde::de::DeserializeOwned;
use serde::Serialize;
use sqlx::Row;

/// One section of a job's report.
pub trait ReportSection: Serialize + DeserializeOwned {
    /// The section's key in the report (`GET /api/jobs/{id}/report` → `sections`).
    const NAME: &'static str;
}

impl Store {
    /// Stores a job's section `T`, replacing an earlier one.
    pub async fn save_section<T: ReportSection>(&self, id: &str, section: &T) -> Result<()> {
        let data = serde_json::to_string(section)
            .map_err(|e| StoreError::Corrupt(format!("report section {}: {e}", T::NAME)))?;
        self.save_report_section(id, T::NAME, &data).await
    }

    /// A job's section `T`, if it has been written.
    pub async fn section<T: ReportSection>(&self, id: &str) -> Result<Option<T>> {
        let row = sqlx::query("SELECT data FROM report_sections WHERE job_id = $1 AND name = $2")
            .bind(id)
            .bind(T::NAME)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let data: String = row.try_get("data")?;
        serde_json::from_str(&data).map(Some).map_err(|e| {
            StoreError::Corrupt(format!("report section {} of job {id}: {e}", T::NAME))
        })
    }

    /// Stores one named section of a job's report as JSON, replacing it.
    async fn save_report_section(&self, id: &str, name: &str, data: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM report_sections WHERE job_id = $1 AND name = $2")
            .bind(id)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO report_sections (job_id, name, data) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(name)
            .bind(data)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every stored section of a job's report, by name, as JSON (for the whole report).
    pub async fn report_sections(&self, id: &str) -> Result<Vec<(String, serde_json::Value)>> {
        let rows =
            sqlx::query("SELECT name, data FROM report_sections WHERE job_id = $1 ORDER BY name")
                .bind(id)
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| {
                let name: String = r.try_get("name")?;
                let data: String = r.try_get("data")?;
                let value = serde_json::from_str(&data).map_err(|e| {
                    StoreError::Corrupt(format!("report section {name} of job {id}: {e}"))
                })?;
                Ok((name, value))
            })
            .collect()
    }
}
