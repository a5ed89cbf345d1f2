//! Messages and subscribed events that start a turn: before push delivery hands a message
//! to its agent, the message (from another agent) or the pub/sub event is queued in the
//! agent's lane as a chat turn whose origin names the sender or the topic, unless the
//! agent's `on_message:` / `on_event:` in agents.yaml says `log`.
//!
//! The lane item's id is derived from the receiving agent and the message's (or event's)
//! id, so a message delivered twice (delivery is at-least-once) runs one turn. Blackboard
//! notifications and anything else the mesh itself sends stay log-only.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use openlegion_protocol::{AgentId, AgentMessage, MessageType, Origin, OriginKind};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::config::{AgentsFile, Reaction};
use crate::lanes::{LaneError, Lanes, Submission, Work};
use crate::permissions::TRUSTED_ID;

/// Each agent's reactions, and the lanes turns go to.
#[derive(Debug)]
pub struct Turns {
    lanes: Arc<Lanes>,
    /// agent → (on_message, on_event); agents without an entry get `turn` for both.
    reactions: RwLock<HashMap<String, (Reaction, Reaction)>>,
}

/// A message that should become a turn: its lane item id and the submission.
#[derive(Debug)]
pub struct TurnFor {
    pub id: String,
    pub submission: Submission,
}

impl Turns {
    pub fn new(lanes: Arc<Lanes>) -> Self {
        Self {
            lanes,
            reactions: RwLock::new(HashMap::new()),
        }
    }

    /// Takes the reactions of agents.yaml (at start and on reload).
    pub fn configure(&self, agents: &AgentsFile) {
        let map = agents
            .agents
            .iter()
            .map(|(id, a)| {
                let r = (
                    a.on_message.unwrap_or_default(),
                    a.on_event.unwrap_or_default(),
                );
                (id.to_string(), r)
            })
            .collect();
        *self.reactions.write().expect("reactions lock") = map;
    }

    fn reactions(&self, agent: &str) -> (Reaction, Reaction) {
        self.reactions
            .read()
            .expect("reactions lock")
            .get(agent)
            .copied()
            .unwrap_or_default()
    }

    /// The turn `message` starts for `agent`, if any.
    pub fn turn_for(&self, agent: &str, message: &AgentMessage) -> Option<TurnFor> {
        let (on_message, on_event) = self.reactions(agent);
        let (key, text, origin) = if message.from_agent == TRUSTED_ID {
            let event = published_event(message)?;
            if on_event == Reaction::Log {
                return None;
            }
            event
        } else {
            if on_message == Reaction::Log {
                return None;
            }
            (
                format!("message\0{}\0{}", message.from_agent, message.id),
                message_text(message),
                match message.from_agent.as_str() {
                    "operator" => Origin::operator(),
                    from => Origin::agent(from),
                },
            )
        };
        let agent_id = AgentId::parse(agent).ok()?;
        let digest = Sha256::digest(format!("{agent}\0{key}").as_bytes());
        Some(TurnFor {
            id: format!("deliv_{}", &hex::encode(digest)[..32]),
            submission: Submission {
                agent: agent_id,
                work: Work::Chat { message: text },
                origin,
            },
        })
    }

    /// Queues the turn (once per id); `LaneError::Full` leaves the message to be retried.
    pub async fn start(&self, turn: TurnFor) -> Result<bool, LaneError> {
        self.lanes.submit_once(&turn.id, turn.submission).await
    }
}

/// A pub/sub event (the mesh's event messages carrying a `MeshEvent`, not blackboard
/// notifications): its dedupe key, the turn's text and its origin.
fn published_event(message: &AgentMessage) -> Option<(String, String, Origin)> {
    let p = &message.payload;
    if message.kind != MessageType::Event || p.contains_key("event") {
        return None;
    }
    let topic = p.get("topic")?.as_str()?;
    let id = p.get("id").and_then(Value::as_str).unwrap_or(&message.id);
    let source = p.get("source").and_then(Value::as_str).unwrap_or("?");
    let payload = p.get("payload").cloned().unwrap_or(Value::Null);
    Some((
        format!("event\0{id}"),
        format!("Event on topic {topic} published by {source}:\n{payload}"),
        Origin::new(OriginKind::Event, topic),
    ))
}

/// The text of a message: its `text` (or `message`, `content`) when that is all it says,
/// else its type and payload as JSON.
fn message_text(message: &AgentMessage) -> String {
    let p = &message.payload;
    if p.len() == 1
        && let Some(text) = ["text", "message", "content"]
            .iter()
            .find_map(|k| p.get(*k).and_then(Value::as_str))
    {
        return text.to_owned();
    }
    let kind = serde_json::to_value(message.kind).unwrap_or(Value::Null);
    format!(
        "Message ({}, id {}):\n{}",
        kind.as_str().unwrap_or("message"),
        message.id,
        Value::Object(p.clone())
    )
}
