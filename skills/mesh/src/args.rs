//! The tools' argument types.
//!
//! Values and payloads must be JSON objects (the mesh stores and sends objects). Models
//! often send such an object encoded as a JSON string, as the original tools required, so
//! a string holding a JSON object is accepted too; anything else is an argument error.

use openlegion_skill_sdk::prelude::*;
use openlegion_skill_sdk::serde_json;
use serde::Serialize;
use serde::de::Error as _;

/// Arguments of `read_shared_state`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReadSharedState {
    /// The exact key, e.g. "status/researcher" or "research/acme_findings".
    pub(crate) key: String,
}

/// Arguments of `write_shared_state`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct WriteSharedState {
    /// The key, e.g. "status/researcher" or "research/acme_findings".
    pub(crate) key: String,
    /// The JSON object to store.
    #[serde(deserialize_with = "json_object")]
    pub(crate) value: Map<String, Value>,
    /// Seconds until the entry expires (default: never).
    pub(crate) ttl: Option<u32>,
}

/// Arguments of `list_shared_state`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListSharedState {
    /// Key prefix, e.g. "status/" or "research/"; "" lists everything.
    pub(crate) prefix: String,
}

/// Arguments of `publish_event`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PublishEvent {
    /// The topic, e.g. "research_complete".
    pub(crate) topic: String,
    /// The event's data as a JSON object ({} if there is nothing to add).
    #[serde(deserialize_with = "json_object")]
    pub(crate) payload: Map<String, Value>,
}

/// Arguments of `set_cron`.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SetCron {
    /// When: 5 cron fields "minute hour day-of-month month day-of-week" (e.g. "0 9 * * 1-5"
    /// is 09:00 Monday to Friday) or an interval: "every 30s", "every 30m", "every 2h",
    /// "every 1d".
    pub(crate) schedule: String,
    /// What you will be told when it fires, e.g. "Check the inbox for new leads".
    pub(crate) message: String,
    /// IANA time zone for a cron expression, e.g. "Europe/Berlin" (default: the mesh's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) timezone: Option<String>,
    /// A short name for the job.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) name: Option<String>,
    /// The id of one of your jobs to replace, instead of adding a job.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) id: Option<String>,
}

/// Arguments of `remove_cron`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RemoveCron {
    /// The job's id (or name), as list_cron shows it.
    pub(crate) id: String,
}

/// Arguments of `set_heartbeat`.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SetHeartbeat {
    /// How often the probes run: "every 15m" (the default) or 5 cron fields.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) schedule: Option<String>,
    /// Which probes run: disk, signals, tasks, inbox, lane, workspace, skills.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) probes: Option<Vec<String>>,
    /// false turns the heartbeat off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) enabled: Option<bool>,
    /// Extra rules for the heartbeat turn, besides your HEARTBEAT.md.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) rules: Option<String>,
}

/// A JSON object, or a string holding one.
fn json_object<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Map<String, Value>, D::Error> {
    let value = match Value::deserialize(de)? {
        Value::String(text) => serde_json::from_str(&text).unwrap_or(Value::String(text)),
        other => other,
    };
    match value {
        Value::Object(object) => Ok(object),
        other => Err(D::Error::custom(format!(
            "expected a JSON object, got {}",
            kind(&other)
        ))),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string that is not a JSON object",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
