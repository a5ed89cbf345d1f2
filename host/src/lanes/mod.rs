//! Lanes: one bounded, ordered, durable queue of turns per agent, feeding the agent's API
//! `concurrency` items at a time (one by default), so operator chat, tasks, triggers and
//! workflows never interleave inside one agent's turn.
//!
//! Every other module that wants an agent to act submits a [`Submission`] (a chat message
//! or a [`TaskAssignment`], with its [`Origin`]) and gets a [`Ticket`]: await the outcome,
//! follow the chat's events as they stream, or drop it (fire and forget). An acknowledged
//! item is committed to SQLite; one running when the mesh dies runs again after the restart
//! (at-least-once). A full lane refuses with [`LaneError::Full`] at once (never blocks).
//!
//! ```ignore
//! let ticket = lanes.submit(Submission {
//!     agent: AgentId::parse("scout")?,
//!     work: Work::Chat { message: "New issue opened".into() },
//!     origin: Origin::webhook("github"),
//! }).await?;                       // LaneError::Full → HTTP 429
//! let outcome = ticket.outcome().await?; // Outcome::Replied { reply } / Completed { result } …
//! lanes.cancel(&ticket.id).await?;       // queued: removed; running: the agent's /cancel
//! let later = lanes.lookup(&ticket.id).await?; // after a restart too
//! ```

mod dispatch;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use openlegion_protocol::{
    AgentId, ChatEvent, ChatResponse, Origin, TaskAssignment, TaskResult, new_id,
};
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, Semaphore, broadcast, watch};
use tokio_util::sync::CancellationToken;

use crate::agent_link::AgentLinks;
use crate::store::{Store, StoreError, lanes as rows, now_micros};

/// What lanes need to know of the agents: where one listens, and whether it still exists.
pub trait Directory: Send + Sync + std::fmt::Debug {
    fn url(&self, agent: &str) -> Option<String>;
    fn exists(&self, agent: &str) -> bool;
}

/// One unit of work for an agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Work {
    /// A turn of the agent's chat session (its `/chat/stream`).
    Chat { message: String },
    /// A task in its own context (the agent's `/task/run`), ending in a [`TaskResult`].
    Task { task: Box<TaskAssignment> },
}

/// How an item ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    Replied {
        reply: ChatResponse,
    },
    Completed {
        result: TaskResult,
    },
    /// It could not be run (the agent refused it, or never answered).
    Failed {
        error: String,
    },
    Cancelled,
}

/// A unit of work and where it came from.
#[derive(Debug, Clone)]
pub struct Submission {
    pub agent: AgentId,
    pub work: Work,
    pub origin: Origin,
}

/// Per-agent settings (`lanes:` of agents.yaml).
#[derive(Debug, Clone, Copy)]
pub struct LaneLimits {
    pub concurrency: u32,
    pub max: u32,
}

impl Default for LaneLimits {
    fn default() -> Self {
        Self {
            concurrency: 1,
            max: 100,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LaneError {
    /// The lane holds `max` unfinished items; nothing was queued. (429)
    #[error("the lane of {agent} is full ({max} items waiting)")]
    Full { agent: String, max: u32 },
    #[error("no lane item {id}")]
    UnknownItem { id: String },
    #[error("lane item {id} is damaged: {source}")]
    Damaged {
        id: String,
        #[source]
        source: serde_json::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The live side of one item: its events while it runs, and its outcome.
#[derive(Debug)]
struct Tracker {
    events: broadcast::Sender<ChatEvent>,
    done: watch::Sender<Option<Outcome>>,
    cancel: CancellationToken,
}

impl Tracker {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            events: broadcast::channel(1024).0,
            done: watch::channel(None).0,
            cancel: CancellationToken::new(),
        })
    }
}

/// A submitted item: its id, and a handle on its events and outcome.
#[derive(Debug)]
pub struct Ticket {
    pub id: String,
    /// The chat's events as the agent streams them (`text_delta`, `tool_start`, …, `done`).
    pub events: broadcast::Receiver<ChatEvent>,
    done: watch::Receiver<Option<Outcome>>,
}

impl Ticket {
    /// Waits for the outcome.
    pub async fn outcome(mut self) -> Outcome {
        match self.done.wait_for(Option::is_some).await {
            Ok(v) => v.clone().expect("waited for Some"),
            Err(_) => Outcome::Failed {
                error: "the mesh is stopping".into(),
            },
        }
    }
}

/// Depth and age of one lane, for `GET /mesh/lanes`.
#[derive(Debug, Clone, Serialize)]
pub struct LaneStatus {
    pub agent: String,
    pub queued: u64,
    pub running: u64,
    pub oldest_age_seconds: f64,
    pub refused: u64,
}

/// The lanes of every agent.
#[derive(Debug)]
pub struct Lanes {
    store: Store,
    pub(crate) directory: Arc<dyn Directory>,
    pub(crate) links: Arc<AgentLinks>,
    limits: Mutex<HashMap<String, LaneLimits>>,
    trackers: Mutex<HashMap<String, Arc<Tracker>>>,
    workers: Mutex<HashMap<String, Arc<Notify>>>,
    refused: Mutex<HashMap<String, u64>>,
    /// Ids given to `submit_once` that were refused and are being offered again: a retried
    /// item counts as one refusal, however many times it is offered.
    refused_once: Mutex<HashSet<String>>,
    shutdown: CancellationToken,
}

impl Lanes {
    /// Opens the lanes, queueing again whatever was running when the last mesh stopped.
    pub async fn open(
        store: Store,
        directory: Arc<dyn Directory>,
        links: Arc<AgentLinks>,
        shutdown: CancellationToken,
    ) -> Result<Arc<Self>, LaneError> {
        let requeued = store.write(rows::requeue_running).await?;
        if requeued > 0 {
            tracing::warn!(
                requeued,
                "lane items interrupted by the last stop run again"
            );
        }
        let lanes = Arc::new(Self {
            store,
            directory,
            links,
            limits: Mutex::new(HashMap::new()),
            trackers: Mutex::new(HashMap::new()),
            workers: Mutex::new(HashMap::new()),
            refused: Mutex::new(HashMap::new()),
            refused_once: Mutex::new(HashSet::new()),
            shutdown,
        });
        for (agent, ..) in lanes.store.read(rows::summary).await? {
            lanes.wake(&agent);
        }
        Ok(lanes)
    }

    /// Sets `agent`'s limits (from agents.yaml; agents without an entry get the defaults).
    pub fn set_limits(&self, agent: &str, limits: LaneLimits) {
        self.limits
            .lock()
            .expect("lanes lock")
            .insert(agent.to_owned(), limits);
    }

    pub fn limits(&self, agent: &str) -> LaneLimits {
        self.limits
            .lock()
            .expect("lanes lock")
            .get(agent)
            .copied()
            .unwrap_or_default()
    }

    /// Queues one item; returns once it is committed.
    pub async fn submit(self: &Arc<Self>, sub: Submission) -> Result<Ticket, LaneError> {
        let id = new_id("lane", 16);
        let agent = sub.agent.to_string();
        let max = self.limits(&agent).max;
        let work = serde_json::to_string(&sub.work).expect("work serialises");
        let origin = serde_json::to_string(&sub.origin).expect("an origin serialises");
        let tracker = self.tracker(&id);
        let ticket = Ticket {
            id: id.clone(),
            events: tracker.events.subscribe(),
            done: tracker.done.subscribe(),
        };
        let (who, item) = (agent.clone(), id.clone());
        let queued = self
            .store
            .write(move |c| rows::enqueue(c, &who, &item, &work, &origin, max, now_micros()))
            .await;
        match queued {
            Ok(Some(_)) => {
                self.wake(&agent);
                Ok(ticket)
            }
            Ok(None) => {
                self.forget(&id);
                self.count_refusal(&agent);
                Err(LaneError::Full { agent, max })
            }
            Err(e) => {
                self.forget(&id);
                Err(e.into())
            }
        }
    }

    /// Queues one fire-and-forget item under the caller's `id` unless an item with that id
    /// exists already (queued, running or finished): a redelivered message runs one turn.
    /// `Ok(true)`: queued now; `Ok(false)`: it was there before.
    pub async fn submit_once(
        self: &Arc<Self>,
        id: &str,
        sub: Submission,
    ) -> Result<bool, LaneError> {
        let agent = sub.agent.to_string();
        let max = self.limits(&agent).max;
        let work = serde_json::to_string(&sub.work).expect("work serialises");
        let origin = serde_json::to_string(&sub.origin).expect("an origin serialises");
        let (who, item) = (agent.clone(), id.to_owned());
        let queued = self
            .store
            .write(move |c| {
                if rows::get(c, &item)?.is_some() {
                    return Ok::<_, StoreError>(Some(false));
                }
                let seq = rows::enqueue(c, &who, &item, &work, &origin, max, now_micros())?;
                Ok(seq.map(|_| true))
            })
            .await?;
        match queued {
            Some(fresh) => {
                self.refused_once.lock().expect("lanes lock").remove(id);
                if fresh {
                    self.wake(&agent);
                }
                Ok(fresh)
            }
            None => {
                if self
                    .refused_once
                    .lock()
                    .expect("lanes lock")
                    .insert(id.to_owned())
                {
                    self.count_refusal(&agent);
                }
                Err(LaneError::Full { agent, max })
            }
        }
    }

    /// [`submit_once`](Self::submit_once) for a caller that follows the item: the ticket is
    /// taken before the item is queued, so none of its events is missed. The flag says
    /// whether it was queued now (`false`: the item existed, and the ticket is on it).
    pub async fn submit_once_tracked(
        self: &Arc<Self>,
        id: &str,
        sub: Submission,
    ) -> Result<(Ticket, bool), LaneError> {
        let tracker = self.tracker(id);
        let ticket = Ticket {
            id: id.to_owned(),
            events: tracker.events.subscribe(),
            done: tracker.done.subscribe(),
        };
        match self.submit_once(id, sub).await {
            Ok(true) => Ok((ticket, true)),
            Ok(false) => Ok((self.ticket(id).await?, false)),
            Err(e) => {
                if matches!(e, LaneError::Full { .. }) {
                    self.forget(id);
                }
                Err(e)
            }
        }
    }

    fn count_refusal(&self, agent: &str) {
        crate::counters::lane_refused(agent);
        *self
            .refused
            .lock()
            .expect("lanes lock")
            .entry(agent.to_owned())
            .or_default() += 1;
    }

    /// A handle on item `id` (also after a restart): its outcome is sent once it ends.
    pub async fn ticket(&self, id: &str) -> Result<Ticket, LaneError> {
        let tracker = self.tracker(id);
        let ticket = Ticket {
            id: id.to_owned(),
            events: tracker.events.subscribe(),
            done: tracker.done.subscribe(),
        };
        match self.lookup(id).await {
            Ok(Some(outcome)) => {
                self.forget(id);
                tracker.done.send_replace(Some(outcome));
                Ok(ticket)
            }
            Ok(None) => Ok(ticket),
            Err(e) => {
                self.forget(id);
                Err(e)
            }
        }
    }

    /// The outcome of item `id` if it has finished (`None`: queued or running).
    pub async fn lookup(&self, id: &str) -> Result<Option<Outcome>, LaneError> {
        let item = id.to_owned();
        let row = self
            .store
            .read(move |c| rows::get(c, &item))
            .await?
            .ok_or_else(|| LaneError::UnknownItem { id: id.to_owned() })?;
        row.outcome
            .map(|o| serde_json::from_str(&o))
            .transpose()
            .map_err(|source| LaneError::Damaged {
                id: id.to_owned(),
                source,
            })
    }

    /// Cancels item `id`: a queued one ends `Cancelled` at once; a running one is asked to
    /// stop (the agent's `POST /cancel`) and ends as the agent reports.
    pub async fn cancel(&self, id: &str) -> Result<(), LaneError> {
        let outcome = serde_json::to_string(&Outcome::Cancelled).expect("serialises");
        let item = id.to_owned();
        let row = self
            .store
            .read(move |c| rows::get(c, &item))
            .await?
            .ok_or_else(|| LaneError::UnknownItem { id: id.to_owned() })?;
        match row.state.as_str() {
            "queued" => {
                let item = id.to_owned();
                let ended = self
                    .store
                    .write(move |c| rows::finish(c, &item, &outcome, now_micros()))
                    .await?;
                if ended {
                    self.finished(id, Outcome::Cancelled);
                }
            }
            "running" => {
                if let Some(t) = self.trackers.lock().expect("lanes lock").get(id) {
                    t.cancel.cancel();
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Every lane with unfinished items.
    pub async fn status(&self) -> Result<Vec<LaneStatus>, LaneError> {
        let now = now_micros();
        let refused = self.refused.lock().expect("lanes lock").clone();
        let mut out: Vec<LaneStatus> = self
            .store
            .read(rows::summary)
            .await?
            .into_iter()
            .map(|(agent, queued, running, oldest)| LaneStatus {
                refused: refused.get(&agent).copied().unwrap_or(0),
                agent,
                queued,
                running,
                oldest_age_seconds: (now - oldest).max(0) as f64 / 1e6,
            })
            .collect();
        for (agent, n) in refused {
            if !out.iter().any(|l| l.agent == agent) {
                out.push(LaneStatus {
                    agent,
                    queued: 0,
                    running: 0,
                    oldest_age_seconds: 0.0,
                    refused: n,
                });
            }
        }
        Ok(out)
    }

    fn tracker(&self, id: &str) -> Arc<Tracker> {
        Arc::clone(
            self.trackers
                .lock()
                .expect("lanes lock")
                .entry(id.to_owned())
                .or_insert_with(Tracker::new),
        )
    }

    fn forget(&self, id: &str) -> Option<Arc<Tracker>> {
        self.trackers.lock().expect("lanes lock").remove(id)
    }

    /// After the outcome is committed: tells whoever waits.
    fn finished(&self, id: &str, outcome: Outcome) {
        if let Some(t) = self.forget(id) {
            t.done.send_replace(Some(outcome));
        }
    }

    /// Tells `agent`'s worker there may be work (an item, the agent back up).
    pub fn wake(self: &Arc<Self>, agent: &str) {
        let mut workers = self.workers.lock().expect("lanes lock");
        if let Some(n) = workers.get(agent) {
            n.notify_one();
            return;
        }
        let notify = Arc::new(Notify::new());
        workers.insert(agent.to_owned(), Arc::clone(&notify));
        tokio::spawn(Arc::clone(self).worker(agent.to_owned(), notify));
    }

    async fn worker(self: Arc<Self>, agent: String, notify: Arc<Notify>) {
        let slots = Arc::new(Semaphore::new(
            self.limits(&agent).concurrency.max(1) as usize
        ));
        loop {
            if self.shutdown.is_cancelled() || !self.directory.exists(&agent) {
                self.workers.lock().expect("lanes lock").remove(&agent);
                return;
            }
            let Some(url) = self.directory.url(&agent) else {
                tokio::select! {
                    () = notify.notified() => continue,
                    () = self.shutdown.cancelled() => return,
                }
            };
            let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
                return;
            };
            let who = agent.clone();
            let claimed = self
                .store
                .write(move |c| rows::claim(c, &who, now_micros()))
                .await;
            let row = match claimed {
                Ok(Some(row)) => row,
                Ok(None) => {
                    drop(slot);
                    tokio::select! {
                        () = notify.notified() => continue,
                        () = self.shutdown.cancelled() => return,
                    }
                }
                Err(e) => {
                    tracing::error!(agent, error = %e, "cannot claim a lane item");
                    drop(slot);
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    continue;
                }
            };
            let lanes = Arc::clone(&self);
            let agent = agent.clone();
            tokio::spawn(async move {
                lanes.run(&agent, &url, row).await;
                drop(slot);
                lanes.wake(&agent);
            });
        }
    }
}
