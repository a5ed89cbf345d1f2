//! Blackboard rows: versioned upserts, compare-and-swap, TTL and the append-only history.
//!
//! A row is *expired* once `expires_at` (= `updated_at + ttl`) is in the past. Expired rows
//! are invisible to every read; [`gc`] deletes them. Writing to an expired key starts it
//! afresh at version 1, as if it had already been collected.

use openlegion_protocol::{BlackboardEntry, is_history_key};
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::{Map, Value};

use super::{StoreError, from_micros};

/// Why a blackboard write was refused by the data (not by permissions).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BlackboardError {
    /// The key was not at the expected version (or does not exist).
    #[error("Version conflict on key '{key}'")]
    Conflict { key: String },
    /// A `history/` key was written already; history is write-once.
    #[error("History is append-only: '{key}' has already been written")]
    HistoryExists { key: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for BlackboardError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Store(e.into())
    }
}

const COLUMNS: &str = "key, value, written_by, workflow_id, created_at, updated_at, ttl, version";

fn entry(row: &Row<'_>) -> rusqlite::Result<BlackboardEntry> {
    let raw: String = row.get(1)?;
    let value: Map<String, Value> = serde_json::from_str(&raw).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(1, rusqlite::types::Type::Text, Box::new(e))
    })?;
    Ok(BlackboardEntry {
        key: row.get(0)?,
        value,
        written_by: row.get(2)?,
        workflow_id: row.get(3)?,
        created_at: from_micros(row.get(4)?),
        updated_at: from_micros(row.get(5)?),
        ttl: row.get::<_, Option<i64>>(6)?.map(|t| t as u64),
        version: row.get::<_, i64>(7)? as u64,
    })
}

/// The live entry at `key`, if any.
pub fn get(conn: &Connection, key: &str, now: i64) -> Result<Option<BlackboardEntry>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM blackboard WHERE key = ?1 AND (expires_at IS NULL OR expires_at >= ?2)"
    );
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params![key, now], entry)
        .optional()?)
}

/// Live entries whose key starts with `prefix`, in key order, at most `limit`.
pub fn list(
    conn: &Connection,
    prefix: &str,
    now: i64,
    limit: u32,
) -> Result<Vec<BlackboardEntry>, StoreError> {
    // The range lets SQLite use the primary key; the substr test makes the match exact.
    let upper = format!("{prefix}\u{10FFFF}");
    let sql = format!(
        "SELECT {COLUMNS} FROM blackboard
         WHERE key >= ?1 AND key < ?2 AND substr(key, 1, length(?1)) = ?1
           AND (expires_at IS NULL OR expires_at >= ?3)
         ORDER BY key LIMIT ?4"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![prefix, upper, now, limit], entry)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn expires(now: i64, ttl: Option<u64>) -> Option<i64> {
    ttl.map(|t| now.saturating_add((t as i64).saturating_mul(1_000_000)))
}

/// Drops `key` if it has expired, so the write that follows starts it afresh.
fn forget_expired(conn: &Connection, key: &str, now: i64) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM blackboard WHERE key = ?1 AND expires_at < ?2")?
        .execute(params![key, now])?;
    Ok(())
}

/// Writes `value` (already validated JSON) at `key`: version 1 for a new key, else +1.
/// `ttl` replaces the previous one (a write without a ttl makes the key permanent).
pub fn put(
    conn: &Connection,
    key: &str,
    value: &str,
    writer: &str,
    ttl: Option<u64>,
    now: i64,
) -> Result<BlackboardEntry, BlackboardError> {
    forget_expired(conn, key, now)?;
    if is_history_key(key) {
        let exists: bool = conn
            .prepare_cached("SELECT EXISTS(SELECT 1 FROM blackboard WHERE key = ?1)")?
            .query_row([key], |r| r.get(0))?;
        if exists {
            return Err(BlackboardError::HistoryExists {
                key: key.to_owned(),
            });
        }
    }
    let sql = format!(
        "INSERT INTO blackboard (key, value, written_by, created_at, updated_at, ttl, expires_at, version)
         VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6, 1)
         ON CONFLICT (key) DO UPDATE SET
             value = excluded.value, written_by = excluded.written_by,
             updated_at = excluded.updated_at, ttl = excluded.ttl,
             expires_at = excluded.expires_at, version = blackboard.version + 1
         RETURNING {COLUMNS}"
    );
    let ttl_i = ttl.map(|t| t as i64);
    Ok(conn.prepare_cached(&sql)?.query_row(
        params![key, value, writer, now, ttl_i, expires(now, ttl)],
        entry,
    )?)
}

/// Writes `value` at `key` only if the key is live at `expected_version`. The entry keeps
/// its ttl, counted again from now.
pub fn claim(
    conn: &Connection,
    key: &str,
    value: &str,
    writer: &str,
    expected_version: u64,
    now: i64,
) -> Result<BlackboardEntry, BlackboardError> {
    if is_history_key(key) {
        return Err(BlackboardError::HistoryExists {
            key: key.to_owned(),
        });
    }
    let sql = format!(
        "UPDATE blackboard SET
             value = ?2, written_by = ?3, updated_at = ?4,
             expires_at = CASE WHEN ttl IS NULL THEN NULL ELSE ?4 + ttl * 1000000 END,
             version = version + 1
         WHERE key = ?1 AND version = ?5 AND (expires_at IS NULL OR expires_at >= ?4)
         RETURNING {COLUMNS}"
    );
    conn.prepare_cached(&sql)?
        .query_row(
            params![key, value, writer, now, expected_version as i64],
            entry,
        )
        .optional()?
        .ok_or_else(|| BlackboardError::Conflict {
            key: key.to_owned(),
        })
}

/// Deletes the live entry at `key`; returns whether there was one. The caller refuses
/// `history/` keys before getting here.
pub fn delete(conn: &Connection, key: &str, now: i64) -> Result<bool, StoreError> {
    forget_expired(conn, key, now)?;
    let n = conn
        .prepare_cached("DELETE FROM blackboard WHERE key = ?1")?
        .execute([key])?;
    Ok(n > 0)
}

/// Deletes every expired entry (history is never deleted); returns how many.
pub fn gc(conn: &Connection, now: i64) -> Result<usize, StoreError> {
    Ok(conn.execute(
        "DELETE FROM blackboard WHERE expires_at < ?1 AND substr(key, 1, 8) <> 'history/'",
        [now],
    )?)
}
