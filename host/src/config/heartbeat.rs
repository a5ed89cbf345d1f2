//! `heartbeat:` of one agent in agents.yaml: when the agent's cheap probes run, and which.
//!
//! ```yaml
//! heartbeat:
//!   schedule: every 15m          # the default; or a cron expression
//!   timezone: Europe/Berlin      # for a cron expression; default the mesh's local zone
//!   probes: [disk, signals, tasks, inbox, skills]   # the default
//!   rules: "Check the build."    # added to the turn, besides HEARTBEAT.md
//! ```
//!
//! The original's shapes load too: `heartbeat: "text"` (its HEARTBEAT.md rules; the
//! defaults otherwise) and `heartbeat: true`/`false`.

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

/// The schedule a heartbeat gets when none is given.
pub const DEFAULT_HEARTBEAT_SCHEDULE: &str = "every 15m";

/// Every probe a heartbeat can run (see the heartbeat module for what each looks at).
pub const PROBES: &[&str] = &[
    "disk",
    "signals",
    "tasks",
    "inbox",
    "lane",
    "workspace",
    "skills",
];

/// The probes of a heartbeat that names none.
pub const DEFAULT_PROBES: &[&str] = &["disk", "signals", "tasks", "inbox", "skills"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HeartbeatConfig {
    pub enabled: bool,
    pub schedule: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// Names from [`PROBES`]; empty: [`DEFAULT_PROBES`].
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub probes: Vec<String>,
    /// Rules for the heartbeat turn, besides the agent's HEARTBEAT.md.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rules: Option<String>,
}

impl Default for HeartbeatConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            schedule: DEFAULT_HEARTBEAT_SCHEDULE.into(),
            timezone: None,
            probes: Vec::new(),
            rules: None,
        }
    }
}

impl HeartbeatConfig {
    /// The probe that is not one of [`PROBES`], if any.
    pub fn unknown_probe(&self) -> Option<&str> {
        self.probes
            .iter()
            .map(String::as_str)
            .find(|p| !PROBES.contains(p))
    }
}

/// `heartbeat:` as agents.yaml holds it: a map, the rules' text, or a boolean.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct HeartbeatSetting(pub HeartbeatConfig);

impl<'de> Deserialize<'de> for HeartbeatSetting {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Shapes;
        impl<'de> Visitor<'de> for Shapes {
            type Value = HeartbeatSetting;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map (enabled, schedule, timezone, probes, rules), the text of the heartbeat rules, or true/false")
            }

            fn visit_str<E: de::Error>(self, rules: &str) -> Result<Self::Value, E> {
                Ok(HeartbeatSetting(HeartbeatConfig {
                    rules: Some(rules.to_owned()).filter(|r| !r.trim().is_empty()),
                    ..HeartbeatConfig::default()
                }))
            }

            fn visit_bool<E: de::Error>(self, enabled: bool) -> Result<Self::Value, E> {
                Ok(HeartbeatSetting(HeartbeatConfig {
                    enabled,
                    ..HeartbeatConfig::default()
                }))
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                HeartbeatConfig::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(HeartbeatSetting)
            }
        }
        d.deserialize_any(Shapes)
    }
}
