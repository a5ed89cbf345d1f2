//! Agent benchmark: cold start of the `openlegion-agent` process to its first 200 on
//! `GET /status` (skill cache warm and cold), its idle memory, and one chat turn with one
//! tool call end to end (operator → mesh → agent → mesh → mock LLM → WebAssembly tool → …).
//!
//! Run with `bench/agent.sh` (release build).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use clap::Parser;
use openlegion_bench::platform::{Platform, Proc};
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
    let client = openlegion_mesh::http_client::builder()
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
        chat_turns(args.turns).await
    })
}

async fn chat_turns(turns: usize) -> Result<()> {
    let platform = Platform::start("", &[]).await?;
    let turns_script: Vec<Value> = (0..turns + 1)
        .flat_map(|_| [
            json!({"type": "tool_calls", "calls": [{"name": "write_file", "arguments": {"path": "bench.txt", "content": "benchmark"}}]}),
            json!({"type": "text", "text": "Written."}),
        ])
        .collect();
    platform.script(turns_script).await?;
    platform.chat("warm up").await?;
    let mut times = Vec::new();
    for _ in 0..turns {
        let started = Instant::now();
        let reply = platform.chat("Write the file.").await?;
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
