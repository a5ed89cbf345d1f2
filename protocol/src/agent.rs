//! Agent registration, status and chat bodies.

use serde::{Deserialize, Serialize};

/// What an agent is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentState {
    Idle,
    Working,
    Blocked,
    Failed,
    Starting,
}

/// `GET /status` on an agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentStatus {
    pub agent_id: String,
    #[serde(default)]
    pub role: String,
    pub state: AgentState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_task: Option<String>,
    #[serde(default)]
    pub capabilities: Vec<String>,
    #[serde(default)]
    pub uptime_seconds: f64,
    #[serde(default)]
    pub tasks_completed: u64,
    #[serde(default)]
    pub tasks_failed: u64,
    #[serde(default)]
    pub context_tokens: u64,
    #[serde(default)]
    pub context_max: u64,
    #[serde(default)]
    pub context_pct: f64,
    /// Calls of each tool since the agent started (the mesh relays them in its metrics).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub tools: std::collections::BTreeMap<String, ToolCounts>,
    /// Tool calls the loop detector warned about (the same call, arguments and result
    /// repeated), since the agent started.
    #[serde(default)]
    pub loop_warnings: u64,
    /// Turns the loop detector stopped, since the agent started.
    #[serde(default)]
    pub loop_stops: u64,
}

/// How the calls of one tool ended, counted by the agent since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCounts {
    pub calls: u64,
    /// Calls that ended in an error (the tool's own, or refused arguments or answer).
    pub errors: u64,
    /// Of the errors, those where the skill's instance was killed: a trap (panic,
    /// unreachable, out-of-bounds), or its fuel, time or memory limit.
    pub traps: u64,
}

/// `POST /mesh/register`.
///
/// An agent registering itself (with its own bearer token) may set `capabilities` and
/// `port`; its id comes from the token. The operator registering an agent names it in
/// `agent_id` and may give a full `url`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RegisterRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// The agent's HTTP port on loopback (`http://127.0.0.1:{port}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Operator only: the agent's base URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

/// The answer to `POST /mesh/register`. `token` is present only when the mesh minted a new
/// bearer token for the agent (operator registrations); it is shown once and stored hashed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegisterResponse {
    pub registered: bool,
    pub agent_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// One entry of `GET /mesh/agents`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentInfo {
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub role: String,
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// Whether the agent has announced itself with `POST /mesh/register` (agents that are
    /// only configured in agents.yaml are listed with `false`).
    #[serde(default)]
    pub registered: bool,
    /// Messages waiting in the agent's inbox.
    #[serde(default)]
    pub inbox: u64,
    /// What the mesh last saw of an agent it runs: `starting`, `running`, `unreachable`,
    /// `restarting`, `failed` or `stopped`; absent for agents it does not run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// For a sub-agent, the agent that spawned it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
}

/// `POST /chat` on an agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub message: String,
    /// Where the turn came from; none means the operator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<crate::Origin>,
}

/// The reply to `POST /chat`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatResponse {
    pub response: String,
    #[serde(default)]
    pub tool_outputs: Vec<serde_json::Value>,
    #[serde(default)]
    pub tokens_used: u64,
}

/// One `data:` payload of an agent's `POST /chat/stream`, as the turn happens, and of the
/// mesh's `POST /mesh/agents/{id}/api/chat/stream` (which passes the agent's events on). The
/// agent's stream ends with `done`; the mesh's ends with `done` or, when the turn could not
/// be run, `error`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ChatEvent {
    /// A piece of the model's text.
    TextDelta { content: String },
    /// A tool is about to run with these arguments.
    ToolStart {
        name: String,
        input: serde_json::Value,
    },
    /// What the tool answered (bounded, as the model sees it).
    ToolResult { name: String, output: String },
    /// The turn ended: the same reply as `POST /chat`.
    Done(ChatResponse),
    /// Made by the mesh, never by an agent: the turn failed or was cancelled before a
    /// `done` (the agent refused it, could not be reached, or the operator cancelled it).
    Error { error: String },
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn chat_events_are_tagged_and_done_carries_the_reply() {
        let events = [
            ChatEvent::TextDelta {
                content: "a".into(),
            },
            ChatEvent::ToolStart {
                name: "exec".into(),
                input: json!({"command": "ls"}),
            },
            ChatEvent::ToolResult {
                name: "exec".into(),
                output: "x".into(),
            },
            ChatEvent::Done(ChatResponse {
                response: "done".into(),
                tool_outputs: vec![json!({"tool": "exec"})],
                tokens_used: 7,
            }),
            ChatEvent::Error {
                error: "the turn was cancelled".into(),
            },
        ];
        let tags = ["text_delta", "tool_start", "tool_result", "done", "error"];
        for (event, tag) in events.into_iter().zip(tags) {
            let wire = serde_json::to_value(&event).unwrap();
            assert_eq!(wire["type"], tag);
            assert_eq!(serde_json::from_value::<ChatEvent>(wire).unwrap(), event);
        }
        let done = json!({"type": "done", "response": "r", "tool_outputs": [], "tokens_used": 3});
        let ChatEvent::Done(reply) = serde_json::from_value(done).unwrap() else {
            panic!("a done event");
        };
        assert_eq!(reply.response, "r");
        let error = json!({"type": "error", "error": "boom"});
        assert_eq!(
            serde_json::from_value::<ChatEvent>(error).unwrap(),
            ChatEvent::Error {
                error: "boom".into()
            }
        );
    }
}
