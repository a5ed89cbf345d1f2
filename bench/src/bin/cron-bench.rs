//! Cron and heartbeat benchmark (issue 14), on a release mesh whose agents are not started
//! (`isolation: external`), so what is measured is the scheduler, not the agents:
//!
//! - fire jitter: `JOBS` jobs `every 1s` for `--seconds`; each fire is a lane item whose id
//!   names its scheduled second and whose row holds when it was committed; the jitter is
//!   committed − scheduled (p50, p99, max), read from the mesh's database afterwards;
//! - idle heartbeats: `HEARTBEATS` agents with a heartbeat `every 1s` on the mesh-side
//!   probes (signals, tasks, inbox, lane) that find nothing, until 100 heartbeats have run:
//!   the mesh's CPU time (user + system, from /proc) over that window against an equal
//!   window with no job, the lane items (turns) and the LLM tokens they caused.
//!
//! Run with `bench/cron.sh`, which builds the release binaries first.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use openlegion_bench::machine;
use serde_json::{Value, json};

/// Jobs firing every second in the jitter run.
const JOBS: usize = 10;

/// Agents with a heartbeat every second in the idle run.
const HEARTBEATS: usize = 10;

#[derive(Debug, Parser)]
struct Args {
    /// The `openlegion` binary (default: beside this one).
    #[arg(long)]
    mesh_bin: Option<PathBuf>,
    /// Seconds of firing in the jitter run.
    #[arg(long, default_value_t = 30)]
    seconds: u64,
}

struct Mesh(Child);

impl Drop for Mesh {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_mesh(bin: &Path, dir: &Path, agents: &str, cron: &Value) -> Result<Mesh> {
    let config = dir.join("config");
    std::fs::create_dir_all(&config)?;
    std::fs::write(
        config.join("mesh.yaml"),
        "mesh:\n  port: 0\nruntime:\n  isolation: external\n",
    )?;
    std::fs::write(config.join("agents.yaml"), agents)?;
    std::fs::write(config.join("cron.json"), cron.to_string())?;
    std::fs::write(config.join("permissions.json"), r#"{"permissions": {}}"#)?;
    let child = Command::new(bin)
        .arg("--config")
        .arg(&config)
        .arg("start")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("start {}", bin.display()))?;
    let mesh = Mesh(child);
    openlegion_bench::mesh_url(dir, Duration::from_millis(300))?;
    Ok(mesh)
}

/// User + system CPU time of `pid`, from /proc/PID/stat.
fn cpu(pid: u32) -> Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let after = stat.rsplit_once(')').context("odd /proc stat")?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>()? + fields[12].parse::<u64>()?;
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)?.unwrap_or(100) as u64;
    Ok(Duration::from_micros(ticks * 1_000_000 / hz))
}

fn db(dir: &Path) -> Result<rusqlite::Connection> {
    let path = dir.join(".openlegion/mesh.db");
    Ok(rusqlite::Connection::open_with_flags(
        &path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )?)
}

fn jitter(bin: &Path, seconds: u64) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let mut agents = String::from("agents:\n");
    let mut jobs = Vec::new();
    for n in 0..JOBS {
        agents.push_str(&format!(
            "  a{n}:\n    role: bench\n    lanes:\n      max: 100000\n"
        ));
        jobs.push(
            json!({"id": format!("cron_bench{n:02}"), "agent": format!("a{n}"),
                         "schedule": "every 1s", "message": "tick"}),
        );
    }
    let _mesh = start_mesh(bin, dir.path(), &agents, &json!({ "jobs": jobs }))?;
    std::thread::sleep(Duration::from_secs(seconds));
    let conn = db(dir.path())?;
    let mut stmt = conn.prepare("SELECT id, enqueued_at FROM lane_items WHERE id LIKE 'cron_%'")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
    let mut late = Vec::new();
    for row in rows {
        let (id, enqueued) = row?;
        let scheduled: i64 = id.rsplit('_').next().unwrap_or("0").parse()?;
        late.push(Duration::from_micros(
            (enqueued - scheduled * 1_000_000).max(0) as u64,
        ));
    }
    if late.is_empty() {
        bail!("no job fired");
    }
    let max = late.iter().max().copied().unwrap_or_default();
    let n = late.len();
    let (p50, p99) = openlegion_bench::p50_p99(&mut late);
    println!("\n| jobs | fires | p50 ms | p99 ms | max ms |\n|---|---|---|---|---|");
    println!(
        "| {JOBS} × every 1s, {seconds} s | {n} | {:.2} | {:.2} | {:.2} |",
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        max.as_secs_f64() * 1e3
    );
    Ok(())
}

fn runs(dir: &Path) -> Result<u64> {
    let text = std::fs::read_to_string(dir.join("config/cron.json"))?;
    let file: Value = serde_json::from_str(&text)?;
    Ok(file["jobs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|j| j["run_count"].as_u64())
        .sum())
}

fn idle_heartbeats(bin: &Path) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let mut agents = String::from("agents:\n");
    for n in 0..HEARTBEATS {
        agents.push_str(&format!(
            "  h{n}:\n    role: bench\n    heartbeat: {{schedule: every 1s, probes: [signals, tasks, inbox, lane], enabled: false}}\n"
        ));
    }
    let mesh = start_mesh(bin, dir.path(), &agents, &json!({"jobs": []}))?;
    let pid = mesh.0.id();
    // The same span with the heartbeats off, then on until 100 have run.
    std::thread::sleep(Duration::from_secs(1));
    let idle_from = cpu(pid)?;
    let span = Duration::from_secs((100 / HEARTBEATS) as u64);
    std::thread::sleep(span);
    let idle = cpu(pid)? - idle_from;
    let on = agents.replace("enabled: false", "enabled: true");
    std::fs::write(dir.path().join("config/agents.yaml"), on)?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while runs(dir.path())? == 0 {
        if Instant::now() > deadline {
            bail!("no heartbeat ran");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let (start_runs, from, t0) = (runs(dir.path())?, cpu(pid)?, Instant::now());
    while runs(dir.path())? < start_runs + 100 {
        if Instant::now() > deadline {
            bail!("100 heartbeats did not run within a minute");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let (used, elapsed) = (cpu(pid)? - from, t0.elapsed());
    let done = runs(dir.path())? - start_runs;
    let conn = db(dir.path())?;
    let turns: i64 = conn.query_row("SELECT COUNT(*) FROM lane_items", [], |r| r.get(0))?;
    let tokens: i64 = conn
        .query_row(
            "SELECT COALESCE(SUM(prompt_tokens + completion_tokens), 0) FROM usage",
            [],
            |r| r.get(0),
        )
        .unwrap_or(0);
    let idle_scaled = idle.as_secs_f64() * elapsed.as_secs_f64() / span.as_secs_f64();
    println!(
        "\n| idle heartbeats | wall s | mesh CPU ms | same span without heartbeats, CPU ms | CPU ms per heartbeat | turns | LLM tokens |\n|---|---|---|---|---|---|---|"
    );
    println!(
        "| {done} ({HEARTBEATS} agents × every 1s; signals, tasks, inbox, lane) | {:.1} | {:.0} | {:.0} | {:.2} | {turns} | {tokens} |",
        elapsed.as_secs_f64(),
        used.as_secs_f64() * 1e3,
        idle_scaled * 1e3,
        (used.as_secs_f64() - idle_scaled).max(0.0) * 1e3 / done as f64,
    );
    Ok(())
}

fn main() -> Result<()> {
    let args = Args::parse();
    let bin = match args.mesh_bin {
        Some(b) => b,
        None => std::env::current_exe()?.with_file_name("openlegion"),
    };
    println!("machine: {}", machine());
    jitter(&bin, args.seconds)?;
    idle_heartbeats(&bin)?;
    Ok(())
}
