//! Idempotency keys of job creation: a client that retries `POST /api/jobs` with the same
//! `Idempotency-Key` gets the job the first request made, never a second one. Keys are rows, so they
//! survive restarts, and the primary key makes concurrent retries agree on one job.

use super::{now_ms, Result, Store};
use sqlx::Row;

/// How long a key is remembered (at least a day, as clients retry across outages).
pub const IDEMPOTENCY_KEEP_MS: i64 = 48 * 3600 * 1000;

/// What reserving a key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reservation {
    /// The key is new and now belongs to the job id given.
    New,
    /// An earlier request with this key: its body's hash and the job it made (or is making).
    Earlier {
        request_hash: String,
        job_id: String,
    },
}

impl Store {
    /// Reserves `key` for `job_id`, or returns the earlier request's hash and job. Forgets keys
    /// older than [`IDEMPOTENCY_KEEP_MS`] first.
    pub async fn reserve_idempotency_key(
        &self,
        key: &str,
        request_hash: &str,
        job_id: &str,
    ) -> Result<Reservation> {
        let now = now_ms();
        sqlx::query("DELETE FROM idempotency_keys WHERE created_ms < $1")
            .bind(now - IDEMPOTENCY_KEEP_MS)
            .execute(&self.pool)
            .await?;
        let inserted = sqlx::query(
            "INSERT INTO idempotency_keys (key, request_hash, job_id, created_ms) VALUES ($1, $2, $3, $4)
             ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(request_hash)
        .bind(job_id)
        .bind(now)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if inserted == 1 {
            return Ok(Reservation::New);
        }
        let row = sqlx::query("SELECT request_hash, job_id FROM idempotency_keys WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(r) => Ok(Reservation::Earlier {
                request_hash: r.try_get("request_hash")?,
                job_id: r.try_get("job_id")?,
            }),
            // Released between the two statements (that request was refused): try again.
            None => Box::pin(self.reserve_idempotency_key(key, request_hash, job_id)).await,
        }
    }

    /// Gives a key back when the request that reserved it was refused, so a corrected retry is
    /// judged afresh.
    pub async fn release_idempotency_key(&self, key: &str, job_id: &str) -> Result<()> {
        sqlx::query("DELETE FROM idempotency_keys WHERE key = $1 AND job_id = $2")
            .bind(key)
            .bind(job_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_key_belongs_to_its_first_request() {
        let dir = std::env::temp_dir().join(format!("kino-idem-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = Store::open_sqlite(&dir).await.unwrap();
        assert_eq!(
            store
                .reserve_idempotency_key("k", "h1", "j1")
                .await
                .unwrap(),
            Reservation::New
        );
        let earlier = Reservation::Earlier {
            request_hash: "h1".into(),
            job_id: "j1".into(),
        };
        assert_eq!(
            store
                .reserve_idempotency_key("k", "h2", "j2")
                .await
                .unwrap(),
            earlier
        );
        store.release_idempotency_key("k", "j2").await.unwrap();
        assert_eq!(
            store
                .reserve_idempotency_key("k", "h1", "j3")
                .await
                .unwrap(),
            earlier
        );
        store.release_idempotency_key("k", "j1").await.unwrap();
        assert_eq!(
            store
                .reserve_idempotency_key("k", "h2", "j4")
                .await
                .unwrap(),
            Reservation::New
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
