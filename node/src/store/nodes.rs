//! The nodes sharing this store: each registers itself and heartbeats, so any node can show the
//! farm (`GET /api/nodes`), and a node of another version is refused before it takes work.

use super::{Result, Store, StoreError};
use sqlx::Row;

/// A node as registered: its name, version, what it reported about itself (JSON), and when it was
/// last heard of (database clock).
#[derive(Debug, Clone, PartialEq)]
pub struct NodeRow {
    pub name: String,
    pub version: String,
    pub info: serde_json::Value,
    pub started_ms: i64,
    pub heartbeat_ms: i64,
    /// Milliseconds since its last heartbeat.
    pub silent_ms: i64,
    pub draining: bool,
    /// Chunks it holds now (job, index), and how many it has rendered.
    pub running: Vec<(String, u32)>,
    pub done: i64,
}

impl Store {
    /// Registers (or re-registers) node `name`. Refuses when a node of another version is alive
    /// under the same store: one farm runs one version.
    pub async fn register_node(
        &self,
        name: &str,
        version: &str,
        info: &str,
        alive_ms: i64,
    ) -> Result<()> {
        let now = self.now_sql();
        let others = sqlx::query(&format!(
            "SELECT name, version FROM nodes WHERE version <> $1 AND heartbeat_ms > {now} - $2"
        ))
        .bind(version)
        .bind(alive_ms)
        .fetch_all(&self.pool)
        .await?;
        if let Some(r) = others.first() {
            let (other, theirs): (String, String) = (r.try_get("name")?, r.try_get("version")?);
            return Err(StoreError::Incompatible(format!(
                "node {other} runs version {theirs}, this node {version}: one farm runs one version"
            )));
        }
        sqlx::query(&format!(
            "INSERT INTO nodes (name, version, info, started_ms, heartbeat_ms, draining)
             VALUES ($1, $2, $3, {now}, {now}, 0)
             ON CONFLICT (name) DO UPDATE SET version = $2, info = $3, started_ms = {now},
                heartbeat_ms = {now}, draining = 0, drain_requested = 0"
        ))
        .bind(name)
        .bind(version)
        .bind(info)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records that node `name` is alive (and whether it is draining); returns whether it has been
    /// asked to drain.
    pub async fn heartbeat_node(&self, name: &str, draining: bool) -> Result<bool> {
        let now = self.now_sql();
        let row = sqlx::query(&format!(
            "UPDATE nodes SET heartbeat_ms = {now}, draining = $1 WHERE name = $2
             RETURNING drain_requested"
        ))
        .bind(i64::from(draining))
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(r) => r.try_get::<i64, _>("drain_requested")? != 0,
            None => false,
        })
    }

    /// Asks the live node `name` (heard of within `alive_ms`) to drain; false when there is none.
    pub async fn request_drain(&self, name: &str, alive_ms: i64) -> Result<bool> {
        let now = self.now_sql();
        let r = sqlx::query(&format!(
            "UPDATE nodes SET drain_requested = 1 WHERE name = $1 AND heartbeat_ms > {now} - $2"
        ))
        .bind(name)
        .bind(alive_ms)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Every registered node with its chunks, by name: three statements.
    pub async fn nodes(&self) -> Result<Vec<NodeRow>> {
        let now = self.now_sql();
        let rows = sqlx::query(&format!(
            "SELECT name, version, info, started_ms, heartbeat_ms, {now} - heartbeat_ms AS silent_ms,
                draining FROM nodes ORDER BY name"
        ))
        .fetch_all(&self.pool)
        .await?;
        // Owners are `node:host:pid:random`: counted by their node part.
        let counts = sqlx::query(
            "SELECT lease_owner, COUNT(*) AS n FROM chunks
             WHERE lease_owner IS NOT NULL AND state = 'done' GROUP BY lease_owner",
        )
        .fetch_all(&self.pool)
        .await?;
        let held = sqlx::query(
            "SELECT lease_owner, job_id, idx FROM chunks WHERE state = 'running' ORDER BY job_id, idx",
        )
        .fetch_all(&self.pool)
        .await?;
        let node_of = |r: &sqlx::any::AnyRow| -> Result<String> {
            let owner: Option<String> = r.try_get("lease_owner")?;
            Ok(owner
                .and_then(|o| o.split(':').next().map(str::to_owned))
                .unwrap_or_default())
        };
        let mut out = Vec::new();
        for r in rows {
            let name: String = r.try_get("name")?;
            let info: String = r.try_get("info")?;
            let (mut running, mut done) = (Vec::new(), 0);
            for c in &counts {
                if node_of(c)? == name {
                    done += c.try_get::<i64, _>("n")?;
                }
            }
            for c in &held {
                if node_of(c)? == name {
                    let idx: i64 = c.try_get("idx")?;
                    running.push((c.try_get("job_id")?, idx.max(0) as u32));
                }
            }
            out.push(NodeRow {
                version: r.try_get("version")?,
                info: serde_json::from_str(&info)
                    .map_err(|e| StoreError::Corrupt(format!("node {name}: {e}")))?,
                started_ms: r.try_get("started_ms")?,
                heartbeat_ms: r.try_get("heartbeat_ms")?,
                silent_ms: r.try_get("silent_ms")?,
                draining: r.try_get::<i64, _>("draining")? != 0,
                running,
                done,
                name,
            });
        }
        Ok(out)
    }
}
