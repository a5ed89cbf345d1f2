//! A workflow as the executor sees it: validated, its steps in an order where every step
//! comes after the steps it depends on, its conditions parsed and its inputs resolved to
//! where they come from. Built by [`super::load`]; immutable, shared by `Arc` — a run keeps
//! the definition it started with whatever reloads happen meanwhile.

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use super::condition::Condition;

/// Seconds a whole run may take unless `timeout:` says otherwise (the original's).
pub const DEFAULT_RUN_TIMEOUT: u64 = 600;
/// Seconds one attempt of a step may take unless its `timeout:` says otherwise.
pub const DEFAULT_STEP_TIMEOUT: u64 = 120;
/// Retries under `on_failure: retry` without `max_retries` (the original's default).
pub const DEFAULT_RETRIES: u32 = 3;
/// Steps of one run in flight at once, unless `max_parallel:` says otherwise.
pub const DEFAULT_MAX_PARALLEL: u32 = 8;

#[derive(Debug)]
pub struct Workflow {
    pub name: String,
    pub description: Option<String>,
    /// The file it was read from.
    pub file: PathBuf,
    /// The file's text: stored with each run, so a run resumed after a restart follows the
    /// definition it started with.
    pub source: String,
    pub triggers: Triggers,
    pub timeout: Duration,
    pub on_complete: Option<String>,
    pub max_parallel: usize,
    /// Dependencies before dependants.
    pub steps: Vec<Step>,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct Triggers {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook: Option<WebhookTrigger>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cron: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct WebhookTrigger {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_env: Option<String>,
    pub rate_per_minute: u32,
}

#[derive(Debug)]
pub struct Step {
    pub id: String,
    pub agent: String,
    pub task_type: String,
    pub input: Input,
    pub depends_on: Vec<String>,
    pub condition: Option<Condition>,
    pub timeout: Duration,
    pub on_failure: Policy,
    /// Told to the agent with the task, as the original did.
    pub max_retries: u32,
    /// A blackboard key (with `{field}`s of the trigger's payload) the result is written to.
    pub promote: Option<String>,
}

/// Where a step's input comes from (`input_from`).
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// `trigger.payload`, or a path into it (the default).
    Trigger(Vec<String>),
    /// `STEP`, `STEP.result`, or a path into the result.
    Step { step: String, path: Vec<String> },
    /// `blackboard://KEY`, with `{field}`s of the trigger's payload.
    Blackboard(String),
}

/// What happens when an attempt fails (`on_failure`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "policy", rename_all = "snake_case")]
pub enum Policy {
    /// The run fails (the default).
    Abort,
    /// The step counts as skipped and the run goes on.
    Skip,
    /// Up to `times` more attempts, after 1 s, 2 s, 4 s … (capped).
    Retry { times: u32 },
    /// One more attempt on `agent`.
    Fallback { agent: String },
}

impl Workflow {
    pub fn step(&self, id: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.id == id)
    }

    /// Every agent a step of this workflow may run on.
    pub fn agents(&self) -> impl Iterator<Item = &str> {
        self.steps.iter().flat_map(|s| {
            std::iter::once(s.agent.as_str()).chain(match &s.on_failure {
                Policy::Fallback { agent } => Some(agent.as_str()),
                _ => None,
            })
        })
    }
}

impl Input {
    /// How it is written in a file.
    pub fn describe(&self) -> String {
        let join = |root: &str, path: &[String]| {
            std::iter::once(root)
                .chain(path.iter().map(String::as_str))
                .collect::<Vec<_>>()
                .join(".")
        };
        match self {
            Input::Trigger(path) => join("trigger.payload", path),
            Input::Step { step, path } => join(&format!("{step}.result"), path),
            Input::Blackboard(key) => format!("blackboard://{key}"),
        }
    }
}
