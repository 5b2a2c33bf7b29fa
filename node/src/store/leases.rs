//! Chunk leases, shared by every process on the store (one node's workers, or a farm's). A claim
//! takes the first pending chunk (or one whose lease expired) and stamps it with the claimer and a
//! lease number that grows on every claim (a fencing token); expiry is read on the database's
//! clock, never a node's. Only the holder of the current lease number may finish a chunk, so a
//! worker presumed dead that wakes up late changes nothing. On PostgreSQL claims skip rows other
//! transactions have locked (`FOR UPDATE SKIP LOCKED`), so many workers never queue behind one.

use super::{ChunkRecord, ChunkRow, Result, Store, StoreError};
use kino_shared::ChunkState;
use sqlx::Row;

/// Milliseconds since the epoch on the database's clock, as SQL.
const NOW_PG: &str = "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)";
const NOW_SQLITE: &str = "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)";

impl Store {
    /// The database clock's "now" in milliseconds, as an SQL expression.
    pub(super) fn now_sql(&self) -> &'static str {
        if self.postgres {
            NOW_PG
        } else {
            NOW_SQLITE
        }
    }

    /// The database clock, in milliseconds since the epoch.
    pub async fn db_now_ms(&self) -> Result<i64> {
        let row = sqlx::query(&format!("SELECT {} AS now", self.now_sql()))
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get::<i64, _>("now")?)
    }

    /// Claims the next pending (or lease-expired) chunk of a job for `owner`, with a new lease number.
    pub async fn claim_chunk(
        &self,
        id: &str,
        owner: &str,
        lease_ms: i64,
    ) -> Result<Option<ChunkRow>> {
        self.claim_chunk_in(id, owner, None, lease_ms).await
    }

    /// As [`Store::claim_chunk`], recording the claiming worker's `lane` (`node#worker`).
    pub async fn claim_chunk_in(
        &self,
        id: &str,
        owner: &str,
        lane: Option<&str>,
        lease_ms: i64,
    ) -> Result<Option<ChunkRow>> {
        let now = self.now_sql();
        let skip_locked = if self.postgres {
            "FOR UPDATE SKIP LOCKED"
        } else {
            ""
        };
        let row = sqlx::query_as::<_, ChunkRecord>(&format!(
            "UPDATE chunks SET state = 'running', lease_owner = $1, lease_until_ms = {now} + $2,
                attempts = attempts + 1, lease_no = lease_no + 1, updated_ms = {now}, lane = $4
             WHERE job_id = $3 AND idx = (
                SELECT idx FROM chunks WHERE job_id = $3
                  AND (state = 'pending' OR (state = 'running' AND lease_until_ms < {now}))
                ORDER BY idx LIMIT 1 {skip_locked})
             RETURNING *"
        ))
        .bind(owner)
        .bind(lease_ms)
        .bind(id)
        .bind(lane)
        .fetch_optional(&self.pool)
        .await?;
        row.map(ChunkRow::try_from).transpose()
    }

    /// Claims the analysis of the first chunk of a job that is neither analysed nor claimed (or
    /// whose claim expired) for `owner`; its index. Analyses are deterministic, so a late second
    /// one only replaces the first with the same records: no fencing is needed.
    pub async fn claim_analysis(
        &self,
        id: &str,
        owner: &str,
        lease_ms: i64,
    ) -> Result<Option<u32>> {
        let now = self.now_sql();
        let skip_locked = if self.postgres {
            "FOR UPDATE SKIP LOCKED"
        } else {
            ""
        };
        let row = sqlx::query(&format!(
            "UPDATE chunks SET analysis_owner = $1, analysis_until_ms = {now} + $2
             WHERE job_id = $3 AND idx = (
                SELECT c.idx FROM chunks c WHERE c.job_id = $3
                  AND NOT EXISTS (SELECT 1 FROM analysis a WHERE a.job_id = c.job_id AND a.idx = c.idx)
                  AND c.analysis_until_ms < {now}
                ORDER BY c.idx LIMIT 1 {skip_locked})
             RETURNING idx"
        ))
        .bind(owner)
        .bind(lease_ms)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(r) => Some(r.try_get::<i64, _>("idx")?.max(0) as u32),
            None => None,
        })
    }

    /// Extends every lease `owner` holds (chunks and assemblies): its heartbeat.
    pub async fn renew_leases(&self, owner: &str, lease_ms: i64) -> Result<u64> {
        let now = self.now_sql();
        let r = sqlx::query(&format!(
            "UPDATE chunks SET lease_until_ms = {now} + $1 WHERE lease_owner = $2 AND state = 'running'"
        ))
        .bind(lease_ms)
        .bind(owner)
        .execute(&self.pool)
        .await?;
        sqlx::query(&format!(
            "UPDATE jobs SET assembly_until_ms = {now} + $1 WHERE assembler = $2"
        ))
        .bind(lease_ms)
        .bind(owner)
        .execute(&self.pool)
        .await?;
        sqlx::query(&format!(
            "UPDATE chunks SET analysis_until_ms = {now} + $1
             WHERE analysis_owner = $2 AND analysis_until_ms > 0"
        ))
        .bind(lease_ms)
        .bind(owner)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected())
    }

    /// Marks a chunk done if `owner` still holds lease `lease_no`; false when the lease was lost
    /// (expired and claimed again) meanwhile. The renderer stays recorded as the chunk's owner.
    pub async fn complete_chunk(
        &self,
        id: &str,
        index: u32,
        owner: &str,
        lease_no: u64,
    ) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE chunks SET state = 'done', renders = renders + 1, error = NULL, updated_ms = $1
             WHERE job_id = $2 AND idx = $3 AND lease_owner = $4 AND lease_no = $5 AND state = 'running'",
        )
        .bind(super::now_ms())
        .bind(id)
        .bind(index as i64)
        .bind(owner)
        .bind(lease_no as i64)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Records a failed attempt under lease `lease_no`. Alone on its store a node retries the chunk
    /// until it has had `max_attempts`; in a farm (`node` named) the failure is also recorded by node,
    /// and the chunk fails only once it has had its attempts and failed on three different nodes
    /// (or every live one, when fewer: see [`Store::chunk_exhausted`]). A lost lease records nothing.
    pub async fn fail_chunk(
        &self,
        id: &str,
        index: u32,
        owner: &str,
        lease_no: u64,
        failure: &ChunkFailure<'_>,
    ) -> Result<ChunkState> {
        let farm = !failure.node.is_empty();
        // Alone ($8 = 0), decided in the same statement, so no other worker claims it in between.
        let r = sqlx::query(
            "UPDATE chunks SET state = CASE WHEN $8 = 0 AND attempts >= $1 THEN 'failed' ELSE 'pending' END,
                lease_owner = NULL, lease_until_ms = 0, error = $2, updated_ms = $3
             WHERE job_id = $4 AND idx = $5 AND lease_owner = $6 AND lease_no = $7 AND state = 'running'
             RETURNING state, attempts",
        )
        .bind(failure.max_attempts as i64)
        .bind(failure.error)
        .bind(super::now_ms())
        .bind(id)
        .bind(index as i64)
        .bind(owner)
        .bind(lease_no as i64)
        .bind(i64::from(farm))
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = r else {
            return Ok(ChunkState::Pending);
        };
        let s: String = row.try_get("state")?;
        let state =
            ChunkState::parse(&s).ok_or_else(|| StoreError::Corrupt(format!("chunk state {s}")))?;
        if !farm {
            return Ok(state);
        }
        self.record_failure(id, Some(index), failure.node, failure.error)
            .await?;
        let attempts: i64 = row.try_get("attempts")?;
        if attempts < failure.max_attempts as i64
            || !self.chunk_exhausted(id, index, failure.alive_ms).await?
        {
            return Ok(ChunkState::Pending);
        }
        // Unless another node has claimed it meanwhile (then it has one more go).
        let r = sqlx::query(
            "UPDATE chunks SET state = 'failed' WHERE job_id = $1 AND idx = $2 AND state = 'pending'",
        )
        .bind(id)
        .bind(index as i64)
        .execute(&self.pool)
        .await?;
        Ok(if r.rows_affected() == 1 {
            ChunkState::Failed
        } else {
            ChunkState::Running
        })
    }

    /// Releases `owner`'s leases (on Ctrl-C, or a cancelled job) so another run can claim them at
    /// once.
    pub async fn release_leases(&self, owner: &str) -> Result<u64> {
        let r = sqlx::query("UPDATE chunks SET state = 'pending', lease_owner = NULL, lease_until_ms = 0 WHERE lease_owner = $1 AND state = 'running'")
            .bind(owner)
            .execute(&self.pool)
            .await?;
        sqlx::query("UPDATE jobs SET assembler = NULL, assembly_until_ms = 0 WHERE assembler = $1")
            .bind(owner)
            .execute(&self.pool)
            .await?;
        sqlx::query("UPDATE chunks SET analysis_until_ms = 0 WHERE analysis_owner = $1")
            .bind(owner)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected())
    }

    /// Returns chunks (their renders and analyses) whose lease holder is a process of this host that
    /// no longer runs to the queue (at once, instead of after its lease expires).
    pub async fn reap_dead_local_leases(&self, id: &str) -> Result<u64> {
        let host = host_name();
        let mut reaped = 0;
        for c in self.chunks(id).await? {
            let Some(owner) = c.lease_owner.as_deref() else {
                continue;
            };
            if c.state != ChunkState::Running {
                continue;
            }
            let Some((h, pid)) = parse_owner(owner) else {
                continue;
            };
            if h == host && !pid_alive(pid) {
                let r = sqlx::query("UPDATE chunks SET state = 'pending', lease_owner = NULL, lease_until_ms = 0 WHERE job_id = $1 AND idx = $2 AND lease_owner = $3 AND state = 'running'")
                    .bind(id)
                    .bind(c.plan.index as i64)
                    .bind(owner)
                    .execute(&self.pool)
                    .await?;
                reaped += r.rows_affected();
            }
        }
        let claims = sqlx::query(
            "SELECT idx, analysis_owner FROM chunks WHERE job_id = $1 AND analysis_until_ms > 0",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        for c in claims {
            let owner: Option<String> = c.try_get("analysis_owner")?;
            let dead = owner
                .as_deref()
                .and_then(parse_owner)
                .is_some_and(|(h, pid)| h == host && !pid_alive(pid));
            if dead {
                sqlx::query("UPDATE chunks SET analysis_until_ms = 0 WHERE job_id = $1 AND idx = $2 AND analysis_owner = $3")
                    .bind(id)
                    .bind(c.try_get::<i64, _>("idx")?)
                    .bind(owner.as_deref())
                    .execute(&self.pool)
                    .await?;
            }
        }
        let row = sqlx::query("SELECT assembler FROM jobs WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        let assembler: Option<String> = match row {
            Some(r) => r.try_get("assembler")?,
            None => None,
        };
        if let Some(owner) = assembler {
            if parse_owner(&owner).is_some_and(|(h, pid)| h == host && !pid_alive(pid)) {
                sqlx::query("UPDATE jobs SET assembler = NULL, assembly_until_ms = 0 WHERE id = $1 AND assembler = $2")
                    .bind(id)
                    .bind(&owner)
                    .execute(&self.pool)
                    .await?;
            }
        }
        Ok(reaped)
    }

    /// Puts a chunk back to pending (its file vanished, say) so it is rendered again.
    pub async fn reset_chunk(&self, id: &str, index: u32) -> Result<()> {
        sqlx::query("UPDATE chunks SET state = 'pending', lease_owner = NULL, lease_until_ms = 0, attempts = 0 WHERE job_id = $1 AND idx = $2")
            .bind(id)
            .bind(index as i64)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Makes `owner` the job's assembler unless a live assembler holds it or the job has ended:
    /// assembly is one task per job, whichever node gets there first.
    pub async fn claim_assembly(&self, id: &str, owner: &str, lease_ms: i64) -> Result<bool> {
        let now = self.now_sql();
        let r = sqlx::query(&format!(
            "UPDATE jobs SET assembler = $1, assembly_until_ms = {now} + $2
             WHERE id = $3 AND state NOT IN ('done', 'failed', 'cancelled')
               AND (assembler IS NULL OR assembler = $1 OR assembly_until_ms < {now})"
        ))
        .bind(owner)
        .bind(lease_ms)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }
}

/// A failed attempt, as the worker reports it.
pub struct ChunkFailure<'a> {
    pub error: &'a str,
    /// The node's name in a farm; empty alone on the store.
    pub node: &'a str,
    pub max_attempts: u32,
    /// How recently a node must have been heard of to count as alive.
    pub alive_ms: i64,
}

/// This host's name, for lease owners.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "localhost".into())
}

/// A lease owner id: `node:host:pid:random` (the node's name, or `-` for none).
pub fn owner_id(node: &str) -> String {
    format!(
        "{}:{}:{}:{}",
        if node.is_empty() { "-" } else { node },
        host_name(),
        std::process::id(),
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

/// The host and process of an owner id (`[node:]host:pid:random`).
fn parse_owner(owner: &str) -> Option<(&str, i32)> {
    let mut parts = owner.rsplitn(4, ':');
    let _rand = parts.next()?;
    let pid = parts.next()?.parse().ok()?;
    Some((parts.next()?, pid))
}

fn pid_alive(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 only checks for existence.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_parse() {
        assert_eq!(parse_owner("my-host:123:abcd"), Some(("my-host", 123)));
        assert_eq!(
            parse_owner("gpu-1:my-host:123:abcd"),
            Some(("my-host", 123))
        );
        assert!(pid_alive(std::process::id() as i32));
    }
}
