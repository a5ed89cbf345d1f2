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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AgentsFile;

    fn parse(yaml: &str) -> Result<AgentsFile, String> {
        crate::config::parse::yaml::<AgentsFile>(std::path::Path::new("agents.yaml"), yaml)
            .map_err(|e| e.to_string())
    }

    fn heartbeat(yaml: &str) -> HeartbeatConfig {
        let file = parse(yaml).unwrap();
        file.agents
            .values()
            .next()
            .unwrap()
            .heartbeat
            .clone()
            .unwrap()
            .0
    }

    #[test]
    fn a_map_the_originals_text_or_a_boolean() {
        let h = heartbeat(
            "agents:\n  a:\n    role: x\n    heartbeat:\n      schedule: \"*/5 9-17 * * 1-5\"\n      timezone: Europe/Berlin\n      probes: [signals, skills]\n",
        );
        assert_eq!(h.schedule, "*/5 9-17 * * 1-5");
        assert_eq!(h.probes, ["signals", "skills"]);
        assert!(h.enabled);
        let h = heartbeat("agents:\n  a:\n    role: x\n    heartbeat: Check the build.\n");
        assert_eq!(
            (h.schedule.as_str(), h.rules.as_deref()),
            (DEFAULT_HEARTBEAT_SCHEDULE, Some("Check the build."))
        );
        let h = heartbeat("agents:\n  a:\n    role: x\n    heartbeat: false\n");
        assert!(!h.enabled);
    }

    #[test]
    fn unknown_keys_and_probes_are_refused_with_their_place() {
        let e = parse("agents:\n  a:\n    role: x\n    heartbeat:\n      shedule: every 5m\n")
            .unwrap_err();
        assert!(e.contains("agents.yaml:5:") && e.contains("shedule"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agents.yaml");
        std::fs::write(
            &path,
            "agents:\n  a:\n    role: x\n    heartbeat: {probes: [disk, vibes]}\n",
        )
        .unwrap();
        let e = crate::config::load_agents(&path).unwrap_err().to_string();
        assert!(
            e.contains("agents.a.heartbeat.probes") && e.contains("\"vibes\" is not a probe"),
            "{e}"
        );
    }
}
