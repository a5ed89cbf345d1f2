//! What each file watcher has seen: whether its first scan is done (that scan records the
//! files already there without firing) and, per file, the size and modification time it
//! last fired for (or found at the first scan), so a restart fires nothing again.
//!
//! A watcher is named by its key (`agent:dir:pattern`); files by their name in the
//! watched directory.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, params};

use super::StoreError;

/// A file's `(size, modified_ns)`.
pub type Stamp = (u64, i64);

/// The files watcher `key` has seen, or `None` before its first scan.
pub fn seen(conn: &Connection, key: &str) -> Result<Option<HashMap<String, Stamp>>, StoreError> {
    let scanned = conn
        .prepare_cached("SELECT 1 FROM watcher_scans WHERE watcher = ?1")?
        .query_row([key], |_| Ok(()))
        .optional()?;
    if scanned.is_none() {
        return Ok(None);
    }
    let mut stmt = conn
        .prepare_cached("SELECT name, size, modified_ns FROM watcher_files WHERE watcher = ?1")?;
    let rows = stmt.query_map([key], |r| {
        Ok((
            r.get::<_, String>(0)?,
            (r.get::<_, i64>(1)? as u64, r.get(2)?),
        ))
    })?;
    Ok(Some(rows.collect::<Result<_, _>>()?))
}

/// The first scan of watcher `key`: records `files` as seen and the scan as done.
pub fn first_scan(
    conn: &Connection,
    key: &str,
    files: &[(String, Stamp)],
    now: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO watcher_scans (watcher, scanned_at) VALUES (?1, ?2)
         ON CONFLICT (watcher) DO NOTHING",
    )?
    .execute(params![key, now])?;
    for (name, stamp) in files {
        record(conn, key, name, *stamp, now)?;
    }
    Ok(())
}

/// Records that watcher `key` has fired for (or seen) file `name` as `stamp`.
pub fn record(
    conn: &Connection,
    key: &str,
    name: &str,
    (size, modified_ns): Stamp,
    now: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO watcher_files (watcher, name, size, modified_ns, seen_at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (watcher, name) DO UPDATE
         SET size = excluded.size, modified_ns = excluded.modified_ns, seen_at = excluded.seen_at",
    )?
    .execute(params![key, name, size as i64, modified_ns, now])?;
    Ok(())
}

/// Forgets the files of watcher `key` named in `gone` (deleted from its directory), so
/// the table does not grow with every file that ever passed through.
pub fn forget(conn: &Connection, key: &str, gone: &[String]) -> Result<(), StoreError> {
    let mut stmt =
        conn.prepare_cached("DELETE FROM watcher_files WHERE watcher = ?1 AND name = ?2")?;
    for name in gone {
        stmt.execute(params![key, name])?;
    }
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
    fn a_watcher_is_unscanned_until_its_first_scan_then_remembers_stamps() {
        let c = conn();
        assert_eq!(seen(&c, "a:inbox:*").unwrap(), None);
        first_scan(&c, "a:inbox:*", &[("old.csv".into(), (3, 7))], 1).unwrap();
        let s = seen(&c, "a:inbox:*").unwrap().unwrap();
        assert_eq!(s.get("old.csv"), Some(&(3, 7)));
        record(&c, "a:inbox:*", "old.csv", (4, 9), 2).unwrap();
        record(&c, "a:inbox:*", "new.csv", (1, 1), 2).unwrap();
        let s = seen(&c, "a:inbox:*").unwrap().unwrap();
        assert_eq!((s["old.csv"], s.len()), ((4, 9), 2));
        forget(&c, "a:inbox:*", &["old.csv".into()]).unwrap();
        assert_eq!(seen(&c, "a:inbox:*").unwrap().unwrap().len(), 1);
        assert_eq!(seen(&c, "b:inbox:*").unwrap(), None, "per watcher");
    }
}
