//! Push delivery: one task per agent that posts its queued messages, oldest first, to the
//! agent's `POST /message`, retrying with exponential backoff while the agent is down.
//!
//! A message leaves the inbox only once the agent has answered 2xx (or the agent pulled it
//! with `GET /mesh/inbox`). A 4xx other than 408/429 means the agent refuses that message:
//! it is marked dead (logged, kept for pulling) so it cannot block the queue behind it.
//! Delivery is at-least-once; agents de-duplicate by message id.
//!
//! A message or event that starts a turn (see [`super::turns`]) is queued in the agent's
//! lane before it is pushed, once per message id; while the lane is full the message
//! stays first in the inbox (still pullable) and is tried again every second.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::registry::Registry;
use super::turns::Turns;
use crate::agent_link::{AgentLink, AgentLinks};
use crate::store::{Store, StoreError, inbox};

/// Upper bound on one delivery attempt, whatever the message's ttl says.
const MAX_ATTEMPT: Duration = Duration::from_secs(30);

/// How soon a message whose agent's lane was full is offered to the lane again.
const LANE_RETRY: Duration = Duration::from_secs(1);

#[derive(Debug, Clone)]
pub struct Delivery {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Store,
    registry: Arc<Registry>,
    links: Arc<AgentLinks>,
    turns: Arc<Turns>,
    workers: Mutex<HashMap<String, Arc<Notify>>>,
    shutdown: CancellationToken,
}

enum Attempt {
    Delivered,
    Refused(String),
    Failed(String),
}

impl Delivery {
    pub fn new(
        store: Store,
        registry: Arc<Registry>,
        links: Arc<AgentLinks>,
        turns: Arc<Turns>,
        shutdown: CancellationToken,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                registry,
                links,
                turns,
                workers: Mutex::new(HashMap::new()),
                shutdown,
            }),
        }
    }

    /// Tells `agent`'s worker there may be something to do, starting it if needed.
    pub fn wake(&self, agent: &str) {
        let mut workers = self.inner.workers.lock().expect("delivery lock");
        if let Some(notify) = workers.get(agent) {
            notify.notify_one();
            return;
        }
        let notify = Arc::new(Notify::new());
        workers.insert(agent.to_owned(), Arc::clone(&notify));
        tokio::spawn(worker(Arc::clone(&self.inner), agent.to_owned(), notify));
    }
}

fn backoff() -> impl Iterator<Item = Duration> {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(500))
        .with_max_delay(Duration::from_secs(60))
        .with_jitter()
        .without_max_times()
        .build()
}

async fn worker(inner: Arc<Inner>, agent: String, notify: Arc<Notify>) {
    let mut delays = backoff();
    loop {
        if inner.shutdown.is_cancelled() {
            return;
        }
        if !inner.registry.exists(&agent) {
            inner.workers.lock().expect("delivery lock").remove(&agent);
            return;
        }
        let head = match inner.registry.url(&agent) {
            None => None,
            Some(url) => {
                let who = agent.clone();
                match inner
                    .store
                    .read(move |c| inbox::pending(c, &who, 0, 1, false))
                    .await
                {
                    Ok(mut q) => q.pop().map(|q| (url, q)),
                    Err(e) => {
                        tracing::error!(agent, error = %e, "cannot read inbox");
                        None
                    }
                }
            }
        };
        let Some((url, queued)) = head else {
            // Nothing to push (or nowhere to push it): sleep until woken.
            tokio::select! {
                () = notify.notified() => continue,
                () = inner.shutdown.cancelled() => return,
            }
        };
        let seq = queued.seq;
        let link = inner.links.link(&agent, &url);
        if let Some(turn) = inner.turns.turn_for(&agent, &queued.message)
            && let Err(e) = inner.turns.start(turn).await
        {
            // Full lane (counted there) or a store error: the message waits at the head.
            tracing::debug!(agent, seq, error = %e, "cannot queue the message's turn yet");
            let why = e.to_string();
            let _ = inner
                .store
                .write(move |c| inbox::record_failure(c, seq, &why))
                .await;
            tokio::select! {
                () = tokio::time::sleep(LANE_RETRY) => continue,
                () = inner.shutdown.cancelled() => return,
            }
        }
        let result = match attempt(&link, &queued.message).await {
            Attempt::Delivered => {
                delays = backoff();
                inner
                    .store
                    .write(move |c| inbox::remove(c, seq).map(drop))
                    .await
            }
            Attempt::Refused(why) => {
                tracing::warn!(agent, seq, reason = %why, "agent refused a message; kept for pulling, no longer pushed");
                inner
                    .store
                    .write(move |c| inbox::mark_dead(c, seq, &why))
                    .await
            }
            Attempt::Failed(why) => {
                tracing::debug!(agent, seq, reason = %why, "delivery failed; will retry");
                let stored = inner
                    .store
                    .write(move |c| inbox::record_failure(c, seq, &why))
                    .await;
                let delay = delays.next().unwrap_or(Duration::from_secs(60));
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = inner.shutdown.cancelled() => return,
                }
                stored
            }
        };
        if let Err(e) = result {
            tracing::error!(agent, seq, error = %e, "cannot update inbox");
            if matches!(e, StoreError::Closed) {
                return;
            }
        }
    }
}

async fn attempt(link: &AgentLink, message: &openlegion_protocol::AgentMessage) -> Attempt {
    let timeout = Duration::from_secs(message.ttl.max(1)).min(MAX_ATTEMPT);
    let sent = link
        .request(reqwest::Method::POST, "/message")
        .timeout(timeout)
        .json(message)
        .send()
        .await;
    match sent {
        Ok(resp) if resp.status().is_success() => Attempt::Delivered,
        Ok(resp)
            if resp.status().is_client_error() && !matches!(resp.status().as_u16(), 408 | 429) =>
        {
            Attempt::Refused(format!("HTTP {}", resp.status()))
        }
        Ok(resp) => Attempt::Failed(format!("HTTP {}", resp.status())),
        Err(e) => Attempt::Failed(e.to_string()),
    }
}
