//! Webhook deliveries seen recently, for replay protection: a delivery id a hook has seen
//! within [`REPLAY_WINDOW_MICROS`] is not dispatched again. Rows older than the window are
//! pruned as new deliveries arrive.

use rusqlite::{Connection, params};

use super::StoreError;

/// How long a delivery id is remembered: 24 hours.
pub const REPLAY_WINDOW_MICROS: i64 = 24 * 3600 * 1_000_000;

/// Records delivery `delivery` of hook `hook` at `now`; `false` when it was already seen
/// within the window (a replay). Prunes rows older than the window first.
pub fn record(conn: &Connection, hook: &str, delivery: &str, now: i64) -> Result<bool, StoreError> {
    let cutoff = now - REPLAY_WINDOW_MICROS;
    conn.prepare_cached("DELETE FROM webhook_deliveries WHERE seen_at < ?1")?
        .execute([cutoff])?;
    let added = conn
        .prepare_cached(
            "INSERT INTO webhook_deliveries (hook_id, delivery_id, seen_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (hook_id, delivery_id) DO NOTHING",
        )?
        .execute(params![hook, delivery, now])?;
    Ok(added == 1)
}

/// Forgets a delivery, so a retry of one that could not be queued (full lane) is accepted.
pub fn forget(conn: &Connection, hook: &str, delivery: &str) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM webhook_deliveries WHERE hook_id = ?1 AND delivery_id = ?2")?
        .execute(params![hook, delivery])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn() -> Connection {
        let c = Connection::open_in_memory().unwrap();
        crate::store::schema::migrate(&c, std::path::Path::new(":memory:")).unwrap();
        c
    }

    #[test]
    fn a_delivery_id_is_a_replay_within_24_hours_and_new_after() {
        let c = conn();
        let t0 = 1_000 * REPLAY_WINDOW_MICROS;
        assert!(record(&c, "hook_a", "d1", t0).unwrap());
        assert!(!record(&c, "hook_a", "d1", t0 + REPLAY_WINDOW_MICROS - 1).unwrap());
        assert!(record(&c, "hook_b", "d1", t0).unwrap(), "ids are per hook");
        assert!(record(&c, "hook_a", "d1", t0 + REPLAY_WINDOW_MICROS + 1).unwrap());
    }

    #[test]
    fn a_forgotten_delivery_is_accepted_again() {
        let c = conn();
        assert!(record(&c, "h", "d", 5).unwrap());
        forget(&c, "h", "d").unwrap();
        assert!(record(&c, "h", "d", 6).unwrap());
    }
}
