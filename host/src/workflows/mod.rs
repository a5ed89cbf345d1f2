//! # Workflows
//!
//! YAML DAGs that chain agents (`config/workflows/*.yaml`, in the Python original's shape):
//! each step is a task for an agent, run in that agent's lane (so workflows and chat never
//! interleave inside one agent's turn) once the steps it depends on have ended, if its
//! condition holds, with a timeout and a failure policy (retry with backoff, skip, abort,
//! fallback to another agent). Runs start from a pub/sub topic, a webhook, the operator
//! (`openlegion workflow run`) or a schedule; they live in SQLite, so a run interrupted by a
//! crash resumes at the next start without running its completed steps again.
//!
//! - [`load`]: reading and validating the files (every error names file, line and field);
//! - [`condition`]: the condition language;
//! - [`run`] and [`step`]: the executor; [`runs`]: the run store;
//! - [`http`]: the routes; [`triggers`]: topics, webhooks and reloads.
//!
//! This module drives the mesh's services (lanes, blackboard, pub/sub) from outside; the
//! mesh knows it only through the listener and reload hook it registers.

pub mod condition;
mod dag;
pub mod definition;
mod file;
mod http;
mod inputs;
pub mod load;
mod run;
pub mod runs;
mod step;
#[cfg(test)]
mod tests;
mod triggers;
mod view;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use openlegion_protocol::new_id;
use tokio::sync::{Semaphore, watch};
use tokio_util::sync::CancellationToken;

pub use definition::{Input, Policy, Step, Triggers, Workflow};
pub use http::routes;
pub use inputs::Trigger;
pub use load::{WORKFLOWS_DIR, load_dir, load_text};
pub use step::{RETRY_CAP, retry_delay};

use crate::config::{AgentsFile, ConfigError};
use crate::mesh::Mesh;
use crate::store::{StoreError, now_micros};
use run::Run;
use runs::RunRow;

/// Runs in progress at once, mesh-wide; a trigger beyond it is refused (HTTP 429).
pub const MAX_ACTIVE_RUNS: usize = 1000;
/// Steps waiting on their agents at once, mesh-wide, whatever the runs.
pub const MAX_STEPS_IN_FLIGHT: usize = 256;

/// The workflows in force, by name.
pub type Definitions = BTreeMap<String, Arc<Workflow>>;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkflowError {
    /// (404)
    #[error("no workflow named {name}")]
    UnknownWorkflow { name: String },
    /// (404)
    #[error("no workflow run {id}")]
    UnknownRun { id: String },
    /// (429)
    #[error("{max} workflow runs are in progress; try again later")]
    TooManyRuns { max: usize },
    /// (409)
    #[error("run {id} has ended ({status})")]
    Ended { id: String, status: String },
    /// A stored run that cannot be read back. (500)
    #[error("workflow run {id} is damaged: {reason}")]
    Damaged { id: String, reason: String },
    /// (500)
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A run that was asked for: new, or the one an earlier delivery of the same event started.
#[derive(Debug, Clone, PartialEq)]
pub struct Started {
    pub run_id: String,
    pub duplicate: bool,
}

/// The live side of a run in progress.
#[derive(Debug)]
struct Active {
    run: Arc<Run>,
}

/// The workflow service.
#[derive(Debug)]
pub struct Workflows {
    mesh: Arc<Mesh>,
    config_dir: PathBuf,
    defs: RwLock<Arc<Definitions>>,
    active: Mutex<HashMap<String, Active>>,
    slots: Arc<Semaphore>,
    shutdown: CancellationToken,
}

/// Loads the workflows of `config_dir` against `agents` (agents.yaml), before the mesh
/// opens, so a broken file stops the start with its error and nothing running.
pub fn load(config_dir: &std::path::Path, agents: &AgentsFile) -> Result<Definitions, ConfigError> {
    let known = |id: &str| {
        openlegion_protocol::AgentId::parse(id).is_ok_and(|a| agents.agents.contains_key(&a))
    };
    load_dir(config_dir, &known)
}

impl Workflows {
    /// The service over `defs`: resumes the runs the last mesh left running, and listens
    /// to pub/sub and reloads.
    pub async fn open(
        defs: Definitions,
        mesh: Arc<Mesh>,
        config_dir: PathBuf,
        shutdown: CancellationToken,
    ) -> Result<Arc<Self>, WorkflowError> {
        let svc = Arc::new(Self {
            mesh: Arc::clone(&mesh),
            config_dir,
            defs: RwLock::new(Arc::new(defs)),
            active: Mutex::new(HashMap::new()),
            slots: Arc::new(Semaphore::new(MAX_STEPS_IN_FLIGHT)),
            shutdown,
        });
        let orphans = mesh.store.write(runs::orphaned_items).await?;
        for item in orphans {
            let _ = mesh.lanes.cancel(&item).await;
        }
        let running = mesh.store.read(runs::running).await?;
        if !running.is_empty() {
            tracing::warn!(
                runs = running.len(),
                "workflow runs interrupted by the last stop resume"
            );
        }
        for row in running {
            svc.resume(row).await?;
        }
        triggers::install(&svc);
        Ok(svc)
    }

    /// The workflows in force.
    pub fn definitions(&self) -> Arc<Definitions> {
        Arc::clone(&self.defs.read().expect("definitions lock"))
    }

    pub fn get(&self, name: &str) -> Option<Arc<Workflow>> {
        self.definitions().get(name).cloned()
    }

    /// Re-reads the files against `agents`; the caller puts the result in force with
    /// [`replace`](Self::replace). Runs in progress keep the definition they started with.
    pub fn reread(&self, agents: &AgentsFile) -> Result<Definitions, ConfigError> {
        load(&self.config_dir, agents)
    }

    pub fn replace(&self, defs: Definitions) {
        *self.defs.write().expect("definitions lock") = Arc::new(defs);
    }

    /// Starts a run of `name`. With `dedup` (an event or delivery id), a second request
    /// with the same key returns the first run instead of starting another.
    pub async fn start(
        self: &Arc<Self>,
        name: &str,
        trigger: Trigger,
        dedup: Option<String>,
    ) -> Result<Started, WorkflowError> {
        let wf = self
            .get(name)
            .ok_or_else(|| WorkflowError::UnknownWorkflow {
                name: name.to_owned(),
            })?;
        if self.active.lock().expect("active lock").len() >= MAX_ACTIVE_RUNS {
            return Err(WorkflowError::TooManyRuns {
                max: MAX_ACTIVE_RUNS,
            });
        }
        let now = now_micros();
        let row = RunRow {
            id: new_id("wfr", 16),
            workflow: wf.name.clone(),
            definition: wf.source.clone(),
            file: wf.file.display().to_string(),
            trigger: serde_json::to_string(&trigger).expect("a trigger serialises"),
            status: "running".into(),
            error: None,
            started_at: now,
            deadline: now.saturating_add(wf.timeout.as_micros() as i64),
            finished_at: None,
        };
        let steps: Vec<String> = wf.steps.iter().map(|s| s.id.clone()).collect();
        let line = format!("started by {} {}", trigger.kind, trigger.source);
        let stored = row.clone();
        let existing = self
            .mesh
            .store
            .write(move |c| {
                let ids: Vec<&str> = steps.iter().map(String::as_str).collect();
                let existing = runs::insert(c, &stored, dedup.as_deref(), &ids)?;
                if existing.is_none() {
                    runs::log(c, &stored.id, None, &line, stored.started_at)?;
                }
                Ok::<_, StoreError>(existing)
            })
            .await?;
        if let Some(run_id) = existing {
            return Ok(Started {
                run_id,
                duplicate: true,
            });
        }
        let rows = wf
            .steps
            .iter()
            .map(|s| runs::StepRow {
                step_id: s.id.clone(),
                status: "pending".into(),
                ..runs::StepRow::default()
            })
            .collect();
        tracing::info!(run = %row.id, workflow = %wf.name, trigger = %trigger.kind, "workflow run started");
        let id = row.id.clone();
        self.spawn(row, wf, trigger, rows);
        Ok(Started {
            run_id: id,
            duplicate: false,
        })
    }

    /// The run an earlier request with key `dedup` started, if it is still kept.
    async fn run_by_dedup(&self, dedup: &str) -> Result<Option<String>, WorkflowError> {
        let key = dedup.to_owned();
        Ok(self
            .mesh
            .store
            .read(move |c| runs::by_dedup(c, &key))
            .await?)
    }

    /// Picks up a run the last mesh left running, with the definition it started with.
    async fn resume(self: &Arc<Self>, row: RunRow) -> Result<(), WorkflowError> {
        let damaged = |reason: String| WorkflowError::Damaged {
            id: row.id.clone(),
            reason,
        };
        let parsed = serde_json::from_str::<Trigger>(&row.trigger)
            .map_err(|e| damaged(format!("its trigger: {e}")))
            .and_then(|t| {
                load_text(std::path::Path::new(&row.file), &row.definition, None)
                    .map(|w| (t, w))
                    .map_err(|e| damaged(format!("its definition: {e}")))
            });
        let (trigger, wf) = match parsed {
            Ok(v) => v,
            Err(e) => {
                tracing::error!(run = %row.id, error = %e, "cannot resume a workflow run");
                let (id, why) = (row.id.clone(), e.to_string());
                self.mesh
                    .store
                    .write(move |c| {
                        runs::cancel_open_steps(c, &id, now_micros())?;
                        runs::finish(c, &id, "failed", Some(&why), now_micros())
                    })
                    .await?;
                return Ok(());
            }
        };
        let id = row.id.clone();
        let steps = self.mesh.store.read(move |c| runs::steps(c, &id)).await?;
        tracing::info!(run = %row.id, workflow = %row.workflow, "workflow run resumed");
        self.spawn(row, Arc::new(wf), trigger, steps);
        Ok(())
    }

    fn spawn(
        self: &Arc<Self>,
        row: RunRow,
        wf: Arc<Workflow>,
        trigger: Trigger,
        steps: Vec<runs::StepRow>,
    ) {
        let run = Arc::new(Run {
            svc: Arc::clone(self),
            id: row.id.clone(),
            wf,
            trigger,
            deadline: row.deadline,
            cancel: CancellationToken::new(),
            version: watch::channel(0).0,
        });
        self.active.lock().expect("active lock").insert(
            row.id.clone(),
            Active {
                run: Arc::clone(&run),
            },
        );
        let svc = Arc::clone(self);
        tokio::spawn(async move {
            run::execute(Arc::clone(&run), steps).await;
            svc.active.lock().expect("active lock").remove(&run.id);
        });
    }

    /// Cancels run `id`: its steps in flight are cancelled on their agents.
    pub async fn cancel(&self, id: &str) -> Result<(), WorkflowError> {
        let active = self
            .active
            .lock()
            .expect("active lock")
            .get(id)
            .map(|a| Arc::clone(&a.run));
        if let Some(run) = active {
            run.cancel.cancel();
            return Ok(());
        }
        let wanted = id.to_owned();
        match self.mesh.store.read(move |c| runs::get(c, &wanted)).await? {
            None => Err(WorkflowError::UnknownRun { id: id.to_owned() }),
            Some(row) => Err(WorkflowError::Ended {
                id: id.to_owned(),
                status: row.status,
            }),
        }
    }

    /// Waits up to `timeout` for run `id` to end, or to change at all after `since`.
    pub async fn wait(&self, id: &str, since: Option<u64>, timeout: Duration) {
        let rx = self
            .active
            .lock()
            .expect("active lock")
            .get(id)
            .map(|a| a.run.version.subscribe());
        let Some(mut rx) = rx else { return };
        let _ = tokio::time::timeout(timeout, async {
            match since {
                // Ends when the run's sender is dropped (the run ended) or a change comes.
                Some(v) => {
                    let _ = rx.wait_for(|now| *now > v).await;
                }
                None => while rx.changed().await.is_ok() {},
            }
        })
        .await;
    }

    /// The version of an active run's state (`None` once it has ended).
    fn version(&self, id: &str) -> Option<u64> {
        self.active
            .lock()
            .expect("active lock")
            .get(id)
            .map(|a| *a.run.version.borrow())
    }
}
