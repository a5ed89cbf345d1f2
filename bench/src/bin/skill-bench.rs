//! Skill runtime costs: what one tool call costs the agent (a fresh store and instance
//! from the cached `InstancePre`, then `invoke`), and what loading a skill costs with a
//! cold cache (Cranelift compile), from the `.cwasm` cache after a restart, and from
//! memory.
//!
//! Run with `bench/skills.sh`, which builds the test fixtures and passes the `echo`
//! component: its `echo` tool returns its arguments, so the call measures the runtime,
//! not the tool.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use openlegion_bench::machine;
use openlegion_skill_host::{CacheOutcome, Capabilities, Manifest, SkillHost, SkillHostSettings};

#[derive(Debug, Parser)]
struct Args {
    /// The component to load (a skill whose `echo` tool answers at once).
    #[arg(long)]
    wasm: PathBuf,
    /// Measured calls (after as many again to warm up).
    #[arg(long, default_value_t = 10_000)]
    calls: usize,
    /// Measured loads of each kind.
    #[arg(long, default_value_t = 10)]
    loads: usize,
}

/// Percentiles of a sample.
struct Stats {
    n: usize,
    p50: Duration,
    p99: Duration,
    mean: Duration,
}

fn stats(mut sample: Vec<Duration>) -> Stats {
    sample.sort();
    let n = sample.len();
    let at = |q: f64| sample[((n as f64 * q).ceil() as usize).clamp(1, n) - 1];
    Stats {
        n,
        p50: at(0.50),
        p99: at(0.99),
        mean: sample.iter().sum::<Duration>() / n as u32,
    }
}

fn host(cache: &Path, workspace: &Path) -> Result<SkillHost> {
    Ok(SkillHost::new(
        SkillHostSettings::new(cache),
        Capabilities::new(workspace),
    )?)
}

/// Loads `wasm` into a new host over `cache`; returns the load time and where the code
/// came from.
async fn load(
    cache: &Path,
    workspace: &Path,
    wasm: &[u8],
) -> Result<(SkillHost, Duration, CacheOutcome)> {
    let host = host(cache, workspace)?;
    let started = Instant::now();
    let report = host
        .load_bytes(Manifest::new("echo", "1"), wasm.to_vec())
        .await?;
    Ok((host, started.elapsed(), report.cache))
}

fn row(what: &str, s: &Stats) -> String {
    format!(
        "| {what} | {} | {} | {} | {} |",
        s.n,
        human(s.p50),
        human(s.p99),
        human(s.mean)
    )
}

/// `23.7 µs` under a millisecond, `101.4 ms` above.
fn human(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 1000.0 {
        format!("{us:.1} µs")
    } else {
        format!("{:.1} ms", us / 1000.0)
    }
}

fn expect(outcome: CacheOutcome, wanted: CacheOutcome) -> Result<()> {
    if outcome != wanted {
        bail!("expected a {wanted:?} load, got {outcome:?}");
    }
    Ok(())
}

async fn run(args: Args) -> Result<()> {
    let wasm = std::fs::read(&args.wasm)
        .with_context(|| format!("read {} (run bench/skills.sh)", args.wasm.display()))?;
    let dir = tempfile::tempdir()?;
    let workspace = dir.path().join("data");
    std::fs::create_dir(&workspace)?;

    let mut compiled = Vec::new();
    let mut from_disk = Vec::new();
    for i in 0..args.loads {
        let cache = dir.path().join(format!("cache-{i}"));
        let (_, took, outcome) = load(&cache, &workspace, &wasm).await?;
        expect(outcome, CacheOutcome::Compiled)?;
        compiled.push(took);
        let (_, took, outcome) = load(&cache, &workspace, &wasm).await?;
        expect(outcome, CacheOutcome::Disk)?;
        from_disk.push(took);
    }
    let (host, _, _) = load(&dir.path().join("cache-0"), &workspace, &wasm).await?;
    let mut from_memory = Vec::new();
    for _ in 0..args.loads {
        let started = Instant::now();
        let report = host
            .load_bytes(Manifest::new("echo", "1"), wasm.clone())
            .await?;
        from_memory.push(started.elapsed());
        expect(report.cache, CacheOutcome::Memory)?;
    }

    let mut calls = Vec::with_capacity(args.calls);
    for i in 0..args.calls * 2 {
        let started = Instant::now();
        let answer = host.invoke("echo", "{}").await?;
        let took = started.elapsed();
        if answer != "{}" {
            bail!("echo answered {answer:?}");
        }
        if i >= args.calls {
            calls.push(took);
        }
    }

    println!("machine: {}", machine());
    println!(
        "component: {} ({} bytes)\n",
        args.wasm.display(),
        wasm.len()
    );
    println!("| measurement | n | p50 | p99 | mean |");
    println!("|---|---|---|---|---|");
    println!(
        "{}",
        row(
            "tool call: new store + instantiate (InstancePre) + invoke",
            &stats(calls)
        )
    );
    println!(
        "{}",
        row(
            "load, cold cache (Cranelift compile + .cwasm write + describe)",
            &stats(compiled)
        )
    );
    println!(
        "{}",
        row(
            "load after a restart (.cwasm from disk + describe)",
            &stats(from_disk)
        )
    );
    println!(
        "{}",
        row(
            "reload of loaded bytes (InstancePre from memory + describe)",
            &stats(from_memory)
        )
    );
    Ok(())
}

fn main() -> Result<()> {
    let args = Args::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(run(args))
}
