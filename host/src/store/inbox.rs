//! Per-agent inboxes: bounded, ordered, durable queues of messages not yet delivered.

use openlegion_protocol::AgentMessage;
use rusqlite::{Connection, OptionalExtension, params};

use super::StoreError;

/// A queued message and its position in the agent's queue.
#[derive(Debug, Clone)]
pub struct Queued {
    pub seq: i64,
    pub message: AgentMessage,
    pub attempts: u32,
    /// Why the last push delivery failed, if it did.
    pub last_error: Option<String>,
    /// The agent refused this message; it is no longer pushed, only pulled.
    pub dead: bool,
}

/// How many messages wait for `agent`.
pub fn count(conn: &Connection, agent: &str) -> Result<u64, StoreError> {
    let n: Option<i64> = conn
        .prepare_cached("SELECT n FROM inbox_size WHERE agent_id = ?1")?
        .query_row([agent], |r| r.get(0))
        .optional()?;
    Ok(n.unwrap_or(0) as u64)
}

/// Appends `message` to `agent`'s inbox unless it already holds `max` messages; returns
/// the new sequence number, or `None` when the inbox is full.
pub fn enqueue(
    conn: &Connection,
    agent: &str,
    message: &AgentMessage,
    max: u32,
    now: i64,
) -> Result<Option<i64>, StoreError> {
    if count(conn, agent)? >= u64::from(max) {
        return Ok(None);
    }
    let json = serde_json::to_string(message).expect("a message always serialises");
    conn.prepare_cached("INSERT INTO inbox (agent_id, message, enqueued_at) VALUES (?1, ?2, ?3)")?
        .execute(params![agent, json, now])?;
    Ok(Some(conn.last_insert_rowid()))
}

/// Up to `limit` messages for `agent` after sequence number `after`, oldest first;
/// refused ("dead") messages only if `include_dead`.
pub fn pending(
    conn: &Connection,
    agent: &str,
    after: i64,
    limit: u32,
    include_dead: bool,
) -> Result<Vec<Queued>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, message, attempts, last_error, dead FROM inbox
         WHERE agent_id = ?1 AND seq > ?2 AND (?4 OR dead = 0) ORDER BY seq LIMIT ?3",
    )?;
    let rows = stmt.query_map(params![agent, after, limit, include_dead], |r| {
        let raw: String = r.get(1)?;
        let message = serde_json::from_str(&raw).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(1, rusqlite::types::Type::Text, Box::new(e))
        })?;
        Ok(Queued {
            seq: r.get(0)?,
            message,
            attempts: r.get(2)?,
            last_error: r.get(3)?,
            dead: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Removes `agent`'s messages up to and including `up_to`; returns how many.
pub fn ack(conn: &Connection, agent: &str, up_to: i64) -> Result<usize, StoreError> {
    Ok(conn
        .prepare_cached("DELETE FROM inbox WHERE agent_id = ?1 AND seq <= ?2")?
        .execute(params![agent, up_to])?)
}

/// Removes the single message `seq` (delivered by push).
pub fn remove(conn: &Connection, seq: i64) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached("DELETE FROM inbox WHERE seq = ?1")?
        .execute([seq])?
        > 0)
}

/// Records a failed delivery attempt of message `seq`.
pub fn record_failure(conn: &Connection, seq: i64, error: &str) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE inbox SET attempts = attempts + 1, last_error = ?2 WHERE seq = ?1",
    )?
    .execute(params![seq, error])?;
    Ok(())
}

/// Marks message `seq` as refused by its recipient: it stays queued for pulling (and keeps
/// counting against the bound) but is no longer pushed.
pub fn mark_dead(conn: &Connection, seq: i64, error: &str) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE inbox SET attempts = attempts + 1, last_error = ?2, dead = 1 WHERE seq = ?1",
    )?
    .execute(params![seq, error])?;
    Ok(())
}

/// Number of waiting messages per agent.
pub fn counts(conn: &Connection) -> Result<Vec<(String, u64)>, StoreError> {
    let mut stmt = conn.prepare("SELECT agent_id, n FROM inbox_size WHERE n > 0")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}
