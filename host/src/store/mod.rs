//! The mesh's durable state: one SQLite database (WAL) holding the blackboard, the agent
//! registry and tokens, subscriptions, watches and the per-agent inboxes.
//!
//! Writes go through a single writer thread that commits in groups: every write waiting
//! when a transaction starts joins it, each in its own savepoint (one failing write rolls
//! back alone), and nobody is answered before the group's `COMMIT` has returned. With
//! `synchronous=FULL` an acknowledged write therefore survives a crash of the process or of
//! the machine, while concurrent writers share one fsync. Reads run on a small pool of
//! read-only connections, which WAL lets proceed alongside the writer.
//!
//! The submodules hold plain functions over a `&Connection`: they know SQL, not threads.

pub mod blackboard;
pub mod channels;
mod checkpointer;
pub mod inbox;
pub mod lanes;
mod readers;
pub mod registry;
mod schema;
pub mod usage;
pub mod watchers;
pub mod webhooks;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::Connection;

use readers::Readers;
use writer::Writer;

/// Storage failures. None of them is the caller's fault; the HTTP layer logs them and
/// answers 500 without details.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("cannot open the database {}: {source}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("the database {} was written by a newer OpenLegion (schema {found}, this one knows {known})", path.display())]
    NewerSchema {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("commit failed: {0}")]
    Commit(#[source] Arc<rusqlite::Error>),
    #[error("the database writer has stopped")]
    Closed,
    #[error("a database task panicked")]
    Panicked,
}

/// Handle to the database; cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    writer: Writer,
    readers: Arc<Readers>,
}

impl Store {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let open_err = |source| StoreError::Open {
            path: path.to_owned(),
            source,
        };
        let conn = Connection::open(path).map_err(open_err)?;
        // The writer never checkpoints itself (a commit that did would stall every write in
        // its group); a background thread does, without blocking writers.
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=5000;
             PRAGMA wal_autocheckpoint=0;",
        )
        .map_err(open_err)?;
        schema::migrate(&conn, path)?;
        let writer = Writer::spawn(conn);
        checkpointer::spawn(path.to_owned(), &writer).map_err(open_err)?;
        Ok(Self {
            writer,
            readers: Arc::new(Readers::new(path.to_owned())),
        })
    }

    /// Runs `f` inside the next group transaction and returns its result once the group has
    /// committed. If `f` fails, its changes are rolled back and the others' are kept.
    pub async fn write<R, E, F>(&self, f: F) -> Result<R, E>
    where
        F: FnOnce(&Connection) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        self.writer.run(f).await
    }

    /// Queues `f` for the next group transaction and returns at once; a failure is logged.
    /// For bookkeeping whose durability a caller need not wait for: anything queued after
    /// it, including a read done with [`write`](Self::write), sees its effect.
    pub fn write_detached<F>(&self, what: &'static str, f: F)
    where
        F: FnOnce(&Connection) -> Result<(), StoreError> + Send + 'static,
    {
        self.writer.detach(what, f);
    }

    /// Runs `f` on a read-only connection on the blocking pool.
    pub async fn read<R, E, F>(&self, f: F) -> Result<R, E>
    where
        F: FnOnce(&Connection) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let readers = Arc::clone(&self.readers);
        tokio::task::spawn_blocking(move || readers.with(f))
            .await
            .map_err(|_| E::from(StoreError::Panicked))?
    }

    /// Runs `f` on a read-only connection right here, on the calling (async) thread. Only
    /// for point reads that take microseconds: a handoff to the blocking pool costs more
    /// than the query. Anything that scans goes through [`read`](Self::read).
    pub fn read_now<R, E, F>(&self, f: F) -> Result<R, E>
    where
        F: FnOnce(&Connection) -> Result<R, E>,
        E: From<StoreError>,
    {
        self.readers.with(f)
    }

    /// Waits for queued writes to commit and checkpoints the WAL into the main file.
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.writer.checkpoint().await
    }
}

/// Now as microseconds since the Unix epoch, the unit every timestamp column uses.
pub fn now_micros() -> i64 {
    Utc::now().timestamp_micros()
}

pub(crate) fn from_micros(micros: i64) -> DateTime<Utc> {
    Utc.timestamp_micros(micros).single().unwrap_or_default()
}

#[cfg(test)]
mod tests;
