//! Runs as the API shows them: `GET /mesh/workflows/runs/{id}` (the run, every step's
//! state, attempts, timing, result or error, and the log) and the run lists.

use serde_json::{Value, json};

use super::runs::{self, LogLine, RunRow, StepRow};
use super::{WorkflowError, Workflows};
use crate::store::{StoreError, from_micros};

fn time(micros: Option<i64>) -> Value {
    micros.map_or(Value::Null, |m| {
        json!(from_micros(m).to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
    })
}

fn parsed(text: Option<&str>) -> Value {
    text.map_or(Value::Null, |t| {
        serde_json::from_str(t).unwrap_or_else(|_| json!(t))
    })
}

fn step_json(s: &StepRow) -> Value {
    json!({
        "id": s.step_id,
        "status": s.status,
        "agent": s.agent,
        "attempts": s.attempts,
        "lane_item": s.lane_item,
        "dispatched_at": time(s.dispatched_at),
        "finished_at": time(s.finished_at),
        "next_attempt_at": time(s.next_at),
        "result": parsed(s.result.as_deref()),
        "error": s.error,
    })
}

/// A run without its steps and log.
pub(super) fn summary(r: &RunRow) -> Value {
    json!({
        "id": r.id,
        "workflow": r.workflow,
        "status": r.status,
        "error": r.error,
        "trigger": parsed(Some(&r.trigger)),
        "started_at": time(Some(r.started_at)),
        "deadline": time(Some(r.deadline)),
        "finished_at": time(r.finished_at),
    })
}

fn log_json(l: &LogLine) -> Value {
    json!({"at": time(Some(l.at)), "step": l.step, "message": l.message})
}

impl Workflows {
    /// Run `id` with its steps (in the workflow's order) and its log. `version` changes at
    /// every change of an active run, for `?since=`.
    pub async fn run_view(&self, id: &str) -> Result<Value, WorkflowError> {
        let version = self.version(id);
        let wanted = id.to_owned();
        let found = self
            .mesh
            .store
            .read(move |c| {
                let Some(run) = runs::get(c, &wanted)? else {
                    return Ok::<_, StoreError>(None);
                };
                Ok(Some((
                    run,
                    runs::steps(c, &wanted)?,
                    runs::log_lines(c, &wanted)?,
                )))
            })
            .await?;
        let (run, steps, log) =
            found.ok_or_else(|| WorkflowError::UnknownRun { id: id.to_owned() })?;
        let mut view = summary(&run);
        view["finished"] = json!(run.status != "running");
        view["version"] = json!(version);
        view["steps"] = steps.iter().map(step_json).collect();
        view["log"] = log.iter().map(log_json).collect();
        Ok(view)
    }

    /// The newest `limit` runs of workflow `name`, newest first.
    pub async fn runs_of(&self, name: &str, limit: u32) -> Result<Vec<Value>, WorkflowError> {
        let wanted = name.to_owned();
        let rows = self
            .mesh
            .store
            .read(move |c| runs::of_workflow(c, &wanted, limit))
            .await?;
        if rows.is_empty() && self.get(name).is_none() {
            return Err(WorkflowError::UnknownWorkflow {
                name: name.to_owned(),
            });
        }
        Ok(rows.iter().map(summary).collect())
    }

    /// How many runs are in progress, by workflow.
    pub fn active_counts(&self) -> std::collections::BTreeMap<String, usize> {
        let mut out = std::collections::BTreeMap::new();
        for a in self.active.lock().expect("active lock").values() {
            *out.entry(a.run.wf.name.clone()).or_insert(0) += 1;
        }
        out
    }
}
