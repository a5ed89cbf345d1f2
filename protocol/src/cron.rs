//! A scheduled job, as stored in `config/cron.json` and as `GET /mesh/cron` lists it.
//!
//! The original's shape (`id, agent, schedule, message, timezone, enabled, suppress_empty,
//! heartbeat, tool_name, tool_params, last_run, next_run, run_count, error_count`) with a
//! few additions this mesh needs (`name`, `catch_up`, `probes`, `last_error`, `created_by`,
//! `from_config`). Unknown keys are refused, so a typo is reported rather than ignored.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One cron or interval job that sends a message (or runs a heartbeat) for an agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CronJob {
    /// `cron_` and 12 hex digits (`heartbeat_<agent>` for an agent's heartbeat).
    pub id: String,
    /// A name for the CLI (`openlegion cron run NAME`); unique when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub agent: String,
    /// A 5-field cron expression (`0 9 * * 1-5`) or an interval (`every 30m`).
    pub schedule: String,
    /// What the agent is told when the job fires (unused by heartbeats).
    #[serde(default)]
    pub message: String,
    /// IANA zone the expression is read in; absent: the mesh's local zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Kept for the original's files; this mesh posts replies nowhere, so it has no effect.
    #[serde(default = "yes")]
    pub suppress_empty: bool,
    /// A heartbeat: probes first, a turn only when one reports something actionable.
    #[serde(default)]
    pub heartbeat: bool,
    /// The probes of a heartbeat (`disk`, `signals`, `tasks`, `inbox`, `lane`,
    /// `workspace`, `skills`); empty: the defaults.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub probes: Vec<String>,
    /// A run missed while the mesh was down runs once at start (`true`) or is skipped.
    #[serde(default = "yes")]
    pub catch_up: bool,
    /// The original's direct tool call; refused by this mesh (the job is disabled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_name: Option<String>,
    /// JSON object as a string, as in the original.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_params: Option<String>,
    #[serde(
        default,
        with = "crate::time::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_run: Option<DateTime<Utc>>,
    #[serde(
        default,
        with = "crate::time::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub next_run: Option<DateTime<Utc>>,
    #[serde(default)]
    pub run_count: u64,
    #[serde(default)]
    pub error_count: u64,
    /// Why the job last failed, or why it was disabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// `operator`, or the agent that made it with `set_cron`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// For a heartbeat made from agents.yaml: that config as last applied, so an edit of
    /// agents.yaml replaces what `set_heartbeat` set and an unchanged one does not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_config: Option<String>,
}

impl CronJob {
    /// A new enabled job with a fresh id and no history.
    pub fn new(agent: &str, schedule: &str, message: &str) -> Self {
        Self {
            id: crate::new_id("cron", 12),
            name: None,
            agent: agent.to_owned(),
            schedule: schedule.to_owned(),
            message: message.to_owned(),
            timezone: None,
            enabled: true,
            suppress_empty: true,
            heartbeat: false,
            probes: Vec::new(),
            catch_up: true,
            tool_name: None,
            tool_params: None,
            last_run: None,
            next_run: None,
            run_count: 0,
            error_count: 0,
            last_error: None,
            created_by: None,
            from_config: None,
        }
    }

    /// Whether `key` (an id or a name) names this job.
    pub fn is_named(&self, key: &str) -> bool {
        self.id == key || self.name.as_deref() == Some(key)
    }
}

fn yes() -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_originals_example_job() {
        let job: CronJob = serde_json::from_value(json!({
            "id": "cron_abc123", "agent": "researcher", "schedule": "0 9 * * 1-5",
            "message": "Check for new leads", "timezone": "UTC", "enabled": true,
            "suppress_empty": true, "heartbeat": false,
            "last_run": "2026-02-20T09:00:05.123456+00:00", "run_count": 42, "error_count": 0
        }))
        .unwrap();
        assert_eq!(job.run_count, 42);
        assert!(job.catch_up, "catch_up defaults to true");
        assert_eq!(
            job.last_run.unwrap().to_rfc3339(),
            "2026-02-20T09:00:05.123456+00:00"
        );
        let e = serde_json::from_value::<CronJob>(json!({
            "id": "cron_1", "agent": "a", "schedule": "every 1m", "shedule": "x"
        }))
        .unwrap_err();
        assert!(e.to_string().contains("unknown field `shedule`"), "{e}");
    }
}
