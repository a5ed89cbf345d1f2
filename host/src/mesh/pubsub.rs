//! Topics: subscriptions (exact topic names) and publishing an event to every subscriber's
//! inbox.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};

use openlegion_protocol::{AgentMessage, MeshEvent, MessageType, limits};
use serde::Serialize;
use serde_json::Value;

use super::MeshError;
use super::inbox::Inboxes;
use crate::auth::Caller;
use crate::permissions::Permissions;
use crate::permissions::TRUSTED_ID;
use crate::store::Store;
use crate::store::registry as rows;

#[derive(Debug)]
pub struct PubSub {
    store: Store,
    permissions: Arc<Permissions>,
    inboxes: Arc<Inboxes>,
    /// topic → subscribers, in subscription order.
    topics: RwLock<HashMap<String, Vec<String>>>,
    listeners: RwLock<Vec<Arc<dyn EventListener>>>,
}

/// A part outside the mesh that starts work from published events (workflows triggered by
/// a topic). It hears every event once it has reached the subscribers' inboxes, before the
/// publisher is answered, so what it starts is committed when the publish is acknowledged.
pub trait EventListener: Send + Sync + std::fmt::Debug {
    /// Returns the ids of what the event started.
    fn published<'a>(
        &'a self,
        event: &'a MeshEvent,
    ) -> Pin<Box<dyn Future<Output = Vec<String>> + Send + 'a>>;
}

/// The answer to a publish.
#[derive(Debug, Serialize)]
pub struct Published {
    pub event_id: String,
    /// Subscribers whose inbox received the event.
    pub subscribers_notified: usize,
    /// Subscribers whose inbox was full: they did not get it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub undelivered: Vec<String>,
    /// Workflow runs the event started (workflows triggered by its topic).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub workflow_runs: Vec<String>,
}

fn check_topic(topic: &str) -> Result<(), MeshError> {
    if topic.is_empty()
        || topic.chars().count() > limits::MAX_NAME_CHARS
        || topic.chars().any(char::is_control)
    {
        return Err(MeshError::BadField {
            field: "topic",
            problem: format!(
                "must be 1 to {} printable characters",
                limits::MAX_NAME_CHARS
            ),
        });
    }
    Ok(())
}

impl PubSub {
    pub async fn load(
        store: Store,
        permissions: Arc<Permissions>,
        inboxes: Arc<Inboxes>,
    ) -> Result<Self, MeshError> {
        let mut topics: HashMap<String, Vec<String>> = HashMap::new();
        for (topic, agent) in store
            .read(|c| rows::load_subscriptions(c).map_err(MeshError::from))
            .await?
        {
            topics.entry(topic).or_default().push(agent);
        }
        Ok(Self {
            store,
            permissions,
            inboxes,
            topics: RwLock::new(topics),
            listeners: RwLock::new(Vec::new()),
        })
    }

    /// Adds a listener that hears every published event.
    pub fn listen(&self, listener: Arc<dyn EventListener>) {
        self.listeners
            .write()
            .expect("listeners lock")
            .push(listener);
    }

    /// Subscribes `agent` to `topic`, checking `can_subscribe` unless `trusted` (the mesh
    /// subscribing an agent to its configured topics at registration).
    pub async fn subscribe(&self, caller: &Caller, topic: String) -> Result<(), MeshError> {
        let Caller::Agent(agent) = caller else {
            return Err(MeshError::NoInbox {
                action: "subscribing",
            });
        };
        check_topic(&topic)?;
        if !self
            .permissions
            .current()
            .can_subscribe(agent.as_str(), &topic)
        {
            return Err(MeshError::Forbidden {
                agent: agent.to_string(),
                action: "subscribe to",
                target: topic,
            });
        }
        self.add(agent.as_str(), topic).await
    }

    async fn add(&self, agent: &str, topic: String) -> Result<(), MeshError> {
        let (who, t) = (agent.to_owned(), topic.clone());
        let added = self
            .store
            .write(move |c| rows::subscribe(c, &t, &who).map_err(MeshError::from))
            .await?;
        if added {
            self.topics
                .write()
                .expect("topics lock")
                .entry(topic)
                .or_default()
                .push(agent.to_owned());
        }
        Ok(())
    }

    /// Subscribes a newly registered agent to every topic its `can_subscribe` names
    /// (except the wildcard `*`, which is not a topic).
    pub async fn subscribe_configured(&self, agent: &str) -> Result<(), MeshError> {
        let topics = self.permissions.current().resolve(agent).can_subscribe;
        for topic in topics.into_iter().filter(|t| t != "*") {
            if check_topic(&topic).is_ok() {
                self.add(agent, topic).await?;
            }
        }
        Ok(())
    }

    pub async fn unsubscribe(&self, caller: &Caller, topic: String) -> Result<bool, MeshError> {
        let Caller::Agent(agent) = caller else {
            return Err(MeshError::NoInbox {
                action: "unsubscribing",
            });
        };
        let (who, t) = (agent.to_string(), topic.clone());
        let removed = self
            .store
            .write(move |c| rows::unsubscribe(c, &t, &who).map_err(MeshError::from))
            .await?;
        if let Some(subs) = self.topics.write().expect("topics lock").get_mut(&topic) {
            subs.retain(|a| a != agent.as_str());
        }
        Ok(removed)
    }

    /// Forgets `agent`'s subscriptions (its rows go with the agent's registry row).
    pub fn forget_agent(&self, agent: &str) {
        for subs in self.topics.write().expect("topics lock").values_mut() {
            subs.retain(|a| a != agent);
        }
    }

    /// Publishes `event` (its `source` set to the caller) to every subscriber of its topic.
    pub async fn publish(
        &self,
        caller: &Caller,
        mut event: MeshEvent,
    ) -> Result<Published, MeshError> {
        check_topic(&event.topic)?;
        if !caller.is_operator()
            && !self
                .permissions
                .current()
                .can_publish(caller.id(), &event.topic)
        {
            return Err(MeshError::Forbidden {
                agent: caller.id().into(),
                action: "publish to",
                target: event.topic,
            });
        }
        event.source = caller.id().to_owned();
        let subscribers = self
            .topics
            .read()
            .expect("topics lock")
            .get(&event.topic)
            .cloned()
            .unwrap_or_default();
        let Value::Object(payload) = serde_json::to_value(&event).expect("events serialise") else {
            unreachable!("an event serialises to an object")
        };
        let event_id = event.id.clone();
        let inboxes = Arc::clone(&self.inboxes);
        let targets = subscribers.clone();
        let undelivered = self
            .store
            .write(move |c| {
                let mut full = Vec::new();
                for agent in &targets {
                    let message =
                        AgentMessage::new(TRUSTED_ID, agent, MessageType::Event, payload.clone());
                    if !inboxes.enqueue_in(c, agent, &message)? {
                        full.push(agent.clone());
                    }
                }
                Ok::<_, MeshError>(full)
            })
            .await?;
        let notified: Vec<&str> = subscribers
            .iter()
            .map(String::as_str)
            .filter(|a| !undelivered.iter().any(|u| u == a))
            .collect();
        self.inboxes.wake(notified.iter().copied());
        if !undelivered.is_empty() {
            tracing::warn!(
                topic = event.topic,
                ?undelivered,
                "inbox full: event not queued for some subscribers"
            );
        }
        let listeners = self.listeners.read().expect("listeners lock").clone();
        let mut workflow_runs = Vec::new();
        for listener in listeners {
            workflow_runs.extend(listener.published(&event).await);
        }
        Ok(Published {
            event_id,
            subscribers_notified: notified.len(),
            undelivered,
            workflow_runs,
        })
    }
}
