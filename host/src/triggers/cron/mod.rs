//! Cron: jobs in `config/cron.json` that give an agent a turn on a schedule, and the
//! scheduler that fires them.
//!
//! - Each job fires through its agent's lane (origin `cron`, trusted) with
//!   [`Lanes::submit_once`] keyed by the job and the scheduled second, so a crash or restart
//!   never fires one occurrence twice; its state (`last_run`, `next_run`, `run_count`,
//!   `error_count`, `last_error`) is written back to cron.json after each fire.
//! - A job missed while the mesh was down (its `next_run` is past at start) runs once at
//!   start if `catch_up` (the default), or is skipped.
//! - A broken job (bad expression or zone, unknown agent, a `tool_name` job) is logged,
//!   disabled with its `last_error`, and never stops the scheduler; each fire runs in its
//!   own task, so a slow one delays no other.
//! - cron.json is re-read when it changes (the CLI edits it while the mesh runs); a
//!   malformed edit is reported and the jobs in force stay, and the file is not written
//!   over until it is fixed.
//!
//! Heartbeat jobs (`heartbeat: true`) are fired here too; what a heartbeat does is
//! [`super::heartbeat`]'s.

pub mod file;
pub mod http;
mod jobs;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use openlegion_protocol::{AgentId, CronJob, Origin, OriginKind};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub use file::{CRON_FILE, CronFile, CronLock};

use super::heartbeat::{Beat, Heartbeats};
use crate::config::{AgentsFile, ConfigError};
use crate::lanes::{LaneError, Lanes, Submission, Work};
use crate::mesh::Registry;

/// How often the scheduler looks for edits of cron.json and agents.yaml when no job is
/// due sooner.
const POLL: Duration = Duration::from_secs(1);

/// How long a fire may take to reach the lane before it counts as failed.
const SUBMIT_TIMEOUT: Duration = Duration::from_secs(10);

/// Jobs one agent may have (the original's default cap).
pub const MAX_JOBS_PER_AGENT: usize = 50;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CronError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// cron.json on disk does not parse: edits wait until it is fixed.
    #[error("{0} (fix cron.json first: the mesh keeps the jobs it had and writes nothing)")]
    Malformed(String),
    #[error("no cron job {key:?}")]
    UnknownJob { key: String },
    #[error(transparent)]
    Schedule(#[from] super::ScheduleError),
    #[error("no agent {agent:?}")]
    UnknownAgent { agent: String },
    #[error("{agent} has {MAX_JOBS_PER_AGENT} cron jobs, the most one agent may have")]
    TooMany { agent: String },
    #[error("another job is named {name:?}")]
    NameTaken { name: String },
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Lane(#[from] LaneError),
    #[error("the scheduler task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// Why the jobs are being looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// The mesh starts: runs missed while it was down are caught up or skipped.
    Start,
    /// A re-read or the scheduler's own bookkeeping.
    Refresh,
    /// A user's edit: refused while cron.json on disk is malformed.
    Edit,
}

/// The cron service: the jobs in force and the scheduler over them.
#[derive(Debug)]
pub struct Cron {
    config_dir: PathBuf,
    state: Mutex<jobs::State>,
    wake: Notify,
    lanes: Arc<Lanes>,
    registry: Arc<Registry>,
    heartbeats: Arc<Heartbeats>,
    shutdown: CancellationToken,
}

impl Cron {
    /// Reads cron.json of `config_dir` (before the mesh opens: a malformed file stops the
    /// start with its error, nothing running and nothing written).
    pub fn load(config_dir: &Path) -> Result<CronFile, ConfigError> {
        let _lock = CronLock::take(config_dir)?;
        file::load(&file::path(config_dir))
    }

    /// The service over `jobs` (from [`load`](Self::load)); heartbeats of `agents` are
    /// added or updated. Call [`start`](Self::start) to begin firing.
    pub fn new(
        config_dir: &Path,
        jobs: CronFile,
        agents: &AgentsFile,
        lanes: Arc<Lanes>,
        registry: Arc<Registry>,
        heartbeats: Arc<Heartbeats>,
        shutdown: CancellationToken,
    ) -> Arc<Self> {
        let path = file::path(config_dir);
        let state = jobs::State::new(&path, jobs, agents, config_dir);
        Arc::new(Self {
            config_dir: config_dir.to_owned(),
            state: Mutex::new(state),
            wake: Notify::new(),
            lanes,
            registry,
            heartbeats,
            shutdown,
        })
    }

    /// Checks every job (missed runs caught up or skipped, broken ones disabled), writes
    /// the result, then runs the scheduler until shutdown.
    pub async fn start(self: &Arc<Self>) -> Result<(), CronError> {
        let me = Arc::clone(self);
        tokio::task::spawn_blocking(move || me.transact(Mode::Start, |_, _| Ok(()))).await??;
        tokio::spawn(Arc::clone(self).run());
        Ok(())
    }

    fn known(&self, agent: &str) -> bool {
        self.registry.exists(agent)
    }

    /// Under the file lock: re-reads cron.json (and agents.yaml's heartbeats) if changed,
    /// applies `f`, checks every job, and writes the file if anything changed.
    fn transact<R>(
        &self,
        mode: Mode,
        f: impl FnOnce(&mut CronFile, DateTime<Utc>) -> Result<R, CronError>,
    ) -> Result<R, CronError> {
        let _lock = CronLock::take(&self.config_dir)?;
        let mut state = self.state.lock().expect("cron lock");
        let now = Utc::now();
        state.refresh();
        if mode == Mode::Edit
            && let Some(e) = state.malformed()
        {
            return Err(CronError::Malformed(e));
        }
        let before = state.file.clone();
        let out = f(&mut state.file, now);
        state.reconcile_heartbeats();
        let configured = state.configured();
        let known = |a: &str| self.known(a) || configured.contains(a);
        jobs::check(&mut state.file, now, mode == Mode::Start, &known);
        if state.file != before {
            state.save();
        }
        self.wake.notify_one();
        out
    }

    /// Runs `f` on the jobs and saves them; refused while cron.json on disk is malformed.
    async fn edit<R: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut CronFile, DateTime<Utc>) -> Result<R, CronError> + Send + 'static,
    ) -> Result<R, CronError> {
        let me = Arc::clone(self);
        tokio::task::spawn_blocking(move || me.transact(Mode::Edit, f)).await?
    }

    /// Every job (of `agent` only, if given).
    pub fn list(&self, agent: Option<&str>) -> Vec<CronJob> {
        let state = self.state.lock().expect("cron lock");
        state
            .file
            .jobs
            .iter()
            .filter(|j| agent.is_none_or(|a| j.agent == a))
            .cloned()
            .collect()
    }

    /// Adds `job`, or replaces the job with its id keeping its run history. Checks the
    /// schedule, the agent and the per-agent cap; returns the job as stored.
    pub async fn put(self: &Arc<Self>, mut job: CronJob) -> Result<CronJob, CronError> {
        let schedule = super::Schedule::parse(&job.schedule, job.timezone.as_deref())?;
        if !self.known(&job.agent) {
            return Err(CronError::UnknownAgent { agent: job.agent });
        }
        if job.tool_name.is_some() {
            return Err(CronError::Invalid(
                "tool_name jobs are not supported: give the job a message".into(),
            ));
        }
        self.edit(move |jobs, now| {
            if let Some(name) = &job.name
                && jobs.jobs.iter().any(|j| j.id != job.id && j.is_named(name))
            {
                return Err(CronError::NameTaken { name: name.clone() });
            }
            job.next_run = jobs::first_run(&schedule, now);
            job.last_error = None;
            match jobs.jobs.iter_mut().find(|j| j.id == job.id) {
                Some(old) => {
                    job.last_run = old.last_run;
                    job.run_count = old.run_count;
                    job.error_count = old.error_count;
                    *old = job.clone();
                }
                None => {
                    let n = jobs.jobs.iter().filter(|j| j.agent == job.agent).count();
                    if n >= MAX_JOBS_PER_AGENT {
                        return Err(CronError::TooMany { agent: job.agent });
                    }
                    jobs.jobs.push(job.clone());
                }
            }
            Ok(job)
        })
        .await
    }

    /// Removes the job named `key` (id or name); returns it.
    pub async fn remove(self: &Arc<Self>, key: &str) -> Result<CronJob, CronError> {
        let key = key.to_owned();
        self.edit(move |jobs, _| {
            let i = jobs
                .jobs
                .iter()
                .position(|j| j.is_named(&key))
                .ok_or(CronError::UnknownJob { key })?;
            Ok(jobs.jobs.remove(i))
        })
        .await
    }

    /// The job named `key`.
    pub fn get(&self, key: &str) -> Result<CronJob, CronError> {
        self.state
            .lock()
            .expect("cron lock")
            .file
            .find(key)
            .cloned()
            .ok_or_else(|| CronError::UnknownJob { key: key.into() })
    }

    /// Fires the job named `key` now, outside its schedule (its `next_run` stays); returns
    /// the lane item's id (`None`: a heartbeat that found nothing to do).
    pub async fn run_now(self: &Arc<Self>, key: &str) -> Result<Option<String>, CronError> {
        let job = self.get(key)?;
        let now = Utc::now();
        let item = format!("cron_{}_now_{}", job.id, now.timestamp_micros());
        let fired = self.fire_job(&job, now, &item).await;
        self.record(&job.id, None, &fired).await;
        fired
    }

    async fn run(self: Arc<Self>) {
        let in_flight = Arc::new(Mutex::new(HashSet::<String>::new()));
        loop {
            if self.shutdown.is_cancelled() {
                return;
            }
            let changed = self.state.lock().expect("cron lock").changed_on_disk();
            if changed {
                let me = Arc::clone(&self);
                match tokio::task::spawn_blocking(move || me.transact(Mode::Refresh, |_, _| Ok(())))
                    .await
                {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => tracing::error!(error = %e, "cron.json not re-read"),
                    Err(e) => tracing::error!(error = %e, "cron.json not re-read"),
                }
            }
            let now = Utc::now();
            let jobs::Due { jobs: due, next } = {
                let state = self.state.lock().expect("cron lock");
                let busy = in_flight.lock().expect("cron lock");
                jobs::due(&state.file, now, &busy)
            };
            for (job, scheduled) in due {
                in_flight.lock().expect("cron lock").insert(job.id.clone());
                let me = Arc::clone(&self);
                let in_flight = Arc::clone(&in_flight);
                tokio::spawn(async move {
                    let item = format!("cron_{}_{}", job.id, scheduled.timestamp());
                    let fired = me.fire_job(&job, scheduled, &item).await;
                    me.record(&job.id, Some(scheduled), &fired).await;
                    in_flight.lock().expect("cron lock").remove(&job.id);
                    me.wake.notify_one();
                });
            }
            let pause = next
                .and_then(|t| (t - Utc::now()).to_std().ok())
                .map_or(POLL, |d| d.min(POLL));
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = self.wake.notified() => {}
                () = self.shutdown.cancelled() => return,
            }
        }
    }

    /// Sends one occurrence of `job` to its agent's lane as item `item`.
    async fn fire_job(
        &self,
        job: &CronJob,
        scheduled: DateTime<Utc>,
        item: &str,
    ) -> Result<Option<String>, CronError> {
        let agent = AgentId::parse(&job.agent)
            .ok()
            .filter(|a| self.known(a.as_str()))
            .ok_or_else(|| CronError::UnknownAgent {
                agent: job.agent.clone(),
            })?;
        let message = if job.heartbeat {
            match self.heartbeats.beat(job, scheduled).await {
                Beat::Quiet => return Ok(None),
                Beat::Act { message } => message,
                Beat::Failed { error } => return Err(CronError::Invalid(error)),
            }
        } else {
            job.message.clone()
        };
        let kind = if job.heartbeat {
            OriginKind::Heartbeat
        } else {
            OriginKind::Cron
        };
        let source = job.name.clone().unwrap_or_else(|| job.id.clone());
        let submission = Submission {
            agent,
            work: Work::Chat { message },
            origin: Origin::new(kind, source),
        };
        match tokio::time::timeout(SUBMIT_TIMEOUT, self.lanes.submit_once(item, submission)).await {
            Ok(Ok(fresh)) => {
                if !fresh {
                    tracing::info!(job = %job.id, item, "already fired before the restart");
                }
                Ok(Some(item.to_owned()))
            }
            Ok(Err(e)) => Err(e.into()),
            Err(_) => Err(CronError::Invalid(format!(
                "the lane did not take the job within {SUBMIT_TIMEOUT:?}"
            ))),
        }
    }

    /// Writes back what a fire did: `scheduled` is the occurrence (its successor becomes
    /// `next_run`), `None` for a run outside the schedule.
    async fn record(
        self: &Arc<Self>,
        id: &str,
        scheduled: Option<DateTime<Utc>>,
        fired: &Result<Option<String>, CronError>,
    ) {
        let (id, error) = (id.to_owned(), fired.as_ref().err().map(ToString::to_string));
        let unknown_agent = matches!(fired, Err(CronError::UnknownAgent { .. }));
        match &error {
            Some(e) => tracing::warn!(job = %id, error = %e, "cron job failed"),
            None => tracing::debug!(job = %id, "cron job fired"),
        }
        let me = Arc::clone(self);
        let done = tokio::task::spawn_blocking(move || {
            me.transact(Mode::Refresh, move |jobs, now| {
                if let Some(job) = jobs.jobs.iter_mut().find(|j| j.id == id) {
                    jobs::after_fire(job, scheduled, now, error, unknown_agent);
                }
                Ok(())
            })
        })
        .await;
        if let Err(e) = done.map_err(CronError::from).and_then(|r| r) {
            tracing::error!(error = %e, "cannot record a cron run");
        }
    }
}
