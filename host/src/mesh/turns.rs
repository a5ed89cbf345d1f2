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

#[cfg(test)]
mod tests {
    use openlegion_protocol::{MeshEvent, OriginKind};
    use serde_json::{Map, json};
    use tokio_util::sync::CancellationToken;

    use super::*;
    use crate::agent_link::AgentLinks;
    use crate::store::Store;

    /// No agent is reachable: the lanes never run anything in these tests.
    #[derive(Debug)]
    struct Nowhere;

    impl crate::lanes::Directory for Nowhere {
        fn url(&self, _: &str) -> Option<String> {
            None
        }
        fn exists(&self, _: &str) -> bool {
            true
        }
    }

    async fn turns(dir: &tempfile::TempDir) -> Turns {
        let store = Store::open(&dir.path().join("mesh.db")).unwrap();
        let lanes = Lanes::open(
            store,
            Arc::new(Nowhere),
            Arc::new(AgentLinks::default()),
            CancellationToken::new(),
        )
        .await
        .unwrap();
        Turns::new(lanes)
    }

    fn object(v: Value) -> Map<String, Value> {
        let Value::Object(m) = v else { panic!() };
        m
    }

    fn event(topic: &str) -> AgentMessage {
        let ev = MeshEvent {
            id: "evt_1".into(),
            topic: topic.into(),
            source: "p".into(),
            payload: object(json!({"level": "red"})),
            timestamp: chrono::Utc::now(),
        };
        let payload = object(serde_json::to_value(ev).unwrap());
        AgentMessage::new(TRUSTED_ID, "b", MessageType::Event, payload)
    }

    #[tokio::test]
    async fn messages_and_events_become_turns_keyed_by_their_ids() {
        let dir = tempfile::tempdir().unwrap();
        let turns = turns(&dir).await;
        let msg = AgentMessage::new("a", "b", MessageType::Query, object(json!({"text": "hi"})));
        let t = turns.turn_for("b", &msg).unwrap();
        assert_eq!(t.submission.origin, Origin::agent("a"));
        assert_eq!(
            t.submission.work,
            Work::Chat {
                message: "hi".into()
            }
        );
        assert_eq!(
            t.id,
            turns.turn_for("b", &msg).unwrap().id,
            "stable per message"
        );
        let mut other = msg.clone();
        other.id = "msg_other".into();
        assert_ne!(t.id, turns.turn_for("b", &other).unwrap().id);
        assert_ne!(t.id, turns.turn_for("c", &msg).unwrap().id);

        let e = turns.turn_for("b", &event("alerts")).unwrap();
        assert_eq!(e.submission.origin.kind, OriginKind::Event);
        assert_eq!(e.submission.origin.source, "alerts");
        let Work::Chat { message } = &e.submission.work else {
            panic!()
        };
        assert!(
            message.contains("published by p") && message.contains("red"),
            "{message}"
        );
        // Another copy of the same event (a new inbox message) is the same turn.
        assert_eq!(e.id, turns.turn_for("b", &event("alerts")).unwrap().id);

        let notice = AgentMessage::new(
            TRUSTED_ID,
            "b",
            MessageType::Event,
            object(json!({"event": "blackboard_changed", "key": "k", "text": "[Blackboard: k]"})),
        );
        assert!(
            turns.turn_for("b", &notice).is_none(),
            "blackboard notices stay log-only"
        );
    }

    #[tokio::test]
    async fn log_reactions_start_no_turn() {
        let dir = tempfile::tempdir().unwrap();
        let turns = turns(&dir).await;
        let agents: AgentsFile = serde_json::from_value(json!({"agents": {
            "b": {"role": "x", "on_message": "log"},
            "c": {"role": "y", "on_event": "log"},
        }}))
        .unwrap();
        turns.configure(&agents);
        let msg = AgentMessage::new("a", "b", MessageType::Query, object(json!({"q": 1})));
        assert!(turns.turn_for("b", &msg).is_none());
        assert!(turns.turn_for("b", &event("t")).is_some());
        assert!(turns.turn_for("c", &msg).is_some());
        assert!(turns.turn_for("c", &event("t")).is_none());
        let Work::Chat { message } = turns.turn_for("c", &msg).unwrap().submission.work else {
            panic!()
        };
        assert!(
            message.starts_with("Message (query, id msg_") && message.contains("\"q\":1"),
            "{message}"
        );
    }
}
