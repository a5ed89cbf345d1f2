//! Folding the WAL back into the database file, off the write path.
//!
//! With auto-checkpointing, the commit that crosses the WAL threshold copies pages and
//! fsyncs the database before it returns, which every write in that group waits for. A
//! passive checkpoint from another connection does the same work without blocking writers
//! or readers; it runs every [`INTERVAL`] while the store is open.

use std::path::PathBuf;
use std::time::Duration;

use rusqlite::Connection;

use super::writer::Writer;

const INTERVAL: Duration = Duration::from_millis(250);

/// Starts the checkpoint thread; it stops once the writer has gone.
pub(super) fn spawn(path: PathBuf, writer: &Writer) -> rusqlite::Result<()> {
    let conn = Connection::open(&path)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    let alive = writer.watch();
    std::thread::Builder::new()
        .name("mesh-db-checkpoint".into())
        .spawn(move || {
            while alive.upgrade().is_some() {
                std::thread::sleep(INTERVAL);
                if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                    tracing::warn!(error = %e, "WAL checkpoint failed");
                }
            }
        })
        .map(drop)
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}
