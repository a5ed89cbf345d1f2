//! What can go wrong with an agent's memory.

use std::path::PathBuf;

/// A failure of the memory store. Bad input names the field and the limit; a missing
/// embedder is not an error at all (the store falls back to keyword search).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MemoryError {
    #[error("cannot open the memory database {}: {source}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "the memory database {} holds {stored}-dimensional embeddings, but the embedder makes \
         {wanted}-dimensional ones (another embedding model?)",
        path.display()
    )]
    Dimensions {
        path: PathBuf,
        stored: String,
        wanted: usize,
    },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The workspace's search index failed (it is a cache of the files; deleting its
    /// directory makes the agent rebuild it).
    #[error("the workspace index {}: {message}", path.display())]
    Index { path: PathBuf, message: String },
    #[error("memory database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A fact's field is too long.
    #[error(
        "the fact's {field} is {bytes} bytes; the limit is {limit} (keep facts short; put long text in a workspace file)"
    )]
    TooLarge {
        field: &'static str,
        bytes: usize,
        limit: usize,
    },
    /// A fact's field is empty or malformed.
    #[error("the fact's {field} {problem}")]
    Invalid {
        field: &'static str,
        problem: &'static str,
    },
}

impl MemoryError {
    /// Whether the disk holding the memory was full: SQLite's `SQLITE_FULL` or the OS's
    /// `ENOSPC` / `EDQUOT`. Nothing was written then (SQLite rolled the statement back),
    /// and the same call works again once space is freed.
    pub fn is_disk_full(&self) -> bool {
        let sqlite =
            |e: &rusqlite::Error| e.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull);
        let io = |e: &std::io::Error| {
            matches!(
                e.kind(),
                std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
            )
        };
        match self {
            MemoryError::Open { source, .. } | MemoryError::Sqlite(source) => sqlite(source),
            MemoryError::Io { source, .. } => io(source),
            MemoryError::Index { message, .. } => message.contains("No space left on device"),
            _ => false,
        }
    }
}
