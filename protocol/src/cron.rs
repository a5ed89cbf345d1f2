//! A scheduled job, as stored in `config/cron.json`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One cron or interval job that sends a message (or a heartbeat) to an agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CronJob {
    pub id: String,
    pub agent: String,
    /// A 5-field cron expression (`0 9 * * 1-5`) or an interval (`every 30m`).
    pub schedule: String,
    #[serde(default)]
    pub message: String,
    #[serde(default = "utc")]
    pub timezone: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default = "yes")]
    pub suppress_empty: bool,
    #[serde(default)]
    pub heartbeat: bool,
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
}

fn utc() -> String {
    "UTC".into()
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
        assert_eq!(
            job.last_run.unwrap().to_rfc3339(),
            "2026-02-20T09:00:05.123456+00:00"
        );
    }
}
