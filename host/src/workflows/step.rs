//! One step of a run, attempt after attempt: its input, its task in the agent's lane, the
//! wait for the outcome under the step's timeout, the failure policy, and the blackboard
//! promotions of its result.
//!
//! Every attempt's state is written before it acts: the lane item's id is recorded, then
//! the item is queued under that id (`submit_once`, idempotent). After a crash the step is
//! found `running` with its item, which the lanes queued again at the restart (at-least-
//! once), and the step waits for that item instead of queueing another; an item that
//! had finished is not run again. A `waiting` step (between retries) resumes its backoff.
//!
//! Failures of the step itself — its input cannot be read, its result cannot be promoted —
//! would fail the same way on any agent, so they are not retried and have no fallback:
//! the step is skipped under `skip` and fails otherwise.

use std::sync::Arc;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use openlegion_protocol::{AgentId, Origin, OriginKind, TaskAssignment, TaskStatus, new_id};
use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;

use super::definition::{Input, Policy, Step};
use super::inputs::{as_object, fill, resolve};
use super::run::Run;
use super::runs::StepRow;
use crate::auth::Caller;
use crate::lanes::{LaneError, Outcome, Submission, Work};
use crate::mesh::MeshError;
use crate::store::{StoreError, now_micros};

/// The longest wait between two attempts under `retry`.
pub const RETRY_CAP: Duration = Duration::from_secs(60);

/// The agent's own timeout for a task is the step's plus this, so the mesh's timer, which
/// cancels the task, always fires first.
const AGENT_GRACE: u64 = 5;

/// How long a cancelled task gets to end before the step moves on.
const CANCEL_GRACE: Duration = Duration::from_secs(15);

/// How soon a task refused by a full lane is offered again.
const LANE_RETRY: Duration = Duration::from_secs(1);

/// How a step ended, for the run.
pub(super) enum StepEnd {
    /// Complete or skipped.
    Done(StepRow),
    /// Failed under its policy: the run fails.
    Failed(StepRow, String),
    /// The run is stopping (ended early, or the mesh is shutting down).
    Stopped,
}

enum Failure {
    /// The attempt failed: the policy decides.
    Attempt(String),
    /// The step cannot run as configured: no retry, no fallback.
    Setup(String),
    Stopped,
    Store(StoreError),
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::Store(e)
    }
}

/// The delay before retry number `n` (0-based): 1 s, 2 s, 4 s … up to [`RETRY_CAP`].
pub fn retry_delay(n: u32) -> Duration {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_secs(1))
        .with_factor(2.0)
        .with_max_delay(RETRY_CAP)
        .without_max_times()
        .build()
        .nth(n as usize)
        .unwrap_or(RETRY_CAP)
}

struct Driver {
    run: Arc<Run>,
    index: usize,
    env: Value,
    stop: CancellationToken,
}

/// Drives step `index` of `run` from state `row` to its end. `env` holds the trigger and
/// the steps that ended before it; `note` goes into the log with the first attempt.
pub(super) async fn drive(
    run: Arc<Run>,
    index: usize,
    row: StepRow,
    env: Value,
    stop: CancellationToken,
    note: Option<String>,
) -> (String, StepEnd) {
    let id = run.wf.steps[index].id.clone();
    let driver = Driver {
        run,
        index,
        env,
        stop,
    };
    (id, driver.go(row, note).await)
}

impl Driver {
    fn step(&self) -> &Step {
        &self.run.wf.steps[self.index]
    }

    async fn go(&self, mut row: StepRow, mut note: Option<String>) -> StepEnd {
        loop {
            if row.status == "waiting"
                && let Some(at) = row.next_at
            {
                let wait = Duration::from_micros((at - now_micros()).max(0) as u64);
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = self.stop.cancelled() => return StepEnd::Stopped,
                    () = self.run.svc.shutdown.cancelled() => return StepEnd::Stopped,
                }
            }
            let agent = row
                .agent
                .clone()
                .unwrap_or_else(|| self.step().agent.clone());
            let failure = match self.attempt(&mut row, &agent, note.take()).await {
                Ok((result, promotions)) => {
                    match self.promote(&agent, &result, &promotions).await {
                        Ok(keys) => return self.complete(row, result, keys).await,
                        Err(e) => Failure::Setup(e),
                    }
                }
                Err(f) => f,
            };
            match self.after(&mut row, failure).await {
                Some(end) => return end,
                None => continue,
            }
        }
    }

    /// One attempt (or the attempt found in flight after a restart): the result and the
    /// agent's own promotions.
    async fn attempt(
        &self,
        row: &mut StepRow,
        agent: &str,
        note: Option<String>,
    ) -> Result<(Map<String, Value>, Map<String, Value>), Failure> {
        let svc = &self.run.svc;
        let _slot = tokio::select! {
            slot = Arc::clone(&svc.slots).acquire_owned() => slot.map_err(|_| Failure::Stopped)?,
            () = self.stop.cancelled() => return Err(Failure::Stopped),
        };
        let resumed = row.status == "running" && row.lane_item.is_some();
        let mut input = None;
        if !resumed {
            if !svc.mesh.registry.exists(agent) {
                row.attempts += 1;
                row.agent = Some(agent.to_owned());
                return Err(Failure::Attempt(format!(
                    "agent {agent} is not in the fleet"
                )));
            }
            input = Some(self.input(agent).await.map_err(Failure::Setup)?);
            row.status = "running".into();
            row.attempts += 1;
            row.agent = Some(agent.to_owned());
            row.lane_item = Some(new_id("lane", 16));
            row.next_at = None;
            row.error = None;
            let mut line = format!("attempt {} on agent {agent}", row.attempts);
            if let Some(note) = note {
                line = format!("{note}; {line}");
            }
            self.run.save(row, Some(line)).await?;
        } else {
            self.run
                .log(
                    Some(&row.step_id),
                    format!(
                        "the mesh restarted during attempt {}: waiting for its task again",
                        row.attempts
                    ),
                )
                .await;
        }
        let item = row.lane_item.clone().expect("set above");
        let lanes = &svc.mesh.lanes;
        let known = resumed
            && match lanes.ticket(&item).await {
                Ok(t) => {
                    drop(t);
                    true
                }
                Err(LaneError::UnknownItem { .. }) => false,
                Err(e) => return Err(Failure::Attempt(e.to_string())),
            };
        if !known {
            let input = match input {
                Some(i) => i,
                None => self.input(agent).await.map_err(Failure::Setup)?,
            };
            self.submit(&item, agent, input).await?;
        }
        row.dispatched_at = Some(now_micros());
        let ticket = lanes
            .ticket(&item)
            .await
            .map_err(|e| Failure::Attempt(e.to_string()))?;
        let outcome = ticket.outcome();
        tokio::pin!(outcome);
        let timeout = self.step().timeout;
        let ended = tokio::select! {
            o = &mut outcome => o,
            () = tokio::time::sleep(timeout) => {
                let _ = lanes.cancel(&item).await;
                let _ = tokio::time::timeout(CANCEL_GRACE, &mut outcome).await;
                return Err(Failure::Attempt(format!(
                    "timed out after {} s; the agent's task was cancelled",
                    timeout.as_secs()
                )));
            }
            () = self.stop.cancelled() => {
                let _ = lanes.cancel(&item).await;
                let _ = tokio::time::timeout(CANCEL_GRACE, &mut outcome).await;
                return Err(Failure::Stopped);
            }
            () = svc.shutdown.cancelled() => return Err(Failure::Stopped),
        };
        match ended {
            Outcome::Completed { result } if result.status == TaskStatus::Complete => Ok((
                result.result.unwrap_or_default(),
                result.promote_to_blackboard,
            )),
            Outcome::Completed { result } => {
                let status = serde_json::to_value(result.status).unwrap_or_default();
                Err(Failure::Attempt(format!(
                    "the task ended {}: {}",
                    status.as_str().unwrap_or("badly"),
                    result.error.as_deref().unwrap_or("no reason given")
                )))
            }
            Outcome::Failed { error } => Err(Failure::Attempt(error)),
            Outcome::Cancelled => Err(Failure::Attempt("the task was cancelled".into())),
            Outcome::Replied { .. } => Err(Failure::Attempt(
                "the agent answered a chat turn, not a task".into(),
            )),
        }
    }

    /// Queues the task under `item`, waiting while the lane is full.
    async fn submit(
        &self,
        item: &str,
        agent: &str,
        input: Map<String, Value>,
    ) -> Result<(), Failure> {
        let step = self.step();
        let run = &self.run;
        let sub = Submission {
            agent: AgentId::parse(agent).map_err(|e| Failure::Attempt(e.to_string()))?,
            work: Work::Task {
                task: Box::new(TaskAssignment {
                    task_id: new_id("task", 12),
                    workflow_id: run.id.clone(),
                    step_id: step.id.clone(),
                    task_type: step.task_type.clone(),
                    input_data: input,
                    context: Map::new(),
                    timeout: step.timeout.as_secs() + AGENT_GRACE,
                    max_retries: step.max_retries,
                    origin: None,
                }),
            },
            origin: Origin {
                kind: OriginKind::Workflow,
                source: format!("{}/{}", run.wf.name, step.id),
                trusted: run.trigger.trusted,
            },
        };
        let mut told = false;
        loop {
            match run.svc.mesh.lanes.submit_once(item, sub.clone()).await {
                Ok(_) => return Ok(()),
                Err(LaneError::Full { agent, max }) => {
                    if !told {
                        told = true;
                        run.log(
                            Some(&step.id),
                            format!("the lane of {agent} is full ({max} items): waiting"),
                        )
                        .await;
                    }
                    tokio::select! {
                        () = tokio::time::sleep(LANE_RETRY) => {}
                        () = self.stop.cancelled() => return Err(Failure::Stopped),
                        () = run.svc.shutdown.cancelled() => return Err(Failure::Stopped),
                    }
                }
                Err(LaneError::Store(e)) => return Err(Failure::Store(e)),
                Err(e) => return Err(Failure::Attempt(e.to_string())),
            }
        }
    }

    /// The step's input (`input_from`), read as the step's agent.
    async fn input(&self, agent: &str) -> Result<Map<String, Value>, String> {
        let step = self.step();
        let Input::Blackboard(template) = &step.input else {
            return resolve(&step.input, &self.env)
                .map_err(|e| format!("input_from {}: {e}", step.input.describe()));
        };
        let key = fill(template, &self.run.trigger.payload)
            .map_err(|e| format!("input_from blackboard://{template}: {e}"))?;
        let caller = Caller::Agent(AgentId::parse(agent).map_err(|e| e.to_string())?);
        match self.run.svc.mesh.blackboard.get(&caller, key.clone()).await {
            Ok(entry) => Ok(entry.value),
            Err(MeshError::KeyNotFound { .. }) => {
                self.run
                    .log(
                        Some(&step.id),
                        format!("input_from blackboard://{key}: no such key, the input is empty"),
                    )
                    .await;
                Ok(Map::new())
            }
            Err(e) => Err(format!("input_from blackboard://{key}: {e}")),
        }
    }

    /// Writes the agent's promotions and the step's `promote_to_blackboard`, as the agent.
    async fn promote(
        &self,
        agent: &str,
        result: &Map<String, Value>,
        promotions: &Map<String, Value>,
    ) -> Result<Vec<String>, String> {
        let caller = Caller::Agent(AgentId::parse(agent).map_err(|e| e.to_string())?);
        let mut writes: Vec<(String, Map<String, Value>)> = promotions
            .iter()
            .map(|(k, v)| (k.clone(), as_object(v.clone())))
            .collect();
        if let Some(template) = &self.step().promote {
            let key = fill(template, &self.run.trigger.payload)
                .map_err(|e| format!("promote_to_blackboard {template}: {e}"))?;
            writes.push((key, result.clone()));
        }
        let mut keys = Vec::with_capacity(writes.len());
        for (key, value) in writes {
            self.run
                .svc
                .mesh
                .blackboard
                .put(&caller, key.clone(), value, None)
                .await
                .map_err(|e| format!("promote_to_blackboard {key}: {e}"))?;
            keys.push(key);
        }
        Ok(keys)
    }

    async fn complete(
        &self,
        mut row: StepRow,
        result: Map<String, Value>,
        keys: Vec<String>,
    ) -> StepEnd {
        row.status = "complete".into();
        row.result = Some(Value::Object(result).to_string());
        row.error = None;
        row.next_at = None;
        row.finished_at = Some(now_micros());
        let mut line = format!("complete after {} attempt(s)", row.attempts);
        if !keys.is_empty() {
            line.push_str(&format!("; written to the blackboard: {}", keys.join(", ")));
        }
        match self.run.save(&row, Some(line)).await {
            Ok(()) => StepEnd::Done(row),
            Err(e) => StepEnd::Failed(row, format!("cannot record the result: {e}")),
        }
    }

    /// Applies the policy to a failure: `None` to try again, or how the step ends.
    async fn after(&self, row: &mut StepRow, failure: Failure) -> Option<StepEnd> {
        let (error, setup) = match failure {
            Failure::Stopped => return Some(StepEnd::Stopped),
            Failure::Store(e) => {
                return Some(StepEnd::Failed(
                    row.clone(),
                    format!("cannot record the step: {e}"),
                ));
            }
            Failure::Attempt(e) => (e, false),
            Failure::Setup(e) => (e, true),
        };
        let now = now_micros();
        let agent = row.agent.clone().unwrap_or_default();
        row.error = Some(error.clone());
        let (line, again) = match &self.step().on_failure {
            Policy::Retry { times } if !setup && row.attempts <= *times => {
                let delay = retry_delay(row.attempts - 1);
                row.status = "waiting".into();
                row.next_at = Some(now + delay.as_micros() as i64);
                let line = format!(
                    "attempt {} failed: {error}; retry {} of {times} in {} s",
                    row.attempts,
                    row.attempts,
                    delay.as_secs()
                );
                (line, true)
            }
            Policy::Fallback { agent: fallback } if !setup && agent != *fallback => {
                row.status = "waiting".into();
                row.next_at = Some(now);
                row.agent = Some(fallback.clone());
                let line = format!(
                    "attempt {} on {agent} failed: {error}; falling back to agent {fallback}",
                    row.attempts
                );
                (line, true)
            }
            Policy::Skip => {
                row.status = "skipped".into();
                row.result = Some(
                    json!({"skipped": true, "reason": "step_failed", "error": error}).to_string(),
                );
                row.finished_at = Some(now);
                (
                    format!("failed: {error}; skipped (on_failure: skip)"),
                    false,
                )
            }
            _ => {
                row.status = "failed".into();
                row.finished_at = Some(now);
                (format!("failed: {error}"), false)
            }
        };
        if let Err(e) = self.run.save(row, Some(line)).await {
            return Some(StepEnd::Failed(
                row.clone(),
                format!("cannot record the step: {e}"),
            ));
        }
        match (again, row.status.as_str()) {
            (true, _) => None,
            (false, "skipped") => Some(StepEnd::Done(row.clone())),
            (false, _) => Some(StepEnd::Failed(row.clone(), error)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_wait_1_2_4_seconds_up_to_the_cap() {
        let delays: Vec<u64> = (0..9).map(|n| retry_delay(n).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(retry_delay(1000), RETRY_CAP);
    }
}
