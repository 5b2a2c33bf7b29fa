//! The user's presets: one row per name, the settings as JSON.

use super::{now_ms, Result, Store, StoreError};
use kino_shared::{Preset, PresetSettings};
use sqlx::Row;

impl Store {
    /// Every user preset, by name.
    pub async fn presets(&self) -> Result<Vec<Preset>> {
        let rows = sqlx::query("SELECT name, settings FROM presets ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let settings: String = r.try_get("settings")?;
                Ok(Preset {
                    name: r.try_get("name")?,
                    builtin: false,
                    settings: serde_json::from_str(&settings)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                })
            })
            .collect()
    }

    /// Saves `settings` as preset `name`; true when it replaced one.
    pub async fn save_preset(&self, name: &str, settings: &PresetSettings) -> Result<bool> {
        let data =
            serde_json::to_string(settings).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut tx = self.pool.begin().await?;
        let replaced = sqlx::query("DELETE FROM presets WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            > 0;
        sqlx::query("INSERT INTO presets (name, settings, updated_ms) VALUES ($1, $2, $3)")
            .bind(name)
            .bind(data)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(replaced)
    }

    /// Renames preset `from` to `to`: false when `from` does not exist or `to` does.
    pub async fn rename_preset(&self, from: &str, to: &str) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE presets SET name = $1, updated_ms = $2 WHERE name = $3 \
             AND NOT EXISTS (SELECT 1 FROM presets WHERE name = $1)",
        )
        .bind(to)
        .bind(now_ms())
        .bind(from)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Deletes preset `name`; false when there was none.
    pub async fn delete_preset(&self, name: &str) -> Result<bool> {
        let r = sqlx::query("DELETE FROM presets WHERE name = $1")
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }
}
