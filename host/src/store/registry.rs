//! Agents, their token hashes, topic subscriptions and blackboard watches.

use rusqlite::{Connection, params};

use super::StoreError;

/// A row of the agent registry.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentRow {
    pub id: String,
    pub role: String,
    pub capabilities: Vec<String>,
    pub url: Option<String>,
    pub registered: bool,
    pub registered_at: i64,
}

/// Inserts or replaces an agent row.
pub fn upsert_agent(conn: &Connection, agent: &AgentRow) -> Result<(), StoreError> {
    let caps = serde_json::to_string(&agent.capabilities).expect("strings serialise");
    conn.prepare_cached(
        "INSERT INTO agents (id, role, capabilities, url, registered, registered_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (id) DO UPDATE SET role = excluded.role, capabilities = excluded.capabilities,
             url = excluded.url, registered = excluded.registered, registered_at = excluded.registered_at",
    )?
    .execute(params![agent.id, agent.role, caps, agent.url, agent.registered, agent.registered_at])?;
    Ok(())
}

/// Deletes an agent with its tokens, subscriptions, watches and inbox (by cascade).
pub fn delete_agent(conn: &Connection, id: &str) -> Result<bool, StoreError> {
    conn.execute_batch("PRAGMA foreign_keys=ON")?;
    Ok(conn.execute("DELETE FROM agents WHERE id = ?1", [id])? > 0)
}

pub fn load_agents(conn: &Connection) -> Result<Vec<AgentRow>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT id, role, capabilities, url, registered, registered_at FROM agents ORDER BY registered_at, id",
    )?;
    let rows = stmt.query_map([], |r| {
        let caps: String = r.get(2)?;
        Ok(AgentRow {
            id: r.get(0)?,
            role: r.get(1)?,
            capabilities: serde_json::from_str(&caps).unwrap_or_default(),
            url: r.get(3)?,
            registered: r.get(4)?,
            registered_at: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn insert_token(
    conn: &Connection,
    hash: &[u8; 32],
    agent: &str,
    now: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached("INSERT INTO tokens (hash, agent_id, created_at) VALUES (?1, ?2, ?3)")?
        .execute(params![&hash[..], agent, now])?;
    Ok(())
}

/// Deletes every token of `agent`.
pub fn delete_tokens(conn: &Connection, agent: &str) -> Result<usize, StoreError> {
    Ok(conn
        .prepare_cached("DELETE FROM tokens WHERE agent_id = ?1")?
        .execute([agent])?)
}

/// Every (token hash, agent) pair.
pub fn load_tokens(conn: &Connection) -> Result<Vec<([u8; 32], String)>, StoreError> {
    let mut stmt = conn.prepare("SELECT hash, agent_id FROM tokens")?;
    let rows = stmt.query_map([], |r| {
        let raw: Vec<u8> = r.get(0)?;
        Ok((raw, r.get::<_, String>(1)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (raw, agent) = row?;
        if let Ok(hash) = <[u8; 32]>::try_from(raw.as_slice()) {
            out.push((hash, agent));
        }
    }
    Ok(out)
}

/// Adds a subscription; returns false if it already existed.
pub fn subscribe(conn: &Connection, topic: &str, agent: &str) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached("INSERT OR IGNORE INTO subscriptions (topic, agent_id) VALUES (?1, ?2)")?
        .execute([topic, agent])?
        > 0)
}

pub fn unsubscribe(conn: &Connection, topic: &str, agent: &str) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached("DELETE FROM subscriptions WHERE topic = ?1 AND agent_id = ?2")?
        .execute([topic, agent])?
        > 0)
}

/// Every (topic, agent) subscription.
pub fn load_subscriptions(conn: &Connection) -> Result<Vec<(String, String)>, StoreError> {
    let mut stmt =
        conn.prepare("SELECT topic, agent_id FROM subscriptions ORDER BY topic, agent_id")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Adds a watch; returns false if it already existed.
pub fn add_watch(conn: &Connection, agent: &str, pattern: &str) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached("INSERT OR IGNORE INTO watches (agent_id, pattern) VALUES (?1, ?2)")?
        .execute([agent, pattern])?
        > 0)
}

/// Every (agent, pattern) watch.
pub fn load_watches(conn: &Connection) -> Result<Vec<(String, String)>, StoreError> {
    let mut stmt = conn.prepare("SELECT agent_id, pattern FROM watches")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}
