//! Agent benchmark: cold start of the `openlegion-agent` process to its first 200 on
//! `GET /status` (skill cache warm and cold), its idle memory, and one chat turn with one
//! tool call end to end (operator → mesh → agent → mesh → mock LLM → WebAssembly tool → …).
//!
//! Run with `bench/agent.sh` (release build).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use openlegion_bench::{machine, rss_kib};
use serde_json::{Value, json};

#[derive(Debug, Parser)]
struct Args {
    /// Warm starts to time.
    #[arg(long, default_value_t = 30)]
    starts: usize,
    /// Chat turns to time.
    #[arg(long, default_value_t = 50)]
    turns: usize,
}

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

/// Starts an agent with its own dirs under `root` and returns it once `/status` answers,
/// with the time that took.
async fn start_agent(bin: &Path, root: &Path, cache: &Path) -> Result<(Proc, Duration)> {
    let data = root.join("data");
    let run = root.join("run");
    std::fs::create_dir_all(&data)?;
    std::fs::create_dir_all(&run)?;
    let socket = run.join("agent.sock");
    let _ = std::fs::remove_file(&socket);
    let started = Instant::now();
    let child = Command::new(bin)
        .env_clear()
        .env("AGENT_ID", "bench")
        .env("MESH_URL", "http://127.0.0.1:9")
        .env("MESH_AUTH_TOKEN", "olt_bench")
        .env("DATA_DIR", &data)
        .env("AGENT_SOCKET", &socket)
        .env("SKILL_CACHE_DIR", cache)
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let proc = Proc(child);
    let client = openlegion_host::http_client::builder()
        .unix_socket(socket.clone())
        .build()?;
    loop {
        if started.elapsed() > Duration::from_secs(60) {
            bail!("the agent did not answer /status");
        }
        if socket.exists()
            && client
                .get("http://agent/status")
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
        {
            return Ok((proc, started.elapsed()));
        }
        tokio::time::sleep(Duration::from_micros(500)).await;
    }
}

/// `Pss` and `Pss_Anon` of `pid`, in KiB.
fn pss_kib(pid: u32) -> (u64, u64) {
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
    let field = |name: &str| {
        rollup
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("Pss:"), field("Pss_Anon:"))
}

fn main() -> Result<()> {
    let args = Args::parse();
    let exe = std::env::current_exe()?;
    let agent_bin = exe.with_file_name("openlegion-agent");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    println!("machine: {}", machine());
    rt.block_on(async {
        let dir = tempfile::tempdir()?;
        let cache = dir.path().join("cache");
        let (first, cold) = start_agent(&agent_bin, &dir.path().join("cold"), &cache).await?;
        drop(first);
        let mut warm = Vec::new();
        for i in 0..args.starts {
            let (agent, took) = start_agent(&agent_bin, &dir.path().join(format!("warm{i}")), &cache).await?;
            warm.push(took);
            drop(agent);
        }
        warm.sort();
        // Five idle agents side by side: RSS counts the binary's pages in full for each,
        // PSS splits the shared ones among the agents that map them.
        let mut idle = Vec::new();
        for i in 0..5 {
            idle.push(start_agent(&agent_bin, &dir.path().join(format!("idle{i}")), &cache).await?.0);
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        let (rss, _) = rss_kib(idle[0].0.id());
        let (pss, anon): (u64, u64) = idle.iter().map(|p| pss_kib(p.0.id())).fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
        drop(idle);
        println!("\n| agent start to first 200 on /status | n | p50 ms | p99 ms |\n|---|---|---|---|");
        println!("| cold skill cache (every built-in skill compiled) | 1 | {:.1} | – |", ms(cold));
        println!("| warm skill cache | {} | {:.1} | {:.1} |", warm.len(), ms(percentile(&warm, 0.5)), ms(percentile(&warm, 0.99)));
        println!(
            "\nidle agent, 5 running: RSS {:.1} MiB each; PSS {:.1} MiB each, of which {:.1} MiB anonymous (private)",
            rss as f64 / 1024.0,
            pss as f64 / 5.0 / 1024.0,
            anon as f64 / 5.0 / 1024.0
        );
        chat_turns(&exe, args.turns).await
    })
}

async fn chat_turns(exe: &Path, turns: usize) -> Result<()> {
    let mut mock = Command::new(exe.with_file_name("mock-llm"))
        .args(["--port", "0"])
        .stdout(Stdio::piped())
        .spawn()?;
    let mut line = String::new();
    BufReader::new(mock.stdout.take().context("mock stdout")?).read_line(&mut line)?;
    let _mock = Proc(mock);
    let mock_url = line
        .trim()
        .strip_prefix("listening on ")
        .context("mock address")?
        .to_owned();
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("config");
    std::fs::create_dir(&config)?;
    let agent_bin: PathBuf = exe.with_file_name("openlegion-agent");
    std::fs::write(
        config.join("mesh.yaml"),
        format!(
            "mesh:\n  port: 0\nllm:\n  default_model: openai/bench\nruntime:\n  isolation: process\n  agent_binary: {}\n",
            agent_bin.display()
        ),
    )?;
    std::fs::write(
        config.join("agents.yaml"),
        "agents:\n  a:\n    role: bench\n    budget: {daily_usd: 1000000, monthly_usd: 1000000}\n",
    )?;
    std::fs::write(
        config.join("permissions.json"),
        r#"{"permissions": {"default": {"allowed_apis": ["llm"]}}}"#,
    )?;
    let mesh = Command::new(exe.with_file_name("openlegion"))
        .arg("--config")
        .arg(&config)
        .arg("start")
        .env("RUST_LOG", "warn")
        .env("OPENLEGION_CRED_OPENAI_API_BASE", format!("{mock_url}/v1"))
        .env("OPENLEGION_CRED_OPENAI_API_KEY", "sk-bench-0000000000000")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let _mesh = Proc(mesh);
    let state = dir.path().join(".openlegion");
    let deadline = Instant::now() + Duration::from_secs(60);
    let (url, token) = openlegion_bench::started_mesh(&state, Duration::from_secs(60)).await?;
    let http = openlegion_host::http_client::builder().build()?;
    let chat = |msg: &'static str| {
        let (http, url, token) = (http.clone(), url.clone(), token.clone());
        async move {
            http.post(format!("{url}/mesh/agents/a/api/chat"))
                .bearer_auth(&token)
                .json(&json!({"message": msg}))
                .send()
                .await
        }
    };
    loop {
        if Instant::now() > deadline {
            bail!("the agent did not start");
        }
        if http
            .get(format!("{url}/mesh/agents/a/api/status"))
            .bearer_auth(&token)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let turns_script: Vec<Value> = (0..turns + 1)
        .flat_map(|_| [
            json!({"type": "tool_calls", "calls": [{"name": "write_file", "arguments": {"path": "bench.txt", "content": "benchmark"}}]}),
            json!({"type": "text", "text": "Written."}),
        ])
        .collect();
    http.post(format!("{mock_url}/_mock/script"))
        .json(&json!({"turns": turns_script}))
        .send()
        .await?
        .error_for_status()?;
    chat("warm up").await?.error_for_status()?;
    let mut times = Vec::new();
    for _ in 0..turns {
        let started = Instant::now();
        let reply: Value = chat("Write the file.")
            .await?
            .error_for_status()?
            .json()
            .await?;
        times.push(started.elapsed());
        if reply["response"] != "Written." {
            bail!("unexpected reply {reply}");
        }
    }
    times.sort();
    println!(
        "\n| chat turn with one tool call, end to end | n | p50 ms | p99 ms |\n|---|---|---|---|"
    );
    println!(
        "| operator → mesh → agent → 2 LLM calls + write_file | {turns} | {:.2} | {:.2} |",
        ms(percentile(&times, 0.5)),
        ms(percentile(&times, 0.99))
    );
    Ok(())
}
