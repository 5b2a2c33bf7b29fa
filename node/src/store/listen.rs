//! Prompt news of changes on PostgreSQL: a node that changed something says so on the
//! `kino_changes` channel (at most every few tens of milliseconds, outside the claims' transactions:
//! a NOTIFY in every claim would serialise their commits), and the others read the store at once.
//! SQLite has one process per store and nothing to tell.

use super::{Result, Store};
use sqlx::postgres::PgListener;

/// The channel the store's triggers notify.
const CHANNEL: &str = "kino_changes";

/// A subscription to the store's change notifications.
pub struct Changes(PgListener);

impl Changes {
    /// Waits for the next notification (its payload). Reconnects when the connection drops
    /// (notifications sent meanwhile are lost: readers poll as well).
    pub async fn next(&mut self) -> Result<String> {
        Ok(self.0.recv().await?.payload().to_owned())
    }
}

impl Store {
    /// Subscribes to change notifications; `None` on SQLite.
    pub async fn listen(&self) -> Result<Option<Changes>> {
        let Some(url) = self.pg_url.as_deref() else {
            return Ok(None);
        };
        let mut listener = PgListener::connect(url).await?;
        listener.listen(CHANNEL).await?;
        Ok(Some(Changes(listener)))
    }

    /// Tells the other nodes that something changed (nothing on SQLite).
    pub async fn notify_changed(&self) -> Result<()> {
        if self.postgres {
            sqlx::query("SELECT pg_notify($1, '')")
                .bind(CHANNEL)
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }
}
