//! Lanes on disk: per-agent, bounded, ordered queues of turns, and the outcomes of the
//! finished ones.
//!
//! An item is `queued`, then `running` once claimed, then `finished` with its outcome. A
//! claim commits before the agent is called, so an item running when the mesh dies is
//! found `running` at the next start and [`requeue_running`] puts it back at its place:
//! delivery is at-least-once. The bound counts queued and running items; finished ones
//! are kept (the newest [`KEEP_FINISHED`] per agent) so their outcome can be looked up.
//! The JSON columns are opaque here: the lanes service owns their shapes.

use rusqlite::{Connection, OptionalExtension, params};

use super::StoreError;

/// Finished items kept per agent for outcome lookups.
pub const KEEP_FINISHED: u32 = 1000;

/// One row of `lane_items`.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub seq: i64,
    pub id: String,
    pub agent: String,
    pub work: String,
    pub origin: String,
    pub state: String,
    pub outcome: Option<String>,
    pub attempts: u32,
    pub enqueued_at: i64,
}

/// Queued and running items of `agent`.
pub fn depth(conn: &Connection, agent: &str) -> Result<u64, StoreError> {
    let n: i64 = conn
        .prepare_cached(
            "SELECT COUNT(*) FROM lane_items WHERE agent_id = ?1 AND state IN ('queued', 'running')",
        )?
        .query_row([agent], |r| r.get(0))?;
    Ok(n as u64)
}

/// Appends an item to `agent`'s lane unless it holds `max` unfinished items already;
/// returns its sequence number, or `None` when the lane is full.
pub fn enqueue(
    conn: &Connection,
    agent: &str,
    id: &str,
    work: &str,
    origin: &str,
    max: u32,
    now: i64,
) -> Result<Option<i64>, StoreError> {
    if depth(conn, agent)? >= u64::from(max) {
        return Ok(None);
    }
    conn.prepare_cached(
        "INSERT INTO lane_items (id, agent_id, work, origin, state, enqueued_at)
         VALUES (?1, ?2, ?3, ?4, 'queued', ?5)",
    )?
    .execute(params![id, agent, work, origin, now])?;
    Ok(Some(conn.last_insert_rowid()))
}

/// Marks `agent`'s oldest queued item running and returns it (`None`: nothing queued).
pub fn claim(conn: &Connection, agent: &str, now: i64) -> Result<Option<Row>, StoreError> {
    let seq: Option<i64> = conn
        .prepare_cached(
            "SELECT seq FROM lane_items WHERE agent_id = ?1 AND state = 'queued' ORDER BY seq LIMIT 1",
        )?
        .query_row([agent], |r| r.get(0))
        .optional()?;
    let Some(seq) = seq else { return Ok(None) };
    conn.prepare_cached(
        "UPDATE lane_items SET state = 'running', started_at = ?2, attempts = attempts + 1
         WHERE seq = ?1",
    )?
    .execute(params![seq, now])?;
    by_seq(conn, seq)
}

/// Puts a running item back in the queue at its place (its agent could not be reached).
pub fn release(conn: &Connection, seq: i64) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE lane_items SET state = 'queued', started_at = NULL WHERE seq = ?1 AND state = 'running'",
    )?
    .execute([seq])?;
    Ok(())
}

/// Records the outcome of item `id` and prunes its agent's oldest finished items; `false`
/// if it was already finished (a cancel won the race) or is gone.
pub fn finish(conn: &Connection, id: &str, outcome: &str, now: i64) -> Result<bool, StoreError> {
    let agent: Option<String> = conn
        .prepare_cached(
            "UPDATE lane_items SET state = 'finished', outcome = ?2, finished_at = ?3
             WHERE id = ?1 AND state != 'finished' RETURNING agent_id",
        )?
        .query_row(params![id, outcome, now], |r| r.get(0))
        .optional()?;
    let Some(agent) = agent else {
        return Ok(false);
    };
    conn.prepare_cached(
        "DELETE FROM lane_items WHERE agent_id = ?1 AND state = 'finished' AND seq <= (
             SELECT seq FROM lane_items WHERE agent_id = ?1 AND state = 'finished'
             ORDER BY seq DESC LIMIT 1 OFFSET ?2)",
    )?
    .execute(params![agent, KEEP_FINISHED])?;
    Ok(true)
}

/// At start: every item left running by a crash is queued again, at its place.
pub fn requeue_running(conn: &Connection) -> Result<usize, StoreError> {
    Ok(conn
        .prepare_cached(
            "UPDATE lane_items SET state = 'queued', started_at = NULL WHERE state = 'running'",
        )?
        .execute([])?)
}

pub fn get(conn: &Connection, id: &str) -> Result<Option<Row>, StoreError> {
    let seq: Option<i64> = conn
        .prepare_cached("SELECT seq FROM lane_items WHERE id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?;
    match seq {
        Some(seq) => by_seq(conn, seq),
        None => Ok(None),
    }
}

fn by_seq(conn: &Connection, seq: i64) -> Result<Option<Row>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT seq, id, agent_id, work, origin, state, outcome, attempts, enqueued_at
             FROM lane_items WHERE seq = ?1",
        )?
        .query_row([seq], |r| {
            Ok(Row {
                seq: r.get(0)?,
                id: r.get(1)?,
                agent: r.get(2)?,
                work: r.get(3)?,
                origin: r.get(4)?,
                state: r.get(5)?,
                outcome: r.get(6)?,
                attempts: r.get(7)?,
                enqueued_at: r.get(8)?,
            })
        })
        .optional()?)
}

/// Per agent with unfinished items: (agent, queued, running, oldest enqueued_at).
pub fn summary(conn: &Connection) -> Result<Vec<(String, u64, u64, i64)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT agent_id, SUM(state = 'queued'), SUM(state = 'running'), MIN(enqueued_at)
         FROM lane_items WHERE state IN ('queued', 'running') GROUP BY agent_id ORDER BY agent_id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)? as u64,
            r.get::<_, i64>(2)? as u64,
            r.get::<_, i64>(3)?,
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mesh.db");
        let conn = Connection::open(&path).unwrap();
        super::super::schema::migrate(&conn, &path).unwrap();
        conn.execute(
            "INSERT INTO agents (id, registered_at) VALUES ('a', 0), ('b', 0)",
            [],
        )
        .unwrap();
        (dir, conn)
    }

    fn add(conn: &Connection, agent: &str, id: &str, max: u32) -> Option<i64> {
        enqueue(conn, agent, id, "{}", "{}", max, 1).unwrap()
    }

    #[test]
    fn a_lane_is_bounded_per_agent_and_counts_running_items() {
        let (_d, c) = db();
        for i in 0..3 {
            assert!(add(&c, "a", &format!("a{i}"), 3).is_some());
        }
        assert_eq!(add(&c, "a", "a3", 3), None, "full");
        assert!(
            add(&c, "b", "b0", 3).is_some(),
            "another agent's lane is apart"
        );
        claim(&c, "a", 2).unwrap().unwrap();
        assert_eq!(add(&c, "a", "a3", 3), None, "a running item still counts");
        finish(&c, "a0", "{\"status\":\"cancelled\"}", 3).unwrap();
        assert!(
            add(&c, "a", "a3", 3).is_some(),
            "a finished one frees its place"
        );
        assert_eq!(depth(&c, "a").unwrap(), 3);
    }

    #[test]
    fn items_are_claimed_in_order_and_a_crash_requeues_them_at_their_place() {
        let (_d, c) = db();
        for i in 0..5 {
            add(&c, "a", &format!("i{i}"), 100);
        }
        assert_eq!(claim(&c, "a", 2).unwrap().unwrap().id, "i0");
        assert_eq!(claim(&c, "a", 2).unwrap().unwrap().id, "i1");
        assert_eq!(requeue_running(&c).unwrap(), 2);
        let again = claim(&c, "a", 3).unwrap().unwrap();
        assert_eq!((again.id.as_str(), again.attempts), ("i0", 2), "run again");
        release(&c, again.seq).unwrap();
        let order: Vec<String> =
            std::iter::from_fn(|| claim(&c, "a", 4).unwrap().map(|r| r.id)).collect();
        assert_eq!(order, ["i0", "i1", "i2", "i3", "i4"]);
        assert_eq!(summary(&c).unwrap(), vec![("a".to_owned(), 0, 5, 1)]);
    }

    #[test]
    fn an_outcome_is_recorded_once_and_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mesh.db");
        {
            let c = Connection::open(&path).unwrap();
            super::super::schema::migrate(&c, &path).unwrap();
            c.execute("INSERT INTO agents (id, registered_at) VALUES ('a', 0)", [])
                .unwrap();
            add(&c, "a", "x", 10);
            claim(&c, "a", 2).unwrap();
            assert!(finish(&c, "x", "{\"done\":1}", 3).unwrap());
            assert!(!finish(&c, "x", "{\"done\":2}", 4).unwrap(), "only once");
        }
        let c = Connection::open(&path).unwrap();
        let row = get(&c, "x").unwrap().unwrap();
        assert_eq!(
            (row.state.as_str(), row.outcome.as_deref()),
            ("finished", Some("{\"done\":1}"))
        );
        assert_eq!(get(&c, "nope").unwrap(), None);
    }

    #[test]
    fn a_removed_agents_items_are_dropped() {
        let (_d, c) = db();
        c.execute_batch("PRAGMA foreign_keys=ON;").unwrap();
        add(&c, "a", "gone", 10);
        c.execute("DELETE FROM agents WHERE id = 'a'", []).unwrap();
        assert_eq!(get(&c, "gone").unwrap(), None);
    }

    #[test]
    fn only_the_newest_finished_items_are_kept() {
        let (_d, c) = db();
        for i in 0..(KEEP_FINISHED + 5) {
            let id = format!("f{i}");
            add(&c, "a", &id, u32::MAX);
            finish(&c, &id, "{}", 2).unwrap();
        }
        assert_eq!(get(&c, "f0").unwrap(), None, "the oldest pruned");
        assert!(
            get(&c, &format!("f{}", KEEP_FINISHED + 4))
                .unwrap()
                .is_some()
        );
        let kept: i64 = c
            .query_row("SELECT COUNT(*) FROM lane_items", [], |r| r.get(0))
            .unwrap();
        assert_eq!(kept, i64::from(KEEP_FINISHED));
    }
}
