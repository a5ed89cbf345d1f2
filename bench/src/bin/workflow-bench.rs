//! Workflow benchmark: a 3-step chain (`a → b → c`, one agent each, process backend, the
//! mock LLM answering at once) run through a real mesh.
//!
//! - orchestration overhead per step: the mesh's time between a step's result and the
//!   next step's dispatch into its agent's lane (each run's `finished_at` of the step
//!   before and `dispatched_at` of the step after), with one run at a time and with 100 at
//!   once;
//! - 100 concurrent runs: wall time until all have completed, and each run's duration.
//!
//! Run with `bench/workflows.sh` (release build).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use clap::Parser;
use openlegion_bench::platform::Proc;
use openlegion_bench::{machine, p50_p99, started_mesh};
use serde_json::{Value, json};

#[derive(Debug, Parser)]
struct Args {
    /// Runs one at a time, for the overhead without contention.
    #[arg(long, default_value_t = 50)]
    sequential: usize,
    /// Runs at once.
    #[arg(long, default_value_t = 100)]
    concurrent: usize,
    /// Items each agent's lane runs at once (agents.yaml `lanes.concurrency`).
    #[arg(long, default_value_t = 1)]
    lane_concurrency: u32,
}

const WORKFLOW: &str = "name: chain
timeout: 3600
steps:
  - {id: first, agent: a, task_type: one}
  - {id: second, agent: b, task_type: two, depends_on: [first], input_from: first.result}
  - {id: third, agent: c, task_type: three, depends_on: [second], input_from: second.result}
";

struct Bench {
    _mesh: Proc,
    _mock: Proc,
    mock_url: String,
    url: String,
    token: String,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn time(v: &Value) -> Result<DateTime<Utc>> {
    Ok(v.as_str()
        .context("a timestamp")?
        .parse::<DateTime<Utc>>()?)
}

impl Bench {
    async fn start(lane_concurrency: u32) -> Result<Self> {
        let exe = std::env::current_exe()?;
        let mut mock = Command::new(exe.with_file_name("mock-llm"))
            .args(["--port", "0"])
            .stdout(Stdio::piped())
            .spawn()?;
        let mut line = String::new();
        BufReader::new(mock.stdout.take().context("mock stdout")?).read_line(&mut line)?;
        let mock_proc = Proc(mock);
        let mock_url = line
            .trim()
            .strip_prefix("listening on ")
            .context("mock address")?
            .to_owned();
        let dir = tempfile::tempdir()?;
        let config = dir.path().join("config");
        std::fs::create_dir_all(config.join("workflows"))?;
        std::fs::write(
            config.join("mesh.yaml"),
            format!(
                "mesh:\n  port: 0\nllm:\n  default_model: openai/bench\nruntime:\n  isolation: process\n  agent_binary: {}\n",
                exe.with_file_name("openlegion-agent").display()
            ),
        )?;
        let mut agents = String::from("agents:\n");
        for id in ["a", "b", "c"] {
            agents.push_str(&format!(
                "  {id}:\n    role: bench\n    budget: {{daily_usd: 1000000, monthly_usd: 1000000}}\n    lanes: {{concurrency: {lane_concurrency}, max: 1000}}\n"
            ));
        }
        std::fs::write(config.join("agents.yaml"), agents)?;
        std::fs::write(
            config.join("permissions.json"),
            r#"{"permissions": {"default": {"allowed_apis": ["llm"]}}}"#,
        )?;
        std::fs::write(config.join("workflows/chain.yaml"), WORKFLOW)?;
        let mesh = Proc(
            Command::new(exe.with_file_name("openlegion"))
                .arg("--config")
                .arg(&config)
                .arg("start")
                .env("RUST_LOG", "warn")
                .env("OPENLEGION_CRED_OPENAI_API_BASE", format!("{mock_url}/v1"))
                .env("OPENLEGION_CRED_OPENAI_API_KEY", "sk-bench-0000000000000")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()?,
        );
        let limit = Duration::from_secs(60);
        let (url, token) = started_mesh(&dir.path().join(".openlegion"), limit).await?;
        let bench = Self {
            _mesh: mesh,
            _mock: mock_proc,
            mock_url,
            url,
            token,
            http: openlegion_mesh::http_client::builder()
                .timeout(Duration::from_secs(120))
                .pool_max_idle_per_host(256)
                .build()?,
            _dir: dir,
        };
        for id in ["a", "b", "c"] {
            let deadline = Instant::now() + limit;
            while !bench
                .http
                .get(format!("{}/mesh/agents/{id}/api/status", bench.url))
                .bearer_auth(&bench.token)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                if Instant::now() > deadline {
                    bail!("agent {id} did not start");
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        Ok(bench)
    }

    async fn script(&self, turns: usize) -> Result<()> {
        let turns: Vec<Value> = (0..turns)
            .map(|_| json!({"type": "text", "text": "{\"ok\": true}"}))
            .collect();
        self.http
            .post(format!("{}/_mock/script", self.mock_url))
            .json(&json!({ "turns": turns }))
            .send()
            .await?
            .error_for_status()?;
        Ok(())
    }

    async fn start_run(&self) -> Result<String> {
        let started: Value = self
            .http
            .post(format!("{}/mesh/workflows/chain/run", self.url))
            .bearer_auth(&self.token)
            .json(&json!({"input": {"n": 1}}))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        Ok(started["run_id"].as_str().context("a run id")?.to_owned())
    }

    async fn wait(&self, id: &str) -> Result<Value> {
        loop {
            let view: Value = self
                .http
                .get(format!("{}/mesh/workflows/runs/{id}?wait=60", self.url))
                .bearer_auth(&self.token)
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            if view["finished"] == true {
                if view["status"] != "complete" {
                    bail!("run {id} ended {}: {}", view["status"], view["error"]);
                }
                return Ok(view);
            }
        }
    }
}

/// Each step's overhead (result of the step before → its dispatch) and the run's duration
/// (start → last result).
fn measure(view: &Value) -> Result<(Vec<Duration>, Duration)> {
    let steps = view["steps"].as_array().context("steps")?;
    let mut gaps = Vec::new();
    for pair in steps.windows(2) {
        let gap = time(&pair[1]["dispatched_at"])? - time(&pair[0]["finished_at"])?;
        gaps.push(gap.to_std().unwrap_or_default());
    }
    let total = time(&steps[steps.len() - 1]["finished_at"])? - time(&view["started_at"])?;
    Ok((gaps, total.to_std().unwrap_or_default()))
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    println!("machine: {}", machine());
    let bench = Bench::start(args.lane_concurrency).await?;
    bench
        .script(3 * (args.sequential + args.concurrent + 2))
        .await?;
    // Warm-up: connections, the agents' first task.
    for _ in 0..2 {
        let id = bench.start_run().await?;
        bench.wait(&id).await?;
    }

    let mut gaps = Vec::new();
    let mut runs = Vec::new();
    for _ in 0..args.sequential {
        let id = bench.start_run().await?;
        let (g, total) = measure(&bench.wait(&id).await?)?;
        gaps.extend(g);
        runs.push(total);
    }
    let (g50, g99) = p50_p99(&mut gaps);
    let (r50, r99) = p50_p99(&mut runs);
    println!(
        "| one run at a time ({} runs) | {:.2} | {:.2} | {:.1} | {:.1} |",
        args.sequential,
        ms(g50),
        ms(g99),
        ms(r50),
        ms(r99)
    );

    let started = Instant::now();
    let mut ids = Vec::with_capacity(args.concurrent);
    for _ in 0..args.concurrent {
        ids.push(bench.start_run().await?);
    }
    let views = futures_util::future::join_all(ids.iter().map(|id| bench.wait(id))).await;
    let wall = started.elapsed();
    let mut gaps = Vec::new();
    let mut runs = Vec::new();
    for view in views {
        let (g, total) = measure(&view?)?;
        gaps.extend(g);
        runs.push(total);
    }
    let (g50, g99) = p50_p99(&mut gaps);
    let (r50, r99) = p50_p99(&mut runs);
    println!(
        "| {} runs at once | {:.2} | {:.2} | {:.1} | {:.1} |",
        args.concurrent,
        ms(g50),
        ms(g99),
        ms(r50),
        ms(r99)
    );
    println!(
        "{} concurrent runs (lane concurrency {}): all complete in {:.2} s, {:.1} runs/s, {:.1} steps/s",
        args.concurrent,
        args.lane_concurrency,
        wall.as_secs_f64(),
        args.concurrent as f64 / wall.as_secs_f64(),
        3.0 * args.concurrent as f64 / wall.as_secs_f64()
    );
    Ok(())
}
