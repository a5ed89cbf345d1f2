//! The LLM usage ledger: one row per provider call that returned.

use rusqlite::{Connection, params};

use super::StoreError;

/// One charged call.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageRow {
    pub agent_id: String,
    pub model: String,
    pub kind: &'static str,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cost_usd: f64,
    pub created_at: i64,
}

pub fn insert(conn: &Connection, row: &UsageRow) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO usage (agent_id, model, kind, prompt_tokens, completion_tokens, cost_usd, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        row.agent_id,
        row.model,
        row.kind,
        row.prompt_tokens as i64,
        row.completion_tokens as i64,
        row.cost_usd,
        row.created_at
    ])?;
    Ok(())
}

/// What `agent` spent since `since` (unix µs).
pub fn spent_since(conn: &Connection, agent: &str, since: i64) -> Result<f64, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT COALESCE(SUM(cost_usd), 0) FROM usage WHERE agent_id = ?1 AND created_at >= ?2",
        )?
        .query_row(params![agent, since], |r| r.get(0))?)
}

/// Totals since `since`, grouped by (agent, model).
#[derive(Debug, Clone, PartialEq)]
pub struct Totals {
    pub agent_id: String,
    pub model: String,
    pub calls: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cost_usd: f64,
}

pub fn totals_since(
    conn: &Connection,
    since: i64,
    agent: Option<&str>,
) -> Result<Vec<Totals>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT agent_id, model, COUNT(*), SUM(prompt_tokens), SUM(completion_tokens), SUM(cost_usd)
         FROM usage WHERE created_at >= ?1 AND (?2 IS NULL OR agent_id = ?2)
         GROUP BY agent_id, model ORDER BY agent_id, model",
    )?;
    let rows = stmt.query_map(params![since, agent], |r| {
        Ok(Totals {
            agent_id: r.get(0)?,
            model: r.get(1)?,
            calls: r.get::<_, i64>(2)? as u64,
            prompt_tokens: r.get::<_, i64>(3)? as u64,
            completion_tokens: r.get::<_, i64>(4)? as u64,
            cost_usd: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
