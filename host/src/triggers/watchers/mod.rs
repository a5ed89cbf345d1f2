//! File watchers (`config/watchers.yaml`): a file that appears in (or changes in) a
//! directory of an agent's data starts a turn in that agent's lane, once, when it is
//! complete.
//!
//! **Polling, through the agent.** The directory lives in the agent's sandbox: for a
//! container that is a Docker volume the mesh (not root, on another filesystem view, or
//! on another machine's engine) cannot read, and neither Docker volumes nor network
//! filesystems deliver inotify events. So each watcher asks its agent for a listing
//! (`GET /files?dir=…`: names, sizes, modification times) every `poll_seconds`, and all
//! the deciding happens here. The notify crate's `PollWatcher` would need the directory
//! on the mesh's own filesystem, which is exactly what a sandbox does not give it.
//!
//! **Once, when complete.** A new or changed file fires only when two polls in a row see
//! the same size and modification time (a file still being written keeps changing). The
//! turn is submitted with [`Lanes::submit_once`] under an id derived from (watcher, file,
//! size, mtime), and the stamp is then recorded in SQLite: a restart neither fires the
//! same file again nor, if it died between the two steps, queues it twice.
//!
//! **First scan.** A watcher seen for the first time records what is already there
//! without firing (as the original).
//!
//! The turn's origin is `watcher:<agent:dir:pattern>`, trusted: only the operator writes
//! watchers.yaml. The file name, which whoever dropped the file chose, is quoted with its
//! control characters replaced.

pub mod config;
mod http;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use openlegion_protocol::{DirListing, Origin, OriginKind};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

pub use config::{WATCHERS_FILE, Watcher};
pub use http::routes;

use crate::config::ConfigError;
use crate::lanes::{LaneError, Lanes, Submission, Work};
use crate::store::watchers::{self as rows, Stamp};
use crate::store::{Store, StoreError, now_micros};

/// How long one listing may take.
const LIST_TIMEOUT: Duration = Duration::from_secs(10);

/// Why one poll did not complete.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WatchError {
    #[error("agent {agent} is not in the fleet")]
    NoAgent { agent: String },
    #[error("agent {agent} is not running")]
    NotRunning { agent: String },
    #[error("agent {agent} did not answer: {source}")]
    Unreachable {
        agent: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("agent {agent} refused to list the directory ({status}): {detail}")]
    Refused {
        agent: String,
        status: u16,
        detail: String,
    },
    #[error(transparent)]
    Lane(#[from] LaneError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What `GET /mesh/watchers` shows of one watcher.
#[derive(Debug, Clone, Serialize)]
pub struct WatcherStatus {
    pub key: String,
    pub agent: String,
    /// The directory, relative to the agent's data directory.
    pub path: String,
    pub pattern: String,
    pub poll_seconds: u64,
    /// Whether the first scan (which fires nothing) is done.
    pub scanned: bool,
    /// Files recorded as handled.
    pub files_seen: usize,
    /// Files new or changed and not yet stable.
    pub pending: usize,
    /// Turns queued by this watcher since the mesh started.
    pub fired: u64,
    /// RFC 3339, the last poll that completed.
    pub last_poll_at: Option<String>,
    pub last_error: Option<String>,
}

#[derive(Debug)]
struct Running {
    watcher: Watcher,
    stop: CancellationToken,
    status: Arc<Mutex<WatcherStatus>>,
}

/// The file watcher service.
#[derive(Debug)]
pub struct Watchers {
    config_dir: PathBuf,
    lanes: Arc<Lanes>,
    store: Store,
    running: Mutex<HashMap<String, Running>>,
    shutdown: CancellationToken,
}

impl Watchers {
    /// Starts polling `watchers` (loaded from `config_dir` by [`config::load`]), and
    /// re-reads watchers.yaml whenever `reloads` changes (`openlegion reload`).
    pub fn start(
        watchers: Vec<Watcher>,
        config_dir: PathBuf,
        lanes: Arc<Lanes>,
        store: Store,
        reloads: watch::Receiver<u64>,
        shutdown: CancellationToken,
    ) -> Arc<Self> {
        let this = Arc::new(Self {
            config_dir,
            lanes,
            store,
            running: Mutex::new(HashMap::new()),
            shutdown,
        });
        this.apply(watchers);
        tokio::spawn(Arc::clone(&this).follow_reloads(reloads));
        this
    }

    /// Re-reads watchers.yaml: watchers added start (with a first scan), those removed
    /// stop, those changed restart. A broken file changes nothing.
    pub fn reload(self: &Arc<Self>) -> Result<usize, ConfigError> {
        let watchers = config::load(&self.config_dir)?;
        let n = watchers.len();
        self.apply(watchers);
        Ok(n)
    }

    async fn follow_reloads(self: Arc<Self>, mut reloads: watch::Receiver<u64>) {
        loop {
            tokio::select! {
                changed = reloads.changed() => if changed.is_err() { return },
                () = self.shutdown.cancelled() => return,
            }
            match self.reload() {
                Ok(n) => tracing::info!(watchers = n, "watchers.yaml re-read"),
                Err(e) => {
                    tracing::error!(error = %e, "watchers.yaml not re-read; the watchers in force stay")
                }
            }
        }
    }

    fn apply(self: &Arc<Self>, watchers: Vec<Watcher>) {
        let mut running = self.running.lock().expect("watchers lock");
        let mut next = HashMap::new();
        for w in watchers {
            let key = w.key();
            match running.remove(&key) {
                Some(r) if r.watcher == w => {
                    next.insert(key, r);
                }
                old => {
                    if let Some(old) = old {
                        old.stop.cancel();
                    }
                    let r = Running {
                        status: Arc::new(Mutex::new(WatcherStatus {
                            key: key.clone(),
                            agent: w.agent.to_string(),
                            path: w.dir.clone(),
                            pattern: w.pattern.as_str().to_owned(),
                            poll_seconds: w.poll.as_secs(),
                            scanned: false,
                            files_seen: 0,
                            pending: 0,
                            fired: 0,
                            last_poll_at: None,
                            last_error: None,
                        })),
                        stop: self.shutdown.child_token(),
                        watcher: w,
                    };
                    tokio::spawn(Arc::clone(self).watch(
                        r.watcher.clone(),
                        Arc::clone(&r.status),
                        r.stop.clone(),
                    ));
                    next.insert(key, r);
                }
            }
        }
        for (_, gone) in running.drain() {
            gone.stop.cancel();
        }
        *running = next;
    }

    /// Every watcher's status, by key.
    pub fn status(&self) -> Vec<WatcherStatus> {
        let mut out: Vec<WatcherStatus> = self
            .running
            .lock()
            .expect("watchers lock")
            .values()
            .map(|r| r.status.lock().expect("status lock").clone())
            .collect();
        out.sort_by(|a, b| a.key.cmp(&b.key));
        out
    }

    /// One watcher's loop: a poll every `poll` until stopped.
    async fn watch(
        self: Arc<Self>,
        w: Watcher,
        status: Arc<Mutex<WatcherStatus>>,
        stop: CancellationToken,
    ) {
        let key = w.key();
        let mut pending = HashMap::new();
        let mut tick = tokio::time::interval(w.poll);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = stop.cancelled() => return,
            }
            let polled = self.poll(&w, &key, &mut pending, &status).await;
            let mut s = status.lock().expect("status lock");
            s.pending = pending.len();
            match polled {
                Ok(()) => {
                    s.last_poll_at = Some(chrono::Utc::now().to_rfc3339());
                    s.last_error = None;
                }
                Err(e) => {
                    let text = e.to_string();
                    if s.last_error.as_deref() != Some(text.as_str()) {
                        match e {
                            WatchError::NotRunning { .. } | WatchError::Unreachable { .. } => {
                                tracing::debug!(watcher = %key, error = %text, "watcher poll skipped")
                            }
                            _ => {
                                tracing::warn!(watcher = %key, error = %text, "watcher poll failed")
                            }
                        }
                    }
                    s.last_error = Some(text);
                }
            }
        }
    }

    /// Lists the directory through the agent.
    async fn list(&self, w: &Watcher) -> Result<DirListing, WatchError> {
        let agent = w.agent.to_string();
        if !self.lanes.directory.exists(&agent) {
            return Err(WatchError::NoAgent { agent });
        }
        let Some(url) = self.lanes.directory.url(&agent) else {
            return Err(WatchError::NotRunning { agent });
        };
        let unreachable = |source| WatchError::Unreachable {
            agent: agent.clone(),
            source,
        };
        let resp = self
            .lanes
            .links
            .link(&agent, &url)
            .request(reqwest::Method::GET, &files_path(&w.dir))
            .timeout(LIST_TIMEOUT)
            .send()
            .await
            .map_err(unreachable)?;
        if !resp.status().is_success() {
            let status = resp.status().as_u16();
            let detail = resp.text().await.unwrap_or_default();
            return Err(WatchError::Refused {
                agent,
                status,
                detail: detail.chars().take(300).collect(),
            });
        }
        resp.json().await.map_err(unreachable)
    }

    async fn poll(
        &self,
        w: &Watcher,
        key: &str,
        pending: &mut HashMap<String, Stamp>,
        status: &Mutex<WatcherStatus>,
    ) -> Result<(), WatchError> {
        let listing = self.list(w).await?;
        let files: Vec<(String, Stamp)> = listing
            .files
            .into_iter()
            .filter(|f| w.pattern.matches(&f.name))
            .map(|f| (f.name, (f.size, f.modified_ns)))
            .collect();
        let k = key.to_owned();
        let Some(mut seen) = self.store.read(move |c| rows::seen(c, &k)).await? else {
            let (k, n) = (key.to_owned(), files.len());
            self.store
                .write(move |c| rows::first_scan(c, &k, &files, now_micros()))
                .await?;
            tracing::info!(watcher = %key, files = n, "watcher's first scan: files already there are recorded, not fired");
            pending.clear();
            let mut s = status.lock().expect("status lock");
            (s.scanned, s.files_seen) = (true, n);
            return Ok(());
        };
        let plan = plan(&seen, pending, &files);
        *pending = plan.pending;
        let mut result = Ok(());
        for (name, stamp) in plan.fire {
            match self.fire(w, key, &name, stamp).await {
                Ok(()) => {
                    seen.insert(name, stamp);
                    status.lock().expect("status lock").fired += 1;
                }
                Err(e) => {
                    // Tried again at the next poll, under the same lane id.
                    pending.insert(name, stamp);
                    result = Err(e);
                }
            }
        }
        if !listing.truncated {
            let present: std::collections::HashSet<&str> =
                files.iter().map(|(n, _)| n.as_str()).collect();
            let gone: Vec<String> = seen
                .keys()
                .filter(|n| !present.contains(n.as_str()))
                .cloned()
                .collect();
            if !gone.is_empty() {
                for n in &gone {
                    seen.remove(n);
                }
                let k = key.to_owned();
                self.store
                    .write(move |c| rows::forget(c, &k, &gone))
                    .await?;
            }
        }
        let mut s = status.lock().expect("status lock");
        (s.scanned, s.files_seen) = (true, seen.len());
        result
    }

    /// Queues the turn for file `name` (once per stamp), then records the stamp.
    async fn fire(
        &self,
        w: &Watcher,
        key: &str,
        name: &str,
        stamp: Stamp,
    ) -> Result<(), WatchError> {
        let id = lane_id(key, name, stamp);
        let fresh = self
            .lanes
            .submit_once(
                &id,
                Submission {
                    agent: w.agent.clone(),
                    work: Work::Chat {
                        message: w.message_for(name),
                    },
                    origin: Origin::new(OriginKind::Watcher, key),
                },
            )
            .await?;
        let (k, n) = (key.to_owned(), name.to_owned());
        self.store
            .write(move |c| rows::record(c, &k, &n, stamp, now_micros()))
            .await?;
        if fresh {
            crate::counters::watcher_fired(w.agent.as_str(), key);
            tracing::info!(watcher = %key, file = %name, item = %id, "watcher fired");
        }
        Ok(())
    }
}

/// `/files?dir=…` with `dir` query-encoded.
fn files_path(dir: &str) -> String {
    let mut url = reqwest::Url::parse("http://agent/files").expect("a valid URL");
    url.query_pairs_mut().append_pair("dir", dir);
    format!("/files?{}", url.query().unwrap_or_default())
}

/// The lane item id of watcher `key`'s turn for file `name` at `stamp`: the same file in
/// the same state always gets the same id, so it is queued at most once.
fn lane_id(key: &str, name: &str, (size, mtime): Stamp) -> String {
    let mut h = Sha256::new();
    for part in [
        key.as_bytes(),
        name.as_bytes(),
        &size.to_le_bytes(),
        &mtime.to_le_bytes(),
    ] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part);
    }
    format!("watch_{}", &hex::encode(h.finalize())[..32])
}

/// What one poll does with the files it listed.
#[derive(Debug, PartialEq)]
struct Plan {
    /// Stable since the last poll and not yet handled: fire.
    fire: Vec<(String, Stamp)>,
    /// New or changed since the last poll: wait for one more.
    pending: HashMap<String, Stamp>,
}

/// A file fires when it differs from what was handled (`seen`) and has not changed since
/// the last poll (`pending` holds what that poll saw of unhandled files).
fn plan(
    seen: &HashMap<String, Stamp>,
    pending: &HashMap<String, Stamp>,
    files: &[(String, Stamp)],
) -> Plan {
    let mut out = Plan {
        fire: Vec::new(),
        pending: HashMap::new(),
    };
    for (name, stamp) in files {
        if seen.get(name) == Some(stamp) {
            continue;
        }
        if pending.get(name) == Some(stamp) {
            out.fire.push((name.clone(), *stamp));
        } else {
            out.pending.insert(name.clone(), *stamp);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(list: &[(&str, Stamp)]) -> Vec<(String, Stamp)> {
        list.iter().map(|(n, s)| ((*n).to_owned(), *s)).collect()
    }

    #[test]
    fn a_file_fires_once_after_two_equal_polls() {
        let seen = HashMap::new();
        // Being written: it grows between polls, so it never fires.
        let p1 = plan(&seen, &HashMap::new(), &files(&[("a.csv", (10, 1))]));
        assert!(p1.fire.is_empty());
        let p2 = plan(&seen, &p1.pending, &files(&[("a.csv", (20, 2))]));
        assert!(p2.fire.is_empty());
        assert_eq!(p2.pending["a.csv"], (20, 2));
        // Complete: the same size and mtime twice.
        let p3 = plan(&seen, &p2.pending, &files(&[("a.csv", (20, 2))]));
        assert_eq!(p3.fire, files(&[("a.csv", (20, 2))]));
        assert!(p3.pending.is_empty());
        // Handled: nothing more, however often it is listed.
        let seen: HashMap<_, _> = p3.fire.into_iter().collect();
        let p4 = plan(&seen, &HashMap::new(), &files(&[("a.csv", (20, 2))]));
        assert_eq!(
            p4,
            Plan {
                fire: vec![],
                pending: HashMap::new()
            }
        );
        // Changed afterwards (mtime increased): it fires again, once stable.
        let p5 = plan(&seen, &HashMap::new(), &files(&[("a.csv", (20, 3))]));
        let p6 = plan(&seen, &p5.pending, &files(&[("a.csv", (20, 3))]));
        assert_eq!(p6.fire, files(&[("a.csv", (20, 3))]));
    }

    #[test]
    fn lane_ids_differ_by_every_part_and_repeat_for_the_same_state() {
        let id = lane_id("a:inbox:*", "x.csv", (1, 2));
        assert_eq!(id, lane_id("a:inbox:*", "x.csv", (1, 2)));
        assert!(id.starts_with("watch_") && id.len() == 6 + 32);
        for other in [
            lane_id("b:inbox:*", "x.csv", (1, 2)),
            lane_id("a:inbox:*", "y.csv", (1, 2)),
            lane_id("a:inbox:*", "x.csv", (2, 2)),
            lane_id("a:inbox:*", "x.csv", (1, 3)),
        ] {
            assert_ne!(id, other);
        }
    }
}
