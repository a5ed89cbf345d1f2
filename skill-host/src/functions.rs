//! Cranelift's incremental cache on disk: each compiled function kept under a hash of what
//! it was compiled from (its IR, the target and its flags, Cranelift's version), so that a
//! component sharing code with one compiled before compiles only what is new.
//!
//! Every Python skill carries the same CPython, every JavaScript skill the same QuickJS:
//! with this cache a new Python skill compiles in a quarter to a third of the time (8 s →
//! 2 s on two quiet cores, BENCHMARKS.md), with the same optimised code. The full agent image carries a seed of
//! these functions made from a sample skill of each language (`openlegion-agent warm`), so
//! that even an agent's first skill finds them.
//!
//! One SQLite file in the cache directory, made by the first compile and written once per
//! compile (one transaction), and the seed directory's, read-only, looked in after it.
//! Both are only a speed-up: Cranelift checks each entry's version marker and compiles
//! again what it cannot use, and a database that cannot be opened or read is set aside
//! (with a warning) and compiling goes on without it.
//!
//! Trust: what this cache serves becomes machine code in the compiled component, so it is
//! trusted as the `.cwasm` files are, and lives beside them: in the cache directory, which
//! the host refuses inside the workspace where skills write, and in the read-only seed.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use wasmtime::CacheStore;

/// The file name, in the cache directory and in the seed directory.
pub const FILE: &str = "cranelift-functions.db";

/// Above this, the functions least recently used are dropped. A Python skill adds about
/// 4 MB of its own; the shared CPython is about 35 MB.
const MAX_BYTES: i64 = 256 * 1024 * 1024;

/// How often the functions of one compile were found in the cache, and how many had to be
/// compiled. Counted over the whole host while the compile ran; a host loads one skill at
/// a time, so that is the compile's own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct FunctionReuse {
    pub reused: u64,
    pub compiled: u64,
}

/// The store an engine compiles through. Entries found and made during a compile are kept
/// in memory and written by [`FunctionCache::flush`] once the compile is over.
#[derive(Debug)]
pub(crate) struct FunctionCache {
    path: PathBuf,
    own: Mutex<Db>,
    seed: Mutex<Db>,
    /// Compiled since the last flush, by key.
    fresh: Mutex<HashMap<Vec<u8>, Vec<u8>>>,
    /// Keys found in `own` since the last flush (to mark them recently used).
    found: Mutex<Vec<Vec<u8>>>,
    reused: AtomicU64,
    compiled: AtomicU64,
    /// [`MAX_BYTES`], but for tests.
    max_bytes: i64,
}

/// A database, opened when first needed.
#[derive(Debug)]
enum Db {
    NotYet,
    Open(Connection),
    /// Could not be opened or read: compiling goes on without it.
    Unusable,
}

impl Db {
    /// The connection to the cache at `path`, opened now if it was not yet and either the
    /// file exists or `create`.
    fn own(&mut self, path: &Path, create: bool) -> Option<&mut Connection> {
        if matches!(self, Db::NotYet) && (create || path.exists()) {
            *self = open_own(path).map_or(Db::Unusable, Db::Open);
        }
        match self {
            Db::Open(conn) => Some(conn),
            Db::NotYet | Db::Unusable => None,
        }
    }
}

fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl FunctionCache {
    /// The cache in the directory `dir` (its file made by the first compile), with
    /// `seed_dir`'s behind it if there is one.
    pub(crate) fn open(dir: &Path, seed_dir: Option<&Path>) -> Self {
        let path = dir.join(FILE);
        let seed = seed_dir
            .map(|d| d.join(FILE))
            .filter(|p| p.is_file())
            .and_then(|p| {
                open_seed(&p)
                    .inspect_err(|e| {
                        tracing::warn!(path = %p.display(), "the seeded function cache cannot be read, compiling without it: {e}");
                    })
                    .ok()
            })
            .map_or(Db::Unusable, Db::Open);
        FunctionCache {
            path,
            own: Mutex::new(Db::NotYet),
            seed: Mutex::new(seed),
            fresh: Mutex::default(),
            found: Mutex::default(),
            reused: AtomicU64::new(0),
            compiled: AtomicU64::new(0),
            max_bytes: MAX_BYTES,
        }
    }

    /// Runs `compile`, which compiles through this cache, then writes what it compiled;
    /// with how many functions it found and how many it compiled. Blocking.
    pub(crate) fn compiling<T>(&self, compile: impl FnOnce() -> T) -> (T, FunctionReuse) {
        let before = self.reuse();
        let output = compile();
        self.flush();
        let after = self.reuse();
        let reuse = FunctionReuse {
            reused: after.reused - before.reused,
            compiled: after.compiled - before.compiled,
        };
        (output, reuse)
    }

    /// Counts so far; the difference of two readings is what happened in between.
    fn reuse(&self) -> FunctionReuse {
        FunctionReuse {
            reused: self.reused.load(Ordering::Relaxed),
            compiled: self.compiled.load(Ordering::Relaxed),
        }
    }

    /// Writes the functions compiled since the last flush, marks those found as used now,
    /// and drops the least recently used when the file has grown past its bound. Blocking.
    fn flush(&self) {
        let fresh = std::mem::take(&mut *locked(&self.fresh));
        let found = std::mem::take(&mut *locked(&self.found));
        if fresh.is_empty() && found.is_empty() {
            return;
        }
        let mut own = locked(&self.own);
        let Some(conn) = own.own(&self.path, true) else {
            return;
        };
        if let Err(e) = write(conn, &fresh, &found, self.max_bytes) {
            tracing::warn!(path = %self.path.display(), "cannot write the function cache: {e}");
        }
    }

    fn lookup(&self, key: &[u8]) -> Option<Vec<u8>> {
        if let Some(value) = locked(&self.fresh).get(key) {
            return Some(value.clone());
        }
        let mine = {
            let mut own = locked(&self.own);
            own.own(&self.path, false);
            read(&mut own, key)
        };
        if let Some(value) = mine {
            locked(&self.found).push(key.to_vec());
            return Some(value);
        }
        read(&mut locked(&self.seed), key)
    }
}

impl CacheStore for FunctionCache {
    fn get(&self, key: &[u8]) -> Option<Cow<'_, [u8]>> {
        let value = self.lookup(key);
        let counter = if value.is_some() {
            &self.reused
        } else {
            &self.compiled
        };
        counter.fetch_add(1, Ordering::Relaxed);
        value.map(Cow::Owned)
    }

    fn insert(&self, key: &[u8], value: Vec<u8>) -> bool {
        locked(&self.fresh).insert(key.to_vec(), value);
        true
    }
}

/// Writes a compact copy of the function cache of the cache directory `from` (which no
/// host is using any more) into the directory `to`, as a seed (see
/// [`SkillHostSettings::seed_cache_dir`](crate::SkillHostSettings::seed_cache_dir)).
pub fn copy_function_cache(from: &Path, to: &Path) -> Result<(), String> {
    let source = from.join(FILE);
    if !source.is_file() {
        return Err(format!(
            "{} was not made: nothing was compiled",
            source.display()
        ));
    }
    std::fs::create_dir_all(to).map_err(|e| format!("{}: {e}", to.display()))?;
    let target = to.join(FILE);
    let partial = target.with_extension("db.partial");
    let _ = std::fs::remove_file(&partial);
    let copy = || -> rusqlite::Result<()> {
        let conn = Connection::open_with_flags(&source, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        conn.execute("VACUUM INTO ?1", [partial.to_string_lossy()])?;
        Ok(())
    };
    copy().map_err(|e| format!("copying {}: {e}", source.display()))?;
    std::fs::rename(&partial, &target).map_err(|e| format!("{}: {e}", target.display()))
}

/// `key`'s value in `db`, if it is open and has one. A read that fails is a miss (and
/// said once: the database is given up, so the rest of this process compiles without it).
fn read(db: &mut Db, key: &[u8]) -> Option<Vec<u8>> {
    let Db::Open(conn) = db else { return None };
    let found = conn
        .prepare_cached("SELECT value FROM functions WHERE key = ?1")
        .and_then(|mut stmt| stmt.query_row([key], |row| row.get(0)).optional());
    match found {
        Ok(value) => value,
        Err(e) => {
            tracing::warn!("the function cache cannot be read, compiling without it: {e}");
            *db = Db::Unusable;
            None
        }
    }
}

/// Opens (or creates) the cache at `path`; a file that is not a usable cache is moved
/// aside to `*.damaged` and a new one made. `None` (said in the log) when even that fails.
fn open_own(path: &Path) -> Option<Connection> {
    match open_writable(path) {
        Ok(conn) => return Some(conn),
        Err(e) if path.exists() => {
            let aside = path.with_extension("db.damaged");
            tracing::warn!(path = %path.display(), aside = %aside.display(), "the function cache cannot be used, moving it aside: {e}");
            let _ = std::fs::rename(path, &aside);
            for suffix in ["-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
            }
        }
        Err(_) => {}
    }
    open_writable(path)
        .inspect_err(|e| {
            tracing::warn!(path = %path.display(), "no function cache, every function is compiled: {e}");
        })
        .ok()
}

fn open_writable(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    // Several agent processes may share one cache directory (the process backend).
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.execute_batch(
        // A rowid table: values of a few kilobytes each would leave most of a WITHOUT
        // ROWID table's pages empty (50 % larger for the same functions).
        "CREATE TABLE IF NOT EXISTS functions (
             key BLOB NOT NULL UNIQUE,
             value BLOB NOT NULL,
             used INTEGER NOT NULL
         );
         CREATE INDEX IF NOT EXISTS functions_by_use ON functions(used);",
    )?;
    // A damaged file may open and only fail when read.
    conn.query_row("SELECT count(*) FROM functions", [], |_| Ok(()))?;
    Ok(conn)
}

fn open_seed(path: &Path) -> rusqlite::Result<Connection> {
    let uri = format!("file:{}?immutable=1", path.display());
    let conn = Connection::open_with_flags(
        uri,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI,
    )?;
    conn.query_row("SELECT count(*) FROM functions", [], |_| Ok(()))?;
    Ok(conn)
}

/// One transaction: `fresh` stored, `found` marked used, then the least recently used
/// dropped until the values take at most `max_bytes`.
fn write(
    conn: &mut Connection,
    fresh: &HashMap<Vec<u8>, Vec<u8>>,
    found: &[Vec<u8>],
    max_bytes: i64,
) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    let now: i64 = tx.query_row(
        "SELECT COALESCE(MAX(used), 0) + 1 FROM functions",
        [],
        |r| r.get(0),
    )?;
    {
        let mut insert = tx.prepare_cached(
            "INSERT OR REPLACE INTO functions (key, value, used) VALUES (?1, ?2, ?3)",
        )?;
        for (key, value) in fresh {
            insert.execute(params![key, value, now])?;
        }
        let mut touch = tx.prepare_cached("UPDATE functions SET used = ?2 WHERE key = ?1")?;
        for key in found {
            touch.execute(params![key, now])?;
        }
    }
    let total: i64 = tx.query_row(
        "SELECT COALESCE(SUM(length(value)), 0) FROM functions",
        [],
        |r| r.get(0),
    )?;
    if total > max_bytes {
        // Newest first, each row with the size of it and all newer: past the bound, gone.
        tx.execute(
            "DELETE FROM functions WHERE key IN (
                 SELECT key FROM (
                     SELECT key, SUM(length(value)) OVER
                         (ORDER BY used DESC, key ROWS UNBOUNDED PRECEDING) AS newer
                     FROM functions)
                 WHERE newer > ?1)",
            [max_bytes],
        )?;
    }
    tx.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_found_before_and_after_its_flush_and_by_a_later_process() {
        let dir = tempfile::tempdir().unwrap();
        let cache = FunctionCache::open(dir.path(), None);
        assert!(cache.get(b"k1").is_none());
        assert!(cache.insert(b"k1", b"v1".to_vec()));
        assert_eq!(cache.get(b"k1").as_deref(), Some(&b"v1"[..]));
        cache.flush();
        assert_eq!(cache.get(b"k1").as_deref(), Some(&b"v1"[..]));
        assert_eq!(
            cache.reuse(),
            FunctionReuse {
                reused: 2,
                compiled: 1
            }
        );
        drop(cache);
        let later = FunctionCache::open(dir.path(), None);
        assert_eq!(later.get(b"k1").as_deref(), Some(&b"v1"[..]));
    }

    #[test]
    fn the_seed_is_read_behind_the_own_cache_and_never_written() {
        let seed = tempfile::tempdir().unwrap();
        {
            let making = FunctionCache::open(seed.path(), None);
            making.insert(b"shared", b"from the seed".to_vec());
            making.flush();
        }
        let before = std::fs::read(seed.path().join(FILE)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let cache = FunctionCache::open(dir.path(), Some(seed.path()));
        assert_eq!(cache.get(b"shared").as_deref(), Some(&b"from the seed"[..]));
        cache.insert(b"new", b"mine".to_vec());
        cache.flush();
        drop(cache);
        assert_eq!(std::fs::read(seed.path().join(FILE)).unwrap(), before);
    }

    #[test]
    fn a_copy_serves_as_a_seed() {
        let dir = tempfile::tempdir().unwrap();
        let made = dir.path().join("made");
        std::fs::create_dir(&made).unwrap();
        let cache = FunctionCache::open(&made, None);
        cache.insert(b"k", b"v".to_vec());
        cache.flush();
        drop(cache);
        let seed = dir.path().join("seed");
        copy_function_cache(&made, &seed).unwrap();
        let seeded = FunctionCache::open(&dir.path().join("own"), Some(&seed));
        assert_eq!(seeded.get(b"k").as_deref(), Some(&b"v"[..]));
        let err = copy_function_cache(&dir.path().join("none"), &seed).unwrap_err();
        assert!(err.ends_with("was not made: nothing was compiled"), "{err}");
    }

    #[test]
    fn nothing_is_written_until_something_is_compiled() {
        let dir = tempfile::tempdir().unwrap();
        let cache = FunctionCache::open(dir.path(), None);
        assert!(cache.get(b"k").is_none());
        cache.flush();
        assert!(!dir.path().join(FILE).exists());
    }

    #[test]
    fn a_damaged_file_is_moved_aside_and_a_new_cache_made() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        std::fs::write(&path, vec![0x5a; 8192]).unwrap();
        let cache = FunctionCache::open(dir.path(), None);
        cache.insert(b"k", b"v".to_vec());
        cache.flush();
        assert_eq!(cache.get(b"k").as_deref(), Some(&b"v"[..]));
        assert_eq!(
            std::fs::read(path.with_extension("db.damaged")).unwrap(),
            vec![0x5a; 8192]
        );
    }

    #[test]
    fn the_least_recently_used_go_when_the_file_outgrows_its_bound() {
        let dir = tempfile::tempdir().unwrap();
        let mut cache = FunctionCache::open(dir.path(), None);
        cache.max_bytes = 256 * 1024;
        let big = vec![7u8; 1024];
        for i in 0..200u32 {
            cache.insert(&i.to_le_bytes(), big.clone());
        }
        cache.flush();
        // Used again, so it outlives the newer ones never asked for.
        assert!(cache.get(&0u32.to_le_bytes()).is_some());
        for i in 200..300u32 {
            cache.insert(&i.to_le_bytes(), big.clone());
        }
        cache.flush();
        let conn = Connection::open(dir.path().join(FILE)).unwrap();
        let (count, bytes): (i64, i64) = conn
            .query_row(
                "SELECT count(*), SUM(length(value)) FROM functions",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((count, bytes), (256, 256 * 1024));
        // All 101 of the last flush, and 155 of the 199 older ones.
        assert!(cache.get(&0u32.to_le_bytes()).is_some());
        assert!((200..300u32).all(|i| cache.get(&i.to_le_bytes()).is_some()));
        let older = (1..200u32)
            .filter(|i| cache.get(&i.to_le_bytes()).is_some())
            .count();
        assert_eq!(older, 155);
    }
}
