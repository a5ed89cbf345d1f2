//! The mesh: shared state, events and other agents (the `mesh` interface; needs the `mesh`
//! capability). Everything acts with the agent's own identity and permissions.
//!
//! The WIT passes JSON as text; these wrappers encode arguments and decode answers into the
//! mesh's shapes ([`StateEntry`], [`AgentInfo`]). Decoding is lenient (missing fields take
//! defaults, unknown ones are ignored) so that a newer mesh does not break older skills.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::imports::mesh as host;

/// One blackboard entry (the mesh's `BlackboardEntry`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateEntry {
    pub key: String,
    pub value: Map<String, Value>,
    /// The agent that wrote this version.
    #[serde(default)]
    pub written_by: String,
    /// Timestamps as the mesh sent them (ISO 8601, UTC).
    #[serde(default)]
    pub created_at: String,
    #[serde(default)]
    pub updated_at: String,
    /// Seconds after `updated_at` at which the entry expires; `None` = never.
    #[serde(default)]
    pub ttl: Option<u64>,
    /// 1 for a new key, then one more per write.
    #[serde(default)]
    pub version: u64,
}

/// One agent of the mesh (an entry of `GET /mesh/agents`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentInfo {
    #[serde(default)]
    pub role: String,
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// Whether the agent has announced itself (configured-only agents are `false`).
    #[serde(default)]
    pub registered: bool,
    /// Messages waiting in its inbox.
    #[serde(default)]
    pub inbox: u64,
}

/// The entry at `key`, or `None` if there is none (or it expired).
pub fn read_state(key: &str) -> Result<Option<StateEntry>, String> {
    host::read_state(key)?
        .map(|json| decode("a blackboard entry", &json))
        .transpose()
}

/// Writes `value` (which must serialize to a JSON object) at `key`, optionally expiring
/// `ttl_seconds` after this write; returns the new entry.
pub fn write_state(
    key: &str,
    value: &impl Serialize,
    ttl_seconds: Option<u32>,
) -> Result<StateEntry, String> {
    let json = host::write_state(key, &encode("value", value)?, ttl_seconds)?;
    decode("a blackboard entry", &json)
}

/// The entries whose key starts with `prefix` (`""` for all), ordered by key.
pub fn list_state(prefix: &str) -> Result<Vec<StateEntry>, String> {
    decode("a list of blackboard entries", &host::list_state(prefix)?)
}

/// Publishes `payload` (which must serialize to a JSON object) on `topic`; returns how many
/// subscribers were notified.
pub fn publish(topic: &str, payload: &impl Serialize) -> Result<u32, String> {
    host::publish(topic, &encode("payload", payload)?)
}

/// The agents of the mesh, by id.
pub fn list_agents() -> Result<BTreeMap<String, AgentInfo>, String> {
    decode("the agent list", &host::list_agents()?)
}

/// Sends a message of `kind` (`task_request`, `query`, `event`, …) to an agent id or to
/// `capability:<name>`; returns the mesh's routing answer.
pub fn send_message(to: &str, kind: &str, payload: &impl Serialize) -> Result<Value, String> {
    decode(
        "a routing answer",
        &host::send_message(to, kind, &encode("payload", payload)?)?,
    )
}

/// Adds or replaces one of this agent's cron jobs (`spec`: `schedule`, `message`, and
/// optionally `timezone`, `name`, `catch_up`, `enabled`, `id`); returns the job.
pub fn set_cron(spec: &impl Serialize) -> Result<Value, String> {
    decode("a cron job", &host::set_cron(&encode("job", spec)?)?)
}

/// This agent's cron jobs and heartbeat (`{"count", "jobs": [...]}`).
pub fn list_cron() -> Result<Value, String> {
    decode("the cron jobs", &host::list_cron()?)
}

/// Removes this agent's cron job `id` (its id or name).
pub fn remove_cron(id: &str) -> Result<Value, String> {
    decode("the removal", &host::remove_cron(id)?)
}

/// Sets this agent's heartbeat (`spec`: any of `schedule`, `timezone`, `probes`, `enabled`,
/// `rules`); returns the heartbeat job.
pub fn set_heartbeat(spec: &impl Serialize) -> Result<Value, String> {
    decode(
        "the heartbeat",
        &host::set_heartbeat(&encode("heartbeat", spec)?)?,
    )
}

/// Starts a sub-agent working on `instructions` (needs the `can_spawn` permission);
/// `ttl_seconds` and `budget_usd` default to the mesh's settings. Returns the mesh's answer
/// (`{"agent_id", "parent", "role", "expires_at", "budget_usd"}`).
pub fn spawn_agent(
    role: &str,
    instructions: &str,
    ttl_seconds: Option<u32>,
    budget_usd: Option<f64>,
) -> Result<Value, String> {
    decode(
        "a spawn answer",
        &host::spawn_agent(role, instructions, ttl_seconds, budget_usd)?,
    )
}

/// `agent`'s recent conversation and task results (needs `can_read_history` for it, or
/// `agent` a sub-agent of this one); `limit` 0 means 20 entries.
pub fn read_agent_history(agent: &str, limit: u32) -> Result<Value, String> {
    decode(
        "an agent's history",
        &host::read_agent_history(agent, limit)?,
    )
}

/// Registers `artifacts/<name>` of the workspace on the blackboard; returns the entry.
pub fn register_artifact(name: &str) -> Result<Value, String> {
    decode("an artifact entry", &host::register_artifact(name)?)
}

/// Another agent's artifact, fetched through the mesh.
pub fn read_artifact(agent: &str, name: &str) -> Result<Value, String> {
    decode("an artifact", &host::read_artifact(agent, name)?)
}

fn encode(what: &str, value: &impl Serialize) -> Result<String, String> {
    serde_json::to_string(value).map_err(|e| format!("could not encode the {what} as JSON: {e}"))
}

fn decode<T: DeserializeOwned>(what: &str, json: &str) -> Result<T, String> {
    serde_json::from_str(json)
        .map_err(|e| format!("the mesh sent {what} this skill cannot read: {e}"))
}
