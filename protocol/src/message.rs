//! Messages between agents and events on pub/sub topics.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::ids::new_id;

/// What a message asks of its recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageType {
    TaskRequest,
    TaskResult,
    Event,
    Query,
    Cancel,
}

/// Delivery priority (informational: inboxes deliver in arrival order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Low,
    #[default]
    Normal,
    High,
    Urgent,
}

/// A message routed by the mesh from one agent to another (`POST /mesh/message`), and the
/// form in which events and blackboard notifications reach an agent's inbox.
///
/// `from_agent` is whatever the sender wrote; the mesh overwrites it with the verified
/// identity of the caller before routing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentMessage {
    #[serde(default = "message_id")]
    pub id: String,
    #[serde(default)]
    pub from_agent: String,
    pub to: String,
    #[serde(rename = "type")]
    pub kind: MessageType,
    #[serde(default)]
    pub payload: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    #[serde(default = "Utc::now", with = "crate::time")]
    pub timestamp: DateTime<Utc>,
    /// Seconds; also the timeout of one HTTP delivery attempt.
    #[serde(default = "default_ttl")]
    pub ttl: u64,
    #[serde(default)]
    pub priority: Priority,
}

impl AgentMessage {
    /// A message with a fresh id and timestamp and the default ttl and priority.
    pub fn new(
        from_agent: impl Into<String>,
        to: impl Into<String>,
        kind: MessageType,
        payload: Map<String, Value>,
    ) -> Self {
        Self {
            id: message_id(),
            from_agent: from_agent.into(),
            to: to.into(),
            kind,
            payload,
            workflow_id: None,
            reply_to: None,
            timestamp: Utc::now(),
            ttl: default_ttl(),
            priority: Priority::Normal,
        }
    }
}

/// An event published on a topic (`POST /mesh/publish`). `source` is overwritten by the
/// mesh with the publisher's verified identity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeshEvent {
    #[serde(default = "event_id")]
    pub id: String,
    pub topic: String,
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub payload: Map<String, Value>,
    #[serde(default = "Utc::now", with = "crate::time")]
    pub timestamp: DateTime<Utc>,
}

fn message_id() -> String {
    new_id("msg", 12)
}

fn event_id() -> String {
    new_id("evt", 12)
}

fn default_ttl() -> u64 {
    300
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_match_the_original() {
        let m: AgentMessage = serde_json::from_value(json!({
            "from_agent": "a", "to": "b", "type": "task_request", "payload": {"x": 1}
        }))
        .unwrap();
        assert!(m.id.starts_with("msg_") && m.id.len() == 16);
        assert_eq!(m.ttl, 300);
        assert_eq!(m.priority, Priority::Normal);
        assert_eq!(m.kind, MessageType::TaskRequest);
        let back = serde_json::to_value(&m).unwrap();
        assert_eq!(back["type"], "task_request");
        assert_eq!(back["priority"], "normal");
    }

    #[test]
    fn unknown_message_type_is_refused() {
        let err = serde_json::from_value::<AgentMessage>(json!({"to": "b", "type": "shout"}))
            .unwrap_err();
        assert!(err.to_string().contains("unknown variant `shout`"), "{err}");
    }

    #[test]
    fn event_defaults() {
        let e: MeshEvent = serde_json::from_value(json!({"topic": "t"})).unwrap();
        assert!(e.id.starts_with("evt_"));
        assert!(e.payload.is_empty());
    }
}
