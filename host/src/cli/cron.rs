//! `openlegion cron list|add|remove|enable|disable|run`: edits config/cron.json under its
//! lock (a running mesh re-reads it within a second, no reload needed); `run` asks the
//! running mesh to fire a job now.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use openlegion_mesh::config::Config;
use openlegion_mesh::triggers::Schedule;
use openlegion_mesh::triggers::cron::{CronLock, file};
use openlegion_protocol::CronJob;

use super::client::OperatorClient;

#[derive(Debug, Subcommand)]
pub(crate) enum CronCommand {
    /// List the jobs, their next and last run and any error.
    List,
    /// Add a job that sends MESSAGE to an agent on a schedule.
    Add {
        name: String,
        /// The agent that gets the turn.
        #[arg(long)]
        agent: String,
        /// 5 cron fields ("0 9 * * 1-5") or an interval ("every 30m").
        #[arg(long)]
        schedule: String,
        /// What the agent is told when the job fires.
        #[arg(long)]
        message: String,
        /// IANA zone for a cron expression (default: this machine's local zone).
        #[arg(long)]
        timezone: Option<String>,
        /// Skip a run missed while the mesh was down instead of running it at start.
        #[arg(long)]
        no_catch_up: bool,
    },
    /// Remove a job (by name or id).
    Remove { name: String },
    /// Enable a job again (one disabled by hand or for an error).
    Enable { name: String },
    /// Disable a job without removing it.
    Disable { name: String },
    /// Fire a job now, in the running mesh.
    Run { name: String },
}

pub(crate) async fn run(config_dir: &Path, cmd: CronCommand) -> Result<ExitCode> {
    let cfg = Config::load(config_dir)?;
    if let CronCommand::Run { name } = &cmd {
        let client = OperatorClient::require(config_dir)?;
        let url = client.url("/mesh/cron", &[name, "run"]);
        let answer = client
            .call(reqwest::Method::POST, url, Some(&serde_json::json!({})))
            .await?;
        match answer["lane_item"].as_str() {
            Some(item) => println!("fired {name}: lane item {item}"),
            None => println!("ran heartbeat {name}: nothing to act on, no turn"),
        }
        return Ok(ExitCode::SUCCESS);
    }
    let path = file::path(&cfg.dir);
    let _lock = CronLock::take(&cfg.dir)?;
    let mut jobs = file::load(&path)?;
    match cmd {
        CronCommand::List => list(&jobs.jobs, &path),
        CronCommand::Add {
            name,
            agent,
            schedule,
            message,
            timezone,
            no_catch_up,
        } => {
            if jobs.find(&name).is_some() {
                bail!("a cron job named {name:?} already exists");
            }
            let known = openlegion_protocol::AgentId::parse(&agent)
                .is_ok_and(|id| cfg.agents.agents.contains_key(&id));
            if !known {
                bail!("no agent {agent:?} in {}", cfg.agents_path().display());
            }
            let parsed = Schedule::parse(&schedule, timezone.as_deref())?;
            let mut job = CronJob::new(&agent, &schedule, &message);
            job.name = Some(name.clone());
            job.timezone = timezone;
            job.catch_up = !no_catch_up;
            job.created_by = Some("operator".into());
            job.next_run = parsed.next_after(chrono::Utc::now());
            println!(
                "added {name} ({}): {}, next run {}",
                job.id,
                parsed.describe(),
                job.next_run.map_or("never".into(), |t| t.to_rfc3339())
            );
            jobs.jobs.push(job);
            file::save(&path, &jobs)?;
        }
        CronCommand::Remove { name } => {
            let i = jobs
                .jobs
                .iter()
                .position(|j| j.is_named(&name))
                .with_context(|| format!("no cron job {name:?}"))?;
            let job = jobs.jobs.remove(i);
            file::save(&path, &jobs)?;
            println!("removed cron job {name} ({})", job.id);
        }
        CronCommand::Enable { name } => set_enabled(&path, &mut jobs, &name, true)?,
        CronCommand::Disable { name } => set_enabled(&path, &mut jobs, &name, false)?,
        CronCommand::Run { .. } => unreachable!("handled above"),
    }
    Ok(ExitCode::SUCCESS)
}

fn set_enabled(path: &Path, jobs: &mut file::CronFile, name: &str, enabled: bool) -> Result<()> {
    let job = jobs
        .find_mut(name)
        .with_context(|| format!("no cron job {name:?}"))?;
    job.enabled = enabled;
    if enabled {
        Schedule::parse(&job.schedule, job.timezone.as_deref())?;
        job.last_error = None;
        // From now on: a run missed while it was off is not caught up.
        job.next_run = None;
    }
    file::save(path, jobs)?;
    println!(
        "{} cron job {name}",
        if enabled { "enabled" } else { "disabled" }
    );
    Ok(())
}

fn list(jobs: &[CronJob], path: &Path) {
    if jobs.is_empty() {
        println!("no cron jobs ({} is empty or absent)", path.display());
        return;
    }
    let when = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map_or("-".into(), |t| {
            t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        })
    };
    println!("NAME\tAGENT\tSCHEDULE\tSTATE\tNEXT\tLAST\tRUNS\tERRORS");
    for j in jobs {
        let schedule = match &j.timezone {
            Some(tz) => format!("{} ({tz})", j.schedule),
            None => j.schedule.clone(),
        };
        let state = match (j.enabled, j.heartbeat) {
            (true, true) => "heartbeat",
            (true, false) => "enabled",
            (false, _) => "disabled",
        };
        println!(
            "{}\t{}\t{schedule}\t{state}\t{}\t{}\t{}\t{}",
            j.name.as_deref().unwrap_or(&j.id),
            j.agent,
            when(j.next_run),
            when(j.last_run),
            j.run_count,
            j.error_count,
        );
        if let Some(e) = &j.last_error {
            println!("\t! {e}");
        }
    }
}
