//! The memory database: opening it, its schema, and what happens when the file is damaged.
//!
//! One SQLite file per agent (`/data/memory.db`), in WAL mode. `facts` holds the facts;
//! `facts_fts` (FTS5, external content, kept in step by triggers) indexes their text for
//! BM25; `facts_bits` (sqlite-vec `vec0`, `bit[dimensions]`) holds the sign bits of their
//! embeddings under the same rowid: a scan of bits by Hamming distance costs a thirtieth
//! of a scan of floats, and the candidates it finds are re-ranked by exact cosine against
//! the embeddings in `facts` (see `vectors::nearest`). A fact saved while no embedder
//! answered has no row in `facts_bits` until one does.

use std::path::{Path, PathBuf};
use std::sync::Once;

use rusqlite::{Connection, ErrorCode, OptionalExtension};

use crate::MemoryError;

/// Version of the schema below, in `PRAGMA user_version`.
const SCHEMA_VERSION: i64 = 2;

fn schema(dimensions: usize) -> String {
    format!(
        "
CREATE TABLE IF NOT EXISTS facts (
    id            INTEGER PRIMARY KEY,
    key           TEXT NOT NULL,
    value         TEXT NOT NULL,
    category      TEXT NOT NULL,
    source        TEXT NOT NULL,
    confidence    REAL NOT NULL,
    embedding     BLOB,                -- little-endian f32 × dimensions; NULL: not embedded yet
    access_count  INTEGER NOT NULL DEFAULT 0,
    last_accessed TEXT,                -- RFC 3339
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    salience      REAL NOT NULL DEFAULT 1.0
);
CREATE INDEX IF NOT EXISTS facts_category ON facts(category);
CREATE INDEX IF NOT EXISTS facts_key ON facts(category, key);
CREATE INDEX IF NOT EXISTS facts_unembedded ON facts(id) WHERE embedding IS NULL;

CREATE VIRTUAL TABLE IF NOT EXISTS facts_fts USING fts5(
    key, value, category, content = 'facts', content_rowid = 'id',
    tokenize = 'porter unicode61'
);
CREATE TRIGGER IF NOT EXISTS facts_ai AFTER INSERT ON facts BEGIN
    INSERT INTO facts_fts(rowid, key, value, category)
    VALUES (new.id, new.key, new.value, new.category);
END;
CREATE TRIGGER IF NOT EXISTS facts_ad AFTER DELETE ON facts BEGIN
    INSERT INTO facts_fts(facts_fts, rowid, key, value, category)
    VALUES ('delete', old.id, old.key, old.value, old.category);
END;
CREATE TRIGGER IF NOT EXISTS facts_au AFTER UPDATE OF key, value, category ON facts BEGIN
    INSERT INTO facts_fts(facts_fts, rowid, key, value, category)
    VALUES ('delete', old.id, old.key, old.value, old.category);
    INSERT INTO facts_fts(rowid, key, value, category)
    VALUES (new.id, new.key, new.value, new.category);
END;

CREATE VIRTUAL TABLE IF NOT EXISTS facts_bits USING vec0(embedding bit[{dimensions}]);
-- Version 1 kept float vectors here; the bits replace them.
DROP TABLE IF EXISTS facts_vec;

CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"
    )
}

/// Makes every connection of this process load sqlite-vec.
fn register_sqlite_vec() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        type Init = unsafe extern "C" fn(
            *mut rusqlite::ffi::sqlite3,
            *mut *mut std::ffi::c_char,
            *const rusqlite::ffi::sqlite3_api_routines,
        ) -> std::ffi::c_int;
        #[expect(
            unsafe_code,
            reason = "SQLite's C API for registering a statically linked extension. Sound: \
                      `sqlite3_vec_init` is an extension entry point with exactly the `Init` \
                      signature (sqlite-vec declares it without parameters), and SQLite calls \
                      it on each new connection as documented for sqlite3_auto_extension"
        )]
        // SAFETY: see the `expect` reason above.
        let rc = unsafe {
            let init =
                std::mem::transmute::<*const (), Init>(sqlite_vec::sqlite3_vec_init as *const ());
            rusqlite::ffi::sqlite3_auto_extension(Some(init))
        };
        assert_eq!(rc, rusqlite::ffi::SQLITE_OK, "registering sqlite-vec");
    });
}

/// Whether `e` says the file is not a (healthy) SQLite database.
fn is_corruption(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase)
    )
}

/// Opens (creating if needed) the database at `path` and checks it.
fn try_open(path: &Path, dimensions: usize) -> Result<Connection, rusqlite::Error> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    let check: String = conn.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
    if check != "ok" {
        return Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CORRUPT),
            Some(check),
        ));
    }
    conn.execute_batch(&schema(dimensions))?;
    let bits: i64 = conn.query_row("SELECT count(*) FROM facts_bits", [], |r| r.get(0))?;
    if bits == 0 {
        // A database of version 1, or one whose bits were lost: derive them again.
        conn.execute(
            "INSERT INTO facts_bits(rowid, embedding)
             SELECT id, vec_quantize_binary(embedding) FROM facts WHERE embedding IS NOT NULL",
            [],
        )?;
    }
    conn.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    conn.execute(
        "INSERT OR IGNORE INTO meta(name, value) VALUES ('dimensions', ?1)",
        [dimensions.to_string()],
    )?;
    Ok(conn)
}

/// Refuses a database made for vectors of another length (another embedding model).
fn check_dimensions(conn: &Connection, path: &Path, dimensions: usize) -> Result<(), MemoryError> {
    let stored: Option<String> = conn
        .query_row(
            "SELECT value FROM meta WHERE name = 'dimensions'",
            [],
            |r| r.get(0),
        )
        .optional()
        .map_err(|source| MemoryError::Open {
            path: path.to_owned(),
            source,
        })?;
    match stored {
        Some(d) if d != dimensions.to_string() => Err(MemoryError::Dimensions {
            path: path.to_owned(),
            stored: d,
            wanted: dimensions,
        }),
        _ => Ok(()),
    }
}

/// An opened database, and where a damaged earlier one was moved, if it was.
#[derive(Debug)]
pub(crate) struct Opened {
    pub(crate) conn: Connection,
    pub(crate) moved_aside: Option<PathBuf>,
}

/// Opens the database at `path`. A file SQLite calls corrupt or not a database is renamed
/// to `<name>.corrupt-<UTC timestamp>` (with its `-wal` and `-shm`), reported as an error
/// in the log, and replaced by a fresh, empty database: an agent that lost its memory can
/// still work, and the old file is kept for whoever wants to recover it.
pub(crate) fn open(path: &Path, dimensions: usize) -> Result<Opened, MemoryError> {
    register_sqlite_vec();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| MemoryError::Io {
            path: dir.to_owned(),
            source,
        })?;
    }
    let sqlite = |source| MemoryError::Open {
        path: path.to_owned(),
        source,
    };
    match try_open(path, dimensions) {
        Ok(conn) => {
            check_dimensions(&conn, path, dimensions)?;
            Ok(Opened {
                conn,
                moved_aside: None,
            })
        }
        Err(e) if is_corruption(&e) => {
            let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
            let aside = path.with_file_name(format!(
                "{}.corrupt-{stamp}",
                path.file_name()
                    .map_or("memory.db".into(), |n| n.to_string_lossy())
            ));
            for suffix in ["", "-wal", "-shm"] {
                let from = PathBuf::from(format!("{}{suffix}", path.display()));
                let to = PathBuf::from(format!("{}{suffix}", aside.display()));
                if from.exists() {
                    std::fs::rename(&from, &to).map_err(|source| MemoryError::Io {
                        path: from.clone(),
                        source,
                    })?;
                }
            }
            tracing::error!(
                path = %path.display(),
                moved_to = %aside.display(),
                error = %e,
                "the memory database is damaged: moved it aside and started an empty one"
            );
            let conn = try_open(path, dimensions).map_err(sqlite)?;
            Ok(Opened {
                conn,
                moved_aside: Some(aside),
            })
        }
        Err(e) => Err(sqlite(e)),
    }
}
