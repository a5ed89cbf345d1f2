//! Tasks handed to agents (by workflows, cron or other agents) and their results.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::ids::new_id;

/// `POST /task` on an agent: one unit of work with its input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskAssignment {
    #[serde(default = "task_id")]
    pub task_id: String,
    #[serde(default)]
    pub workflow_id: String,
    #[serde(default)]
    pub step_id: String,
    pub task_type: String,
    #[serde(default)]
    pub input_data: Map<String, Value>,
    #[serde(default)]
    pub context: Map<String, Value>,
    /// Seconds.
    #[serde(default = "default_task_timeout")]
    pub timeout: u64,
    #[serde(default)]
    pub max_retries: u32,
    /// Where the task came from; none means the operator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<crate::Origin>,
}

fn task_id() -> String {
    new_id("task", 12)
}

fn default_task_timeout() -> u64 {
    120
}

/// How a task ended (or that it has not yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    Complete,
    Failed,
    Cancelled,
    Timeout,
    Skipped,
    Pending,
}

/// The outcome of a [`TaskAssignment`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskResult {
    pub task_id: String,
    pub status: TaskStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Keys the orchestrator writes to the blackboard when the task completes.
    #[serde(default)]
    pub promote_to_blackboard: Map<String, Value>,
    #[serde(default)]
    pub tokens_used: u64,
    #[serde(default)]
    pub duration_ms: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn assignment_defaults() {
        let t: TaskAssignment = serde_json::from_value(json!({"task_type": "research"})).unwrap();
        assert!(t.task_id.starts_with("task_") && t.task_id.len() == 17);
        assert_eq!(t.timeout, 120);
        assert_eq!(t.max_retries, 0);
    }

    #[test]
    fn result_status_strings() {
        let r: TaskResult =
            serde_json::from_value(json!({"task_id": "t", "status": "skipped"})).unwrap();
        assert_eq!(r.status, TaskStatus::Skipped);
        assert!(
            serde_json::from_value::<TaskResult>(json!({"task_id": "t", "status": "done"}))
                .is_err()
        );
    }
}
