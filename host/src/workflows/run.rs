//! One run, from its start (or its resumption after a restart) to its end: which steps
//! are ready, their conditions, the steps in flight (bounded by `max_parallel`), the run's
//! timeout and cancellation, and what is written when it ends.
//!
//! A step is ready once every step it depends on has ended complete or skipped (a failed
//! step ends the run unless its policy is `skip`). A condition that is false, or cannot be
//! evaluated, skips the step with `{"skipped": true, "reason": "condition_not_met"}` and the
//! reason in the run's log; the steps after it still run, as in the original. What one
//! attempt of a step does is in [`super::step`].

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use openlegion_protocol::MeshEvent;
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::Workflows;
use super::definition::Workflow;
use super::inputs::{Trigger, environment};
use super::runs::{self, StepRow};
use super::step::{self, StepEnd};
use crate::auth::Caller;
use crate::store::{StoreError, now_micros};

/// How long steps in flight get to cancel their agents' tasks when a run ends early.
const STOP_GRACE: Duration = Duration::from_secs(30);

/// A run in progress.
#[derive(Debug)]
pub(super) struct Run {
    pub(super) svc: Arc<Workflows>,
    pub(super) id: String,
    pub(super) wf: Arc<Workflow>,
    pub(super) trigger: Trigger,
    /// Unix microseconds.
    pub(super) deadline: i64,
    /// Cancelled by the operator.
    pub(super) cancel: CancellationToken,
    /// Bumped at every change, for those who wait on the run.
    pub(super) version: watch::Sender<u64>,
}

/// How a run ends.
enum End {
    Complete,
    Failed(String),
    Cancelled,
    TimedOut,
}

pub(super) fn terminal(status: &str) -> bool {
    matches!(status, "complete" | "skipped" | "failed" | "cancelled")
}

impl Run {
    /// Writes a step's state, with a line for the log, in one transaction.
    pub(super) async fn save(&self, row: &StepRow, line: Option<String>) -> Result<(), StoreError> {
        let (id, row, step) = (self.id.clone(), row.clone(), row.step_id.clone());
        self.svc
            .mesh
            .store
            .write(move |c| {
                runs::put_step(c, &id, &row)?;
                if let Some(line) = line {
                    runs::log(c, &id, Some(&step), &line, now_micros())?;
                }
                Ok::<_, StoreError>(())
            })
            .await?;
        self.bump();
        Ok(())
    }

    /// A line in the run's log.
    pub(super) async fn log(&self, step: Option<&str>, line: String) {
        let (id, step) = (self.id.clone(), step.map(str::to_owned));
        let written = self
            .svc
            .mesh
            .store
            .write(move |c| runs::log(c, &id, step.as_deref(), &line, now_micros()))
            .await;
        if let Err(e) = written {
            tracing::error!(run = %self.id, error = %e, "cannot write the run's log");
        }
        self.bump();
    }

    pub(super) fn bump(&self) {
        self.version.send_modify(|v| *v += 1);
    }

    fn shutdown(&self) -> &CancellationToken {
        &self.svc.shutdown
    }
}

/// Runs `run` to its end, from the step states `rows` (all pending for a new run).
pub(super) async fn execute(run: Arc<Run>, rows: Vec<StepRow>) {
    let mut states: HashMap<String, StepRow> =
        rows.into_iter().map(|r| (r.step_id.clone(), r)).collect();
    let mut tasks: JoinSet<(String, StepEnd)> = JoinSet::new();
    let mut launched: HashSet<String> = HashSet::new();
    let stop = CancellationToken::new();
    let wait = Duration::from_micros((run.deadline - now_micros()).max(0) as u64);
    let deadline = tokio::time::sleep(wait);
    tokio::pin!(deadline);
    let end = loop {
        if let Err(e) = launch(&run, &mut states, &mut tasks, &mut launched, &stop).await {
            break End::Failed(format!("cannot record the run: {e}"));
        }
        if tasks.is_empty() {
            break End::Complete;
        }
        tokio::select! {
            joined = tasks.join_next() => match joined {
                Some(Ok((id, StepEnd::Done(row)))) => {
                    launched.remove(&id);
                    states.insert(id, row);
                }
                Some(Ok((id, StepEnd::Failed(row, error)))) => {
                    states.insert(id.clone(), row);
                    break End::Failed(format!("step {id} failed: {error}"));
                }
                Some(Ok((id, StepEnd::Stopped))) => {
                    if run.shutdown().is_cancelled() {
                        return;
                    }
                    break End::Failed(format!("step {id} stopped unexpectedly"));
                }
                None => {}
                Some(Err(e)) => break End::Failed(format!("a step's task failed: {e}")),
            },
            () = run.cancel.cancelled() => break End::Cancelled,
            () = &mut deadline => break End::TimedOut,
            // Nothing is written: the run resumes at the next start.
            () = run.shutdown().cancelled() => return,
        }
    };
    finish(&run, end, tasks, stop, &states).await;
}

/// Launches every ready step (settling those whose condition is false) until nothing more
/// is ready or `max_parallel` steps are in flight.
async fn launch(
    run: &Arc<Run>,
    states: &mut HashMap<String, StepRow>,
    tasks: &mut JoinSet<(String, StepEnd)>,
    launched: &mut HashSet<String>,
    stop: &CancellationToken,
) -> Result<(), StoreError> {
    loop {
        let mut settled = false;
        for (index, step) in run.wf.steps.iter().enumerate() {
            if tasks.len() >= run.wf.max_parallel {
                return Ok(());
            }
            let row = &states[&step.id];
            if launched.contains(&step.id) || terminal(&row.status) {
                continue;
            }
            let ready = step
                .depends_on
                .iter()
                .all(|d| matches!(states[d].status.as_str(), "complete" | "skipped"));
            if !ready {
                continue;
            }
            let env = environment(
                &run.trigger,
                states.values().filter(|r| terminal(&r.status)),
            );
            let mut note = None;
            if let (Some(cond), "pending") = (&step.condition, row.status.as_str()) {
                let holds = cond.evaluate(&env);
                let why = match &holds {
                    Ok(true) => None,
                    Ok(false) => Some(format!("condition `{}` is false: skipped", cond.source())),
                    Err(miss) => Some(format!(
                        "condition `{}` cannot be evaluated, so it counts as false: {miss}; skipped",
                        cond.source()
                    )),
                };
                if let Some(why) = why {
                    let mut row = row.clone();
                    row.status = "skipped".into();
                    row.result =
                        Some(json!({"skipped": true, "reason": "condition_not_met"}).to_string());
                    row.finished_at = Some(now_micros());
                    run.save(&row, Some(why)).await?;
                    states.insert(step.id.clone(), row);
                    settled = true;
                    continue;
                }
                note = Some(format!("condition `{}` holds", cond.source()));
            }
            launched.insert(step.id.clone());
            tasks.spawn(step::drive(
                Arc::clone(run),
                index,
                row.clone(),
                env,
                stop.child_token(),
                note,
            ));
        }
        if !settled {
            return Ok(());
        }
    }
}

/// Ends the run: stops what is in flight (unless it completed), marks the steps that did
/// not end `cancelled`, records the run's status, and publishes `on_complete`.
async fn finish(
    run: &Arc<Run>,
    end: End,
    mut tasks: JoinSet<(String, StepEnd)>,
    stop: CancellationToken,
    states: &HashMap<String, StepRow>,
) {
    let (status, error) = match end {
        End::Complete => ("complete", None),
        End::Failed(e) => ("failed", Some(e)),
        End::Cancelled => ("cancelled", Some("cancelled by the operator".to_owned())),
        End::TimedOut => (
            "failed",
            Some(format!(
                "the run timed out after {} s",
                run.wf.timeout.as_secs()
            )),
        ),
    };
    if !tasks.is_empty() {
        stop.cancel();
        let drained = tokio::time::timeout(STOP_GRACE, async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tasks.abort_all();
        }
    }
    let (id, workflow, st, err) = (
        run.id.clone(),
        run.wf.name.clone(),
        status.to_owned(),
        error.clone(),
    );
    let written = run
        .svc
        .mesh
        .store
        .write(move |c| {
            let now = now_micros();
            let items = runs::cancel_open_steps(c, &id, now)?;
            runs::finish(c, &id, &st, err.as_deref(), now)?;
            let line = match &err {
                None => format!("run {st}"),
                Some(e) => format!("run {st}: {e}"),
            };
            runs::log(c, &id, None, &line, now)?;
            runs::prune(c, &workflow)?;
            Ok::<_, StoreError>(items)
        })
        .await;
    match written {
        Ok(items) => {
            for item in items {
                let _ = run.svc.mesh.lanes.cancel(&item).await;
            }
        }
        Err(e) => tracing::error!(run = %run.id, error = %e, "cannot record the end of a run"),
    }
    tracing::info!(run = %run.id, workflow = %run.wf.name, status, error = error.as_deref().unwrap_or(""), "workflow run ended");
    if status == "complete"
        && let Some(topic) = &run.wf.on_complete
    {
        publish_complete(run, topic, states).await;
    }
    run.bump();
}

/// Publishes `{"workflow_id", "workflow", "status", "results"}` on the `on_complete` topic.
async fn publish_complete(run: &Run, topic: &str, states: &HashMap<String, StepRow>) {
    let results: serde_json::Map<String, Value> = states
        .values()
        .map(|r| (r.step_id.clone(), super::inputs::step_record(r)))
        .collect();
    let event = MeshEvent {
        id: openlegion_protocol::new_id("evt", 12),
        topic: topic.to_owned(),
        source: String::new(),
        payload: serde_json::Map::from_iter([
            ("workflow_id".to_owned(), json!(run.id)),
            ("workflow".to_owned(), json!(run.wf.name)),
            ("status".to_owned(), json!("complete")),
            ("results".to_owned(), Value::Object(results)),
        ]),
        timestamp: chrono::Utc::now(),
    };
    if let Err(e) = run.svc.mesh.pubsub.publish(&Caller::Operator, event).await {
        run.log(None, format!("cannot publish on_complete to {topic}: {e}"))
            .await;
    }
}
