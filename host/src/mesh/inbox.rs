//! Putting messages into agents' inboxes, and agents pulling them out.

use openlegion_protocol::AgentMessage;
use rusqlite::Connection;
use serde::Serialize;

use super::MeshError;
use super::delivery::Delivery;
use crate::store::{Store, StoreError, inbox, now_micros};

#[derive(Debug)]
pub struct Inboxes {
    store: Store,
    max: u32,
    delivery: Delivery,
}

/// What one pull returns.
#[derive(Debug, Serialize)]
pub struct InboxPage {
    pub messages: Vec<InboxItem>,
    /// Messages still waiting after this page.
    pub remaining: u64,
}

#[derive(Debug, Serialize)]
pub struct InboxItem {
    pub seq: i64,
    pub message: AgentMessage,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery_error: Option<String>,
}

impl Inboxes {
    pub fn new(store: Store, max: u32, delivery: Delivery) -> Self {
        Self {
            store,
            max,
            delivery,
        }
    }

    pub fn max(&self) -> u32 {
        self.max
    }

    /// Queues `message` for `agent` inside a write job; `Ok(false)` if the inbox is full.
    pub fn enqueue_in(
        &self,
        conn: &Connection,
        agent: &str,
        message: &AgentMessage,
    ) -> Result<bool, StoreError> {
        Ok(inbox::enqueue(conn, agent, message, self.max, now_micros())?.is_some())
    }

    /// Queues one message and starts its delivery; returns its sequence number.
    pub async fn send(&self, agent: &str, message: AgentMessage) -> Result<i64, MeshError> {
        let to = agent.to_owned();
        let max = self.max;
        let seq = self
            .store
            .write(move |c| {
                inbox::enqueue(c, &to, &message, max, now_micros()).map_err(MeshError::from)
            })
            .await?
            .ok_or_else(|| MeshError::InboxFull {
                agent: agent.to_owned(),
                max,
            })?;
        self.delivery.wake(agent);
        Ok(seq)
    }

    /// Starts (or nudges) push delivery to each of `agents`.
    pub fn wake<'a>(&self, agents: impl IntoIterator<Item = &'a str>) {
        for agent in agents {
            self.delivery.wake(agent);
        }
    }

    /// Acknowledges everything up to `after` and returns the next `limit` messages: a
    /// cursor, so a lost response loses nothing (pull again with the same `after`).
    pub async fn pull(&self, agent: &str, after: i64, limit: u32) -> Result<InboxPage, MeshError> {
        let who = agent.to_owned();
        if after > 0 {
            let who = who.clone();
            self.store
                .write(move |c| inbox::ack(c, &who, after).map_err(MeshError::from))
                .await?;
        }
        self.store
            .read(move |c| {
                let queued = inbox::pending(c, &who, after, limit, true)?;
                let total = inbox::count(c, &who)?;
                let remaining = total.saturating_sub(queued.len() as u64);
                let messages = queued
                    .into_iter()
                    .map(|q| InboxItem {
                        seq: q.seq,
                        message: q.message,
                        delivery_error: q.last_error,
                    })
                    .collect();
                Ok::<_, MeshError>(InboxPage {
                    messages,
                    remaining,
                })
            })
            .await
    }

    pub async fn counts(&self) -> Result<Vec<(String, u64)>, MeshError> {
        Ok(self.store.read(inbox::counts).await?)
    }
}
