//! The jobs in force and the rules over them: what is due, what a fire changes, which jobs
//! are broken, how an edit on disk merges with the run state the mesh holds, and the
//! heartbeat jobs that agents.yaml asks for.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use openlegion_protocol::CronJob;

use super::file::{self, CronFile, Stamp, stamp};
use crate::config::{self, AgentsFile, HeartbeatConfig};
use crate::triggers::Schedule;

/// The prefix of the id of a heartbeat made from agents.yaml or by `set_heartbeat`.
pub(crate) const HEARTBEAT_PREFIX: &str = "heartbeat_";

#[derive(Debug)]
pub(super) struct State {
    path: PathBuf,
    /// The jobs in force (what the file held when last read, plus the run state since).
    pub(super) file: CronFile,
    stamp: Stamp,
    /// Why the file on disk does not parse, while it does not.
    malformed: Option<String>,
    agents_path: PathBuf,
    agents_stamp: Stamp,
    /// The agents of agents.yaml and their `heartbeat:`, as last read.
    agents: BTreeMap<String, Option<HeartbeatConfig>>,
}

impl State {
    pub(super) fn new(path: &Path, file: CronFile, agents: &AgentsFile, config_dir: &Path) -> Self {
        let agents_path = config_dir.join(config::AGENTS_FILE);
        Self {
            path: path.to_owned(),
            file,
            stamp: stamp(path),
            malformed: None,
            agents_stamp: stamp(&agents_path),
            agents_path,
            agents: heartbeats_of(agents),
        }
    }

    pub(super) fn malformed(&self) -> Option<String> {
        self.malformed.clone()
    }

    /// The agents of agents.yaml.
    pub(super) fn configured(&self) -> HashSet<String> {
        self.agents.keys().cloned().collect()
    }

    pub(super) fn changed_on_disk(&self) -> bool {
        stamp(&self.path) != self.stamp || stamp(&self.agents_path) != self.agents_stamp
    }

    /// Re-reads cron.json and agents.yaml where they changed since last read.
    pub(super) fn refresh(&mut self) {
        let now = stamp(&self.path);
        if now != self.stamp {
            match file::load(&self.path) {
                Ok(disk) => {
                    if self.malformed.take().is_some() {
                        tracing::info!(path = %self.path.display(), "cron.json is readable again");
                    }
                    self.file = merge(&self.file, disk);
                    tracing::info!(jobs = self.file.jobs.len(), "cron.json re-read");
                }
                Err(e) => {
                    tracing::error!(error = %e, "cron.json not re-read; the jobs in force stay and the file is not written until it is fixed");
                    self.malformed = Some(e.to_string());
                }
            }
            self.stamp = now;
        }
        let now = stamp(&self.agents_path);
        if now != self.agents_stamp {
            // A broken agents.yaml is the reload's to report; the heartbeats in force stay.
            if let Ok(agents) = config::load_agents(&self.agents_path) {
                self.agents = heartbeats_of(&agents);
            }
            self.agents_stamp = now;
        }
    }

    /// Writes the jobs (unless the file on disk is malformed: then it waits).
    pub(super) fn save(&mut self) {
        if self.malformed.is_some() {
            return;
        }
        match file::save(&self.path, &self.file) {
            Ok(()) => self.stamp = stamp(&self.path),
            Err(e) => tracing::error!(error = %e, "cannot write cron.json"),
        }
    }

    /// Makes the heartbeat jobs follow agents.yaml: one is added, or replaced, when the
    /// agent's `heartbeat:` differs from what was last applied from it (so what
    /// `set_heartbeat` set stays until agents.yaml changes), and removed with its
    /// `heartbeat:`.
    pub(super) fn reconcile_heartbeats(&mut self) {
        let jobs = &mut self.file.jobs;
        jobs.retain(|j| {
            j.from_config.is_none() || matches!(self.agents.get(&j.agent), Some(Some(_)))
        });
        for (agent, config) in &self.agents {
            let Some(config) = config else { continue };
            let applied = serde_json::to_string(config).expect("a heartbeat serialises");
            let id = format!("{HEARTBEAT_PREFIX}{agent}");
            match jobs.iter_mut().find(|j| j.id == id) {
                Some(job) if job.from_config.as_deref() == Some(applied.as_str()) => {}
                Some(job) => {
                    apply_heartbeat(job, config);
                    job.from_config = Some(applied);
                }
                None => {
                    let mut job = heartbeat_job(agent, config);
                    job.from_config = Some(applied);
                    job.created_by = Some("agents.yaml".into());
                    jobs.push(job);
                }
            }
        }
    }
}

fn heartbeats_of(agents: &AgentsFile) -> BTreeMap<String, Option<HeartbeatConfig>> {
    agents
        .agents
        .iter()
        .map(|(id, a)| (id.to_string(), a.heartbeat.as_ref().map(|h| h.0.clone())))
        .collect()
}

/// A new heartbeat job for `agent`.
pub(crate) fn heartbeat_job(agent: &str, config: &HeartbeatConfig) -> CronJob {
    let mut job = CronJob::new(agent, &config.schedule, "");
    job.id = format!("{HEARTBEAT_PREFIX}{agent}");
    job.heartbeat = true;
    apply_heartbeat(&mut job, config);
    job
}

pub(crate) fn apply_heartbeat(job: &mut CronJob, config: &HeartbeatConfig) {
    if job.schedule != config.schedule || job.timezone != config.timezone {
        job.next_run = None;
    }
    job.schedule = config.schedule.clone();
    job.timezone = config.timezone.clone();
    job.enabled = config.enabled;
    job.probes = config.probes.clone();
    job.message = config.rules.clone().unwrap_or_default();
    job.last_error = None;
}

/// The jobs re-read from disk, keeping the run state the mesh holds in memory: the later
/// `last_run`, the larger counts, and (for an unchanged schedule) the later `next_run`, so
/// an occurrence fired but not yet written is not fired again.
fn merge(memory: &CronFile, mut disk: CronFile) -> CronFile {
    for job in &mut disk.jobs {
        let Some(held) = memory.jobs.iter().find(|m| m.id == job.id) else {
            continue;
        };
        job.last_run = job.last_run.max(held.last_run);
        job.run_count = job.run_count.max(held.run_count);
        job.error_count = job.error_count.max(held.error_count);
        if held.schedule == job.schedule && held.timezone == job.timezone {
            job.next_run = job.next_run.max(held.next_run);
        }
    }
    disk
}

/// The first fire time of a new job: the next match of a cron expression, or one interval
/// from now (counted from the next whole second).
pub(crate) fn first_run(schedule: &Schedule, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    match schedule.interval() {
        Some(_) => schedule.next_after(ceil_second(now)),
        None => schedule.next_after(now),
    }
}

fn ceil_second(t: DateTime<Utc>) -> DateTime<Utc> {
    let secs = t.timestamp() + i64::from(t.timestamp_subsec_nanos() > 0);
    DateTime::from_timestamp(secs, 0).unwrap_or(t)
}

fn disable(job: &mut CronJob, why: String) {
    tracing::error!(job = %job.id, agent = %job.agent, error = %why, "cron job disabled");
    job.enabled = false;
    job.last_error = Some(why);
}

/// Checks every enabled job: disables the broken ones, gives new ones their `next_run`,
/// and at start skips the runs missed while the mesh was down for jobs without catch-up.
pub(super) fn check(
    file: &mut CronFile,
    now: DateTime<Utc>,
    at_start: bool,
    known: &dyn Fn(&str) -> bool,
) {
    for job in file.jobs.iter_mut().filter(|j| j.enabled) {
        if job.tool_name.is_some() {
            disable(
                job,
                "tool_name jobs are not supported by this mesh: give the job a message".into(),
            );
            continue;
        }
        let schedule = match Schedule::parse(&job.schedule, job.timezone.as_deref()) {
            Ok(s) => s,
            Err(e) => {
                disable(job, e.to_string());
                continue;
            }
        };
        if !known(&job.agent) {
            disable(job, format!("no agent {:?} in agents.yaml", job.agent));
            continue;
        }
        match job.next_run {
            None => job.next_run = first_run(&schedule, now),
            Some(missed) if at_start && missed < now && !job.catch_up => {
                tracing::info!(job = %job.id, missed = %missed, "run missed while the mesh was down skipped (catch_up: false)");
                job.next_run = schedule.next_after(now);
            }
            Some(missed) if at_start && missed < now => {
                tracing::info!(job = %job.id, missed = %missed, "run missed while the mesh was down runs now (catch_up)");
            }
            Some(_) => {}
        }
    }
}

/// What the scheduler does next: the jobs to fire now, and when to look again.
pub(super) struct Due {
    /// Each job due, with the time it was scheduled for.
    pub jobs: Vec<(CronJob, DateTime<Utc>)>,
    /// The earliest time another job is due.
    pub next: Option<DateTime<Utc>>,
}

/// The enabled jobs due at `now` that are not already running (with their scheduled
/// time), and the earliest time another job is due.
pub(super) fn due(file: &CronFile, now: DateTime<Utc>, busy: &HashSet<String>) -> Due {
    let mut due = Vec::new();
    let mut next: Option<DateTime<Utc>> = None;
    for job in file
        .jobs
        .iter()
        .filter(|j| j.enabled && !busy.contains(&j.id))
    {
        let Some(at) = job.next_run else { continue };
        if at <= now {
            due.push((job.clone(), at));
        } else {
            next = Some(next.map_or(at, |n| n.min(at)));
        }
    }
    Due { jobs: due, next }
}

/// What a fire changes: `last_run`, the counts, the error, and (for a scheduled
/// occurrence) `next_run`, the first occurrence after it that is still ahead.
pub(super) fn after_fire(
    job: &mut CronJob,
    scheduled: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    error: Option<String>,
    unknown_agent: bool,
) {
    job.last_run = Some(now);
    job.run_count += 1;
    match error {
        Some(e) => {
            job.error_count += 1;
            if unknown_agent {
                disable(job, e);
            } else {
                job.last_error = Some(e);
            }
        }
        None => job.last_error = None,
    }
    let Some(scheduled) = scheduled else { return };
    let Ok(schedule) = Schedule::parse(&job.schedule, job.timezone.as_deref()) else {
        return;
    };
    if job.next_run != Some(scheduled) {
        return; // edited while it fired: the edit's next_run stands
    }
    job.next_run = match schedule.next_after(scheduled) {
        Some(t) if t > now => Some(t),
        _ => first_run(&schedule, now),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn job(schedule: &str) -> CronJob {
        let mut j = CronJob::new("scout", schedule, "go");
        j.timezone = Some("UTC".into());
        j
    }

    #[test]
    fn a_missed_run_is_caught_up_once_or_skipped() {
        let now = at("2026-03-09T10:00:30Z");
        let yes = |_: &str| true;
        let mut file = CronFile {
            jobs: vec![job("0 9 * * *"), job("0 9 * * *")],
        };
        for j in &mut file.jobs {
            j.next_run = Some(at("2026-03-08T09:00:00Z"));
        }
        file.jobs[1].catch_up = false;
        check(&mut file, now, true, &yes);
        assert_eq!(file.jobs[0].next_run, Some(at("2026-03-08T09:00:00Z")));
        assert_eq!(file.jobs[1].next_run, Some(at("2026-03-10T09:00:00Z")));
        let due = due(&file, now, &HashSet::new()).jobs;
        assert_eq!(due.len(), 1, "only the catch-up job");
        // After it fires, the next run is tomorrow's, not yesterday's successor (today 09:00).
        let (mut j, scheduled) = due.into_iter().next().unwrap();
        after_fire(&mut j, Some(scheduled), now, None, false);
        assert_eq!(j.next_run, Some(at("2026-03-10T09:00:00Z")));
        assert_eq!((j.run_count, j.last_run), (1, Some(now)));
    }

    #[test]
    fn broken_jobs_are_disabled_with_the_reason_and_others_stay() {
        let now = at("2026-03-09T10:00:30Z");
        let known = |a: &str| a == "scout";
        let mut file = CronFile {
            jobs: vec![job("61 * * * *"), job("every 1m"), job("every 1m")],
        };
        file.jobs[2].agent = "ghost".into();
        check(&mut file, now, true, &known);
        assert!(!file.jobs[0].enabled);
        assert!(
            file.jobs[0]
                .last_error
                .as_deref()
                .unwrap()
                .contains("61 * * * *")
        );
        assert!(file.jobs[1].enabled);
        assert_eq!(file.jobs[1].next_run, Some(at("2026-03-09T10:01:30Z")));
        assert!(!file.jobs[2].enabled);
        assert!(
            file.jobs[2]
                .last_error
                .as_deref()
                .unwrap()
                .contains("ghost")
        );
    }

    #[test]
    fn a_re_read_keeps_the_run_state_held_in_memory() {
        let mut held = job("every 1m");
        held.run_count = 5;
        held.next_run = Some(at("2026-03-09T10:05:00Z"));
        let mut disk = held.clone();
        disk.run_count = 4;
        disk.next_run = Some(at("2026-03-09T10:04:00Z"));
        disk.message = "edited".into();
        let merged = merge(
            &CronFile {
                jobs: vec![held.clone()],
            },
            CronFile { jobs: vec![disk] },
        );
        let j = &merged.jobs[0];
        assert_eq!((j.run_count, j.message.as_str()), (5, "edited"));
        assert_eq!(j.next_run, held.next_run);
    }
}
