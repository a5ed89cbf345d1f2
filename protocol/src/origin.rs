//! Where a turn came from, and whether its text may be taken as instructions.
//!
//! Every chat turn and task the mesh hands an agent carries an [`Origin`]. Trusted origins
//! (the operator, other agents, the mesh's own schedules) speak to the agent; untrusted ones
//! (webhook bodies, channel users: trust zone 0) only hand it *data*. The agent puts an
//! untrusted turn into its prompt as a clearly delimited block naming its source, never as
//! its operator's words and never into the system prompt.

use serde::{Deserialize, Serialize};

/// The kind of source a turn came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OriginKind {
    /// The human operator (CLI, dashboard, the mesh's agent API).
    Operator,
    /// Another agent, through `POST /mesh/message`.
    Agent,
    /// An event published on a pub/sub topic the agent subscribes to.
    Event,
    /// A change to a blackboard key the agent watches.
    Blackboard,
    Cron,
    Heartbeat,
    Webhook,
    /// A user of a chat channel (Telegram, Discord …).
    Channel,
    /// A step of a workflow.
    Workflow,
    /// A file watcher.
    Watcher,
}

impl OriginKind {
    /// Whether input of this kind is trusted unless said otherwise: everything but webhook
    /// bodies and channel messages, which come from outside the installation.
    pub fn trusted_by_default(self) -> bool {
        !matches!(self, Self::Webhook | Self::Channel)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Operator => "operator",
            Self::Agent => "agent",
            Self::Event => "event",
            Self::Blackboard => "blackboard",
            Self::Cron => "cron",
            Self::Heartbeat => "heartbeat",
            Self::Webhook => "webhook",
            Self::Channel => "channel",
            Self::Workflow => "workflow",
            Self::Watcher => "watcher",
        }
    }
}

/// Where one turn came from: its kind, which one of that kind (`source`: the agent id, the
/// topic, the cron job, the webhook's name, `telegram:12345` for a channel user, the
/// workflow and step …) and whether it is trusted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    pub kind: OriginKind,
    #[serde(default)]
    pub source: String,
    pub trusted: bool,
}

impl Origin {
    /// An origin of `kind` from `source`, trusted as its kind is by default.
    pub fn new(kind: OriginKind, source: impl Into<String>) -> Self {
        Self {
            kind,
            source: source.into(),
            trusted: kind.trusted_by_default(),
        }
    }

    pub fn operator() -> Self {
        Self::new(OriginKind::Operator, "operator")
    }

    pub fn agent(id: impl Into<String>) -> Self {
        Self::new(OriginKind::Agent, id)
    }

    pub fn webhook(name: impl Into<String>) -> Self {
        Self::new(OriginKind::Webhook, name)
    }

    /// A channel user, e.g. `channel("telegram", "12345")` → source `telegram:12345`.
    pub fn channel(channel: &str, user: &str) -> Self {
        Self::new(OriginKind::Channel, format!("{channel}:{user}"))
    }

    /// `kind:source`, as the agent names it in its prompt.
    pub fn label(&self) -> String {
        if self.source.is_empty() {
            self.kind.as_str().to_owned()
        } else {
            format!("{}:{}", self.kind.as_str(), self.source)
        }
    }
}

impl Default for Origin {
    fn default() -> Self {
        Self::operator()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn outside_input_is_untrusted_by_default() {
        assert!(!Origin::webhook("github").trusted);
        assert!(!Origin::channel("telegram", "42").trusted);
        assert_eq!(
            Origin::channel("telegram", "42").label(),
            "channel:telegram:42"
        );
        assert!(Origin::agent("scout").trusted);
        assert!(Origin::operator().trusted);
    }

    #[test]
    fn wire_shape() {
        let o: Origin =
            serde_json::from_value(json!({"kind": "webhook", "source": "gh", "trusted": false}))
                .unwrap();
        assert_eq!(o, Origin::webhook("gh"));
        assert!(
            serde_json::from_value::<Origin>(json!({"kind": "alien", "trusted": true})).is_err()
        );
        assert!(
            serde_json::from_value::<Origin>(json!({"kind": "cron"})).is_err(),
            "trust is explicit"
        );
    }
}
