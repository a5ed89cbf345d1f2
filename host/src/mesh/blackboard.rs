//! The shared blackboard as agents see it: permission checks, validation, and watch
//! notifications on top of the versioned rows in [`crate::store::blackboard`].

use std::sync::{Arc, RwLock};

use openlegion_protocol::{
    AgentMessage, BlackboardEntry, MessageType, is_history_key, validate_key, validate_value,
};
use serde_json::{Map, Value, json};

use super::MeshError;
use super::inbox::Inboxes;
use crate::auth::Caller;
use crate::permissions::Glob;
use crate::permissions::Permissions;
use crate::store::blackboard::{self as rows, BlackboardError};
use crate::store::registry as reg_rows;
use crate::store::{Store, now_micros};

/// Most entries one list returns.
pub const MAX_LIST: u32 = 10_000;

#[derive(Debug)]
struct Watch {
    agent: String,
    pattern: Glob,
}

#[derive(Debug)]
pub struct Blackboard {
    store: Store,
    permissions: Arc<Permissions>,
    inboxes: Arc<Inboxes>,
    watches: RwLock<Vec<Watch>>,
}

/// Which change a watcher is told about.
#[derive(Debug, Clone, Copy)]
enum Change {
    Updated,
    Claimed,
    Deleted,
}

impl Change {
    fn verb(self) -> &'static str {
        match self {
            Change::Updated => "updated",
            Change::Claimed => "claimed",
            Change::Deleted => "deleted",
        }
    }
}

impl Blackboard {
    pub async fn load(
        store: Store,
        permissions: Arc<Permissions>,
        inboxes: Arc<Inboxes>,
    ) -> Result<Self, MeshError> {
        let watches = store
            .read(|c| reg_rows::load_watches(c).map_err(MeshError::from))
            .await?
            .into_iter()
            .map(|(agent, pattern)| Watch {
                agent,
                pattern: Glob::new(&pattern),
            })
            .collect();
        Ok(Self {
            store,
            permissions,
            inboxes,
            watches: RwLock::new(watches),
        })
    }

    fn check_read(&self, caller: &Caller, key: &str) -> Result<(), MeshError> {
        if caller.is_operator() || self.permissions.current().can_read(caller.id(), key) {
            Ok(())
        } else {
            Err(MeshError::Forbidden {
                agent: caller.id().into(),
                action: "read",
                target: key.into(),
            })
        }
    }

    fn check_write(&self, caller: &Caller, key: &str) -> Result<(), MeshError> {
        if caller.is_operator() || self.permissions.current().can_write(caller.id(), key) {
            Ok(())
        } else {
            Err(MeshError::Forbidden {
                agent: caller.id().into(),
                action: "write",
                target: key.into(),
            })
        }
    }

    pub async fn get(&self, caller: &Caller, key: String) -> Result<BlackboardEntry, MeshError> {
        validate_key(&key)?;
        self.check_read(caller, &key)?;
        let now = now_micros();
        self.store
            .read_now(|c| rows::get(c, &key, now).map_err(MeshError::from))?
            .ok_or(MeshError::KeyNotFound { key })
    }

    /// Entries under `prefix` that the caller may read. The prefix itself must be readable
    /// (as in the original: `context/` against `context/*`).
    pub async fn list(
        &self,
        caller: &Caller,
        prefix: String,
        limit: u32,
    ) -> Result<Vec<BlackboardEntry>, MeshError> {
        self.check_read(caller, &prefix)?;
        let now = now_micros();
        let limit = limit.min(MAX_LIST);
        let mut entries = self
            .store
            .read(move |c| rows::list(c, &prefix, now, limit).map_err(MeshError::from))
            .await?;
        if !caller.is_operator() {
            let matrix = self.permissions.current();
            entries.retain(|e| matrix.can_read(caller.id(), &e.key));
        }
        Ok(entries)
    }

    pub async fn put(
        &self,
        caller: &Caller,
        key: String,
        value: Map<String, Value>,
        ttl: Option<i64>,
    ) -> Result<BlackboardEntry, MeshError> {
        validate_key(&key)?;
        let ttl = match ttl {
            Some(t) if t <= 0 => return Err(MeshError::BadTtl { ttl: t }),
            Some(_) if is_history_key(&key) => return Err(MeshError::HistoryTtl { key }),
            t => t.map(|t| t as u64),
        };
        let json = validate_value(&value)?;
        self.check_write(caller, &key)?;
        let writer = caller.id().to_owned();
        let wanted = key.clone();
        self.commit_and_notify(&key, caller, Change::Updated, move |c, now| {
            let entry = rows::put(c, &wanted, &json, &writer, ttl, now)?;
            let version = entry.version;
            Ok(Some((entry, version)))
        })
        .await
        .map(|e| e.expect("put always writes"))
    }

    /// Writes `key` for `writer` without checking its write ACL: for entries the mesh keeps
    /// on an agent's behalf under a key the agent does not choose (its artifacts,
    /// `artifacts/<agent>/<name>`). Watchers are notified as for any write.
    pub async fn put_for(
        &self,
        writer: &Caller,
        key: String,
        value: Map<String, Value>,
    ) -> Result<BlackboardEntry, MeshError> {
        validate_key(&key)?;
        let json = validate_value(&value)?;
        let who = writer.id().to_owned();
        let wanted = key.clone();
        self.commit_and_notify(&key, writer, Change::Updated, move |c, now| {
            let entry = rows::put(c, &wanted, &json, &who, None, now)?;
            let version = entry.version;
            Ok(Some((entry, version)))
        })
        .await
        .map(|e| e.expect("put always writes"))
    }

    pub async fn claim(
        &self,
        caller: &Caller,
        key: String,
        value: Map<String, Value>,
        expected_version: u64,
    ) -> Result<BlackboardEntry, MeshError> {
        validate_key(&key)?;
        let json = validate_value(&value)?;
        self.check_write(caller, &key)?;
        let writer = caller.id().to_owned();
        let wanted = key.clone();
        self.commit_and_notify(&key, caller, Change::Claimed, move |c, now| {
            let entry = rows::claim(c, &wanted, &json, &writer, expected_version, now)?;
            let version = entry.version;
            Ok(Some((entry, version)))
        })
        .await
        .map(|e| e.expect("a claim writes or fails"))
    }

    pub async fn delete(&self, caller: &Caller, key: String) -> Result<(), MeshError> {
        validate_key(&key)?;
        if is_history_key(&key) {
            return Err(MeshError::HistoryDelete { key });
        }
        self.check_write(caller, &key)?;
        let wanted = key.clone();
        let deleted = self
            .commit_and_notify(&key, caller, Change::Deleted, move |c, now| {
                Ok(rows::delete(c, &wanted, now)?.then_some(((), 0)))
            })
            .await?;
        deleted.ok_or(MeshError::KeyNotFound { key })
    }

    /// Registers `caller`'s interest in keys matching `pattern`; the caller must be able to
    /// read the pattern itself.
    pub async fn watch(&self, caller: &Caller, pattern: String) -> Result<(), MeshError> {
        let Caller::Agent(agent) = caller else {
            return Err(MeshError::NoInbox {
                action: "watching keys",
            });
        };
        if pattern.is_empty()
            || pattern.chars().count() > openlegion_protocol::limits::MAX_KEY_CHARS
        {
            return Err(MeshError::BadField {
                field: "pattern",
                problem: "must be 1 to 512 characters".into(),
            });
        }
        self.check_read(caller, &pattern)?;
        let (who, pat) = (agent.to_string(), pattern.clone());
        let added = self
            .store
            .write(move |c| reg_rows::add_watch(c, &who, &pat).map_err(MeshError::from))
            .await?;
        if added {
            self.watches.write().expect("watch lock").push(Watch {
                agent: agent.to_string(),
                pattern: Glob::new(&pattern),
            });
        }
        Ok(())
    }

    /// Forgets every watch of `agent` (its rows go with the agent's registry row).
    pub fn forget_agent(&self, agent: &str) {
        self.watches
            .write()
            .expect("watch lock")
            .retain(|w| w.agent != agent);
    }

    /// Runs `change` and queues a notification for every watcher of `key` (other than the
    /// writer, and only those who may read it) in the same transaction, so a committed
    /// change is never missing its notifications.
    /// `change` returns what it produced and the key's new version, or `None` if it
    /// changed nothing.
    async fn commit_and_notify<T, F>(
        &self,
        key: &str,
        caller: &Caller,
        kind: Change,
        change: F,
    ) -> Result<Option<T>, MeshError>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Connection, i64) -> Result<Option<(T, u64)>, BlackboardError>
            + Send
            + 'static,
    {
        let watchers: Vec<String> = {
            let matrix = self.permissions.current();
            let mut ids: Vec<String> = self
                .watches
                .read()
                .expect("watch lock")
                .iter()
                .filter(|w| {
                    w.agent != caller.id()
                        && w.pattern.matches(key)
                        && matrix.can_read(&w.agent, key)
                })
                .map(|w| w.agent.clone())
                .collect();
            ids.sort();
            ids.dedup();
            ids
        };
        let inboxes = Arc::clone(&self.inboxes);
        let writer = caller.id().to_owned();
        let notified = watchers.clone();
        let key = key.to_owned();
        let changed = self
            .store
            .write(move |c| {
                let Some((value, version)) = change(c, now_micros())? else {
                    return Ok::<_, BlackboardError>(None);
                };
                for agent in &notified {
                    let message = notification(agent, &key, version, &writer, kind);
                    if !inboxes.enqueue_in(c, agent, &message)? {
                        tracing::warn!(
                            agent,
                            key,
                            "inbox full: blackboard notification not queued"
                        );
                    }
                }
                Ok(Some(value))
            })
            .await?;
        if changed.is_some() {
            self.inboxes.wake(watchers.iter().map(String::as_str));
        }
        Ok(changed)
    }
}

fn notification(agent: &str, key: &str, version: u64, writer: &str, kind: Change) -> AgentMessage {
    let text = match kind {
        Change::Deleted => format!("[Blackboard: {key}] deleted by {writer}"),
        _ => format!(
            "[Blackboard: {key}] {} by {writer}, v{version}",
            kind.verb()
        ),
    };
    let payload = json!({
        "event": "blackboard_changed",
        "change": kind.verb(),
        "key": key,
        "version": version,
        "written_by": writer,
        "text": text,
    });
    let Value::Object(payload) = payload else {
        unreachable!("json! of an object")
    };
    AgentMessage::new(
        crate::permissions::TRUSTED_ID,
        agent,
        MessageType::Event,
        payload,
    )
}
