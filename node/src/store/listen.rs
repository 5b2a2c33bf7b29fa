//! Prompt news of changes on PostgreSQL: state changes notify the `kino_changes` channel with their
//! job's id (a trigger, see migration 0005). SQLite has one process per store and nothing to hear.

use super::{Result, Store};
use sqlx::postgres::PgListener;

/// The channel the store's triggers notify.
const CHANNEL: &str = "kino_changes";

/// A subscription to the store's change notifications.
pub struct Changes(PgListener);

impl Changes {
    /// The id of the next job that changed. Reconnects when the connection drops (notifications
    /// sent meanwhile are lost: readers poll as well).
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
}
