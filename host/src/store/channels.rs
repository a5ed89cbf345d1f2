//! Chat channels on disk: the users the operator paired and the agent each talks to, the
//! pairing codes waiting for approval, each platform's read position, and the messages
//! received with the state of the answer owed to each.
//!
//! A message is `received` (recorded, nothing done yet), `queued` (its turn is in a lane,
//! the answer not yet complete) or `done`. Recording it is the dedupe: a message id seen
//! before is never handled again, and after a restart the `received` and `queued` ones are
//! finished where they stopped. Done rows are pruned after [`KEEP_DONE_MICROS`]. The JSON
//! columns are opaque here: the channels module owns their shapes.

use rusqlite::{Connection, OptionalExtension, params};

use super::StoreError;

/// How long handled message ids are remembered: 7 days (Telegram keeps unconfirmed
/// updates for 24 hours; Discord replays a resumed session's events within minutes).
pub const KEEP_DONE_MICROS: i64 = 7 * 24 * 3600 * 1_000_000;

/// How long a pairing code is valid: 1 hour.
pub const CODE_TTL_MICROS: i64 = 3600 * 1_000_000;

/// Pending codes kept per platform; the oldest go first (a flood of strangers cannot grow
/// the table).
pub const MAX_CODES: i64 = 100;

/// A user the operator paired.
#[derive(Debug, Clone, PartialEq)]
pub struct Paired {
    pub platform: String,
    pub user_id: String,
    pub name: String,
    /// The current agent, if the user chose one.
    pub agent: Option<String>,
    pub paired_at: i64,
}

/// A pairing code waiting for the operator.
#[derive(Debug, Clone, PartialEq)]
pub struct Code {
    pub code: String,
    pub platform: String,
    pub user_id: String,
    pub name: String,
    pub chat_id: String,
    pub created_at: i64,
}

/// A message not yet `done`.
#[derive(Debug, Clone, PartialEq)]
pub struct Open {
    pub message_id: String,
    pub inbound: String,
    pub state: String,
    pub lane_item: Option<String>,
    pub replies: String,
}

fn paired_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Paired> {
    Ok(Paired {
        platform: r.get(0)?,
        user_id: r.get(1)?,
        name: r.get(2)?,
        agent: r.get(3)?,
        paired_at: r.get(4)?,
    })
}

fn code_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Code> {
    Ok(Code {
        code: r.get(0)?,
        platform: r.get(1)?,
        user_id: r.get(2)?,
        name: r.get(3)?,
        chat_id: r.get(4)?,
        created_at: r.get(5)?,
    })
}

pub fn paired(conn: &Connection, platform: &str, user: &str) -> Result<Option<Paired>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT platform, user_id, name, agent, paired_at FROM channel_users
             WHERE platform = ?1 AND user_id = ?2",
        )?
        .query_row([platform, user], paired_row)
        .optional()?)
}

/// Every paired user, by platform and pairing time.
pub fn users(conn: &Connection) -> Result<Vec<Paired>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT platform, user_id, name, agent, paired_at FROM channel_users
         ORDER BY platform, paired_at",
    )?;
    let rows = stmt.query_map([], paired_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Pairing codes still valid at `now`.
pub fn codes(conn: &Connection, now: i64) -> Result<Vec<Code>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT code, platform, user_id, name, chat_id, created_at FROM channel_codes
         WHERE created_at > ?1 ORDER BY created_at",
    )?;
    let rows = stmt.query_map([now - CODE_TTL_MICROS], code_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The valid code of `platform`/`user`, or `fresh` stored as a new one. Returns the code
/// and whether it is new (a user asking again gets the same code, and no new message).
pub fn code_for(conn: &Connection, fresh: &Code, now: i64) -> Result<(String, bool), StoreError> {
    conn.prepare_cached("DELETE FROM channel_codes WHERE created_at <= ?1")?
        .execute([now - CODE_TTL_MICROS])?;
    let existing: Option<String> = conn
        .prepare_cached("SELECT code FROM channel_codes WHERE platform = ?1 AND user_id = ?2")?
        .query_row([&fresh.platform, &fresh.user_id], |r| r.get(0))
        .optional()?;
    if let Some(code) = existing {
        return Ok((code, false));
    }
    conn.prepare_cached(
        "INSERT INTO channel_codes (code, platform, user_id, name, chat_id, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        fresh.code,
        fresh.platform,
        fresh.user_id,
        fresh.name,
        fresh.chat_id,
        now
    ])?;
    conn.prepare_cached(
        "DELETE FROM channel_codes WHERE platform = ?1 AND code NOT IN
         (SELECT code FROM channel_codes WHERE platform = ?1 ORDER BY created_at DESC LIMIT ?2)",
    )?
    .execute(params![fresh.platform, MAX_CODES])?;
    Ok((fresh.code.clone(), true))
}

/// Approves `code`: its user becomes paired (current agent: the default). Returns the
/// code's row, or `None` if no valid code matches.
pub fn approve(conn: &Connection, code: &str, now: i64) -> Result<Option<Code>, StoreError> {
    let row = conn
        .prepare_cached(
            "SELECT code, platform, user_id, name, chat_id, created_at FROM channel_codes
             WHERE code = ?1 AND created_at > ?2",
        )?
        .query_row(params![code, now - CODE_TTL_MICROS], code_row)
        .optional()?;
    let Some(row) = row else { return Ok(None) };
    conn.prepare_cached("DELETE FROM channel_codes WHERE code = ?1")?
        .execute([code])?;
    conn.prepare_cached(
        "INSERT INTO channel_users (platform, user_id, name, agent, paired_at)
         VALUES (?1, ?2, ?3, NULL, ?4)
         ON CONFLICT (platform, user_id) DO UPDATE SET name = excluded.name",
    )?
    .execute(params![row.platform, row.user_id, row.name, now])?;
    Ok(Some(row))
}

/// Removes a paired user; `false` if there was none.
pub fn unpair(conn: &Connection, platform: &str, user: &str) -> Result<bool, StoreError> {
    let n = conn
        .prepare_cached("DELETE FROM channel_users WHERE platform = ?1 AND user_id = ?2")?
        .execute([platform, user])?;
    Ok(n == 1)
}

/// Sets a paired user's current agent.
pub fn set_agent(
    conn: &Connection,
    platform: &str,
    user: &str,
    agent: &str,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE channel_users SET agent = ?3 WHERE platform = ?1 AND user_id = ?2",
    )?
    .execute([platform, user, agent])?;
    Ok(())
}

pub fn cursor(conn: &Connection, platform: &str) -> Result<Option<String>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT cursor FROM channel_cursors WHERE platform = ?1")?
        .query_row([platform], |r| r.get(0))
        .optional()?)
}

pub fn set_cursor(conn: &Connection, platform: &str, cursor: &str) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO channel_cursors (platform, cursor) VALUES (?1, ?2)
         ON CONFLICT (platform) DO UPDATE SET cursor = excluded.cursor",
    )?
    .execute([platform, cursor])?;
    Ok(())
}

/// Records message `id` as received; `false` when it was seen before (not to be handled
/// again). Prunes done rows older than [`KEEP_DONE_MICROS`].
pub fn receive(
    conn: &Connection,
    platform: &str,
    id: &str,
    inbound: &str,
    now: i64,
) -> Result<bool, StoreError> {
    conn.prepare_cached("DELETE FROM channel_messages WHERE state = 'done' AND received_at < ?1")?
        .execute([now - KEEP_DONE_MICROS])?;
    let n = conn
        .prepare_cached(
            "INSERT INTO channel_messages (platform, message_id, inbound, state, received_at)
             VALUES (?1, ?2, ?3, 'received', ?4)
             ON CONFLICT (platform, message_id) DO NOTHING",
        )?
        .execute(params![platform, id, inbound, now])?;
    Ok(n == 1)
}

/// The message's turn is lane item `item`.
pub fn queued(conn: &Connection, platform: &str, id: &str, item: &str) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE channel_messages SET state = 'queued', lane_item = ?3
         WHERE platform = ?1 AND message_id = ?2",
    )?
    .execute([platform, id, item])?;
    Ok(())
}

/// The messages the answer has gone out as so far (JSON).
pub fn set_replies(
    conn: &Connection,
    platform: &str,
    id: &str,
    replies: &str,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE channel_messages SET replies = ?3 WHERE platform = ?1 AND message_id = ?2",
    )?
    .execute([platform, id, replies])?;
    Ok(())
}

pub fn done(conn: &Connection, platform: &str, id: &str) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE channel_messages SET state = 'done' WHERE platform = ?1 AND message_id = ?2",
    )?
    .execute([platform, id])?;
    Ok(())
}

/// `platform`'s messages not yet done, oldest first.
pub fn open(conn: &Connection, platform: &str) -> Result<Vec<Open>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT message_id, inbound, state, lane_item, replies FROM channel_messages
         WHERE platform = ?1 AND state <> 'done' ORDER BY received_at",
    )?;
    let rows = stmt.query_map([platform], |r| {
        Ok(Open {
            message_id: r.get(0)?,
            inbound: r.get(1)?,
            state: r.get(2)?,
            lane_item: r.get(3)?,
            replies: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn() -> Connection {
        let c = Connection::open_in_memory().unwrap();
        crate::store::schema::migrate(&c, std::path::Path::new(":memory:")).unwrap();
        c
    }

    fn code(code: &str, user: &str) -> Code {
        Code {
            code: code.into(),
            platform: "telegram".into(),
            user_id: user.into(),
            name: "alice".into(),
            chat_id: "c1".into(),
            created_at: 0,
        }
    }

    #[test]
    fn a_user_keeps_one_code_until_it_expires_and_approval_pairs_them() {
        let c = conn();
        let t0 = 10 * CODE_TTL_MICROS;
        assert_eq!(
            code_for(&c, &code("AAAA", "u1"), t0).unwrap(),
            ("AAAA".into(), true)
        );
        assert_eq!(
            code_for(&c, &code("BBBB", "u1"), t0 + 5).unwrap(),
            ("AAAA".into(), false),
            "asking again gives the same code"
        );
        assert!(approve(&c, "ZZZZ", t0).unwrap().is_none());
        assert!(
            approve(&c, "AAAA", t0 + CODE_TTL_MICROS).unwrap().is_none(),
            "expired"
        );
        let (fresh, new) = code_for(&c, &code("CCCC", "u1"), t0 + CODE_TTL_MICROS).unwrap();
        assert_eq!((fresh.as_str(), new), ("CCCC", true));
        let row = approve(&c, "CCCC", t0 + CODE_TTL_MICROS + 1)
            .unwrap()
            .unwrap();
        assert_eq!(row.chat_id, "c1");
        assert!(
            approve(&c, "CCCC", t0 + CODE_TTL_MICROS + 2)
                .unwrap()
                .is_none(),
            "one-time"
        );
        let user = paired(&c, "telegram", "u1").unwrap().unwrap();
        assert_eq!((user.name.as_str(), user.agent), ("alice", None));
        set_agent(&c, "telegram", "u1", "scout").unwrap();
        assert_eq!(users(&c).unwrap()[0].agent.as_deref(), Some("scout"));
        assert!(unpair(&c, "telegram", "u1").unwrap());
        assert!(!unpair(&c, "telegram", "u1").unwrap());
        assert!(paired(&c, "telegram", "u1").unwrap().is_none());
    }

    #[test]
    fn pending_codes_are_capped_per_platform() {
        let c = conn();
        for i in 0..(MAX_CODES + 20) {
            code_for(&c, &code(&format!("C{i}"), &format!("u{i}")), 1000 + i).unwrap();
        }
        let left = codes(&c, 2000).unwrap();
        assert_eq!(left.len() as i64, MAX_CODES);
        assert_eq!(left[0].code, "C20", "the oldest went first");
    }

    #[test]
    fn a_message_is_received_once_and_open_until_done() {
        let c = conn();
        let t0 = 2 * KEEP_DONE_MICROS;
        assert!(receive(&c, "discord", "m1", "{}", t0).unwrap());
        assert!(!receive(&c, "discord", "m1", "{}", t0 + 1).unwrap());
        assert!(
            receive(&c, "telegram", "m1", "{}", t0).unwrap(),
            "per platform"
        );
        queued(&c, "discord", "m1", "lane_x").unwrap();
        set_replies(&c, "discord", "m1", "[\"r1\"]").unwrap();
        let open_rows = open(&c, "discord").unwrap();
        assert_eq!(open_rows.len(), 1);
        assert_eq!(open_rows[0].state, "queued");
        assert_eq!(open_rows[0].lane_item.as_deref(), Some("lane_x"));
        assert_eq!(open_rows[0].replies, "[\"r1\"]");
        done(&c, "discord", "m1").unwrap();
        assert!(open(&c, "discord").unwrap().is_empty());
        assert!(!receive(&c, "discord", "m1", "{}", t0 + KEEP_DONE_MICROS - 1).unwrap());
        assert!(
            receive(&c, "discord", "m1", "{}", t0 + KEEP_DONE_MICROS + 1).unwrap(),
            "forgotten after the window"
        );
        set_cursor(&c, "telegram", "42").unwrap();
        set_cursor(&c, "telegram", "43").unwrap();
        assert_eq!(cursor(&c, "telegram").unwrap().as_deref(), Some("43"));
        assert_eq!(cursor(&c, "discord").unwrap(), None);
    }
}
