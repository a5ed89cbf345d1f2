//! Tool catalogue benchmark: the mesh's browser (`POST /mesh/browser`: navigate + snapshot
//! of a local page, with a cold browser, cold contexts and a warm one; the mesh's and
//! Chromium's memory with 10 agents browsing at once), and `spawn_agent` → the sub-agent's
//! first answer (its task result) on the process backend and in runc containers.
//!
//! Run with `bench/tools.sh` (release build); `--no-docker` skips the runc case.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use axum::response::Html;
use clap::Parser;
use openlegion_bench::platform::Platform;
use openlegion_bench::{machine, p50_p99, rss_kib};
use serde_json::{Value, json};

#[derive(Debug, Parser)]
struct Args {
    /// navigate + snapshot samples per scenario.
    #[arg(long, default_value_t = 30)]
    samples: usize,
    /// Sub-agents spawned per backend.
    #[arg(long, default_value_t = 10)]
    spawns: usize,
    /// Skip the runc (Docker) spawn case.
    #[arg(long)]
    no_docker: bool,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// A page with some structure, served on loopback.
async fn page() -> Result<String> {
    let mut body =
        String::from("<html><head><title>Bench page</title></head><body><h1>Report</h1><nav>");
    for i in 0..20 {
        body.push_str(&format!("<a href=\"/p{i}\">Section {i}</a> "));
    }
    body.push_str("</nav><form><input aria-label=\"Query\" name=q><button>Go</button></form>");
    for i in 0..50 {
        body.push_str(&format!(
            "<p>Paragraph {i}: lorem ipsum dolor sit amet, consectetur.</p>"
        ));
    }
    body.push_str("</body></html>");
    let app = axum::Router::new().route(
        "/page",
        axum::routing::get(move || {
            let body = body.clone();
            async move { Html(body) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(format!("http://{addr}/page"))
}

/// A token for a new agent `id` registered by the operator.
async fn agent_token(p: &Platform, id: &str) -> Result<String> {
    let answer: Value = p
        .http
        .post(format!("{}/mesh/register", p.url))
        .bearer_auth(&p.token)
        .json(&json!({"agent_id": id}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(answer["token"].as_str().context("a token")?.to_owned())
}

async fn browse(p: &Platform, token: &str, action: Value) -> Result<Value> {
    let resp = p
        .http
        .post(format!("{}/mesh/browser", p.url))
        .bearer_auth(token)
        .json(&action)
        .send()
        .await?;
    if !resp.status().is_success() {
        bail!("browser answered {}: {}", resp.status(), resp.text().await?);
    }
    Ok(resp.json().await?)
}

/// One navigate + snapshot; its duration.
async fn navigate_and_snapshot(p: &Platform, token: &str, url: &str) -> Result<Duration> {
    let started = Instant::now();
    browse(p, token, json!({"action": "navigate", "url": url})).await?;
    let tree = browse(p, token, json!({"action": "snapshot"})).await?;
    if !tree["text"]
        .as_str()
        .unwrap_or_default()
        .contains("Section 19")
    {
        bail!("the snapshot misses the page: {tree}");
    }
    Ok(started.elapsed())
}

/// PSS of every Chromium process the mesh started (found by the profile directory the
/// browser service gives it), in KiB.
fn chromium_pss_kib() -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if !String::from_utf8_lossy(&cmdline).contains("openlegion-chromium-") {
            continue;
        }
        let rollup = std::fs::read_to_string(entry.path().join("smaps_rollup")).unwrap_or_default();
        total += rollup
            .lines()
            .find(|l| l.starts_with("Pss:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
    }
    total
}

async fn browser_bench(args: &Args) -> Result<()> {
    let url = page().await?;
    let p = Platform::start_with(
        "  isolation: process\n",
        "http:\n  allow_private_hosts: [\"127.0.0.1\"]\nbrowser:\n  max_tabs: 2\n",
        r#"{"permissions": {"default": {"allowed_apis": ["llm"], "can_use_browser": true}}}"#,
        &[],
    )
    .await?;
    let (idle_rss, _) = rss_kib(p.mesh_pid());
    let first = agent_token(&p, "first").await?;
    let launch = navigate_and_snapshot(&p, &first, &url).await?;
    let mut cold = Vec::new();
    for i in 0..args.samples {
        let token = agent_token(&p, &format!("cold{i}")).await?;
        cold.push(navigate_and_snapshot(&p, &token, &url).await?);
    }
    let mut warm = Vec::new();
    for _ in 0..args.samples {
        warm.push(navigate_and_snapshot(&p, &first, &url).await?);
    }
    let (c50, c99) = p50_p99(&mut cold);
    let (w50, w99) = p50_p99(&mut warm);
    println!("\n## browser (process mesh, release) — {}\n", machine());
    println!("| navigate + snapshot of a local page | samples | p50 ms | p99 ms |");
    println!("|---|---|---|---|");
    println!(
        "| cold browser (Chromium launched by the first command) | 1 | {:.0} | – |",
        ms(launch)
    );
    println!(
        "| cold context (a new agent's first command) | {} | {:.1} | {:.1} |",
        args.samples,
        ms(c50),
        ms(c99)
    );
    println!(
        "| warm context (the same agent again) | {} | {:.1} | {:.1} |",
        args.samples,
        ms(w50),
        ms(w99)
    );

    // Ten agents browsing at once, each its own context.
    let mut tokens = Vec::new();
    for i in 0..10 {
        tokens.push(agent_token(&p, &format!("ten{i}")).await?);
    }
    let started = Instant::now();
    let runs = tokens.iter().map(|t| {
        let (p, url) = (&p, &url);
        async move {
            for _ in 0..5 {
                navigate_and_snapshot(p, t, url).await?;
            }
            Ok::<_, anyhow::Error>(())
        }
    });
    for r in futures_util::future::join_all(runs).await {
        r?;
    }
    let took = started.elapsed();
    let (rss, peak) = rss_kib(p.mesh_pid());
    let chromium = chromium_pss_kib();
    let contexts = 10 + 1 + args.samples;
    println!(
        "\n10 agents × 5 navigate+snapshot at once: {:.1} s. Mesh RSS {:.1} MiB idle before \
         any browsing, {:.1} MiB after (peak {:.1} MiB); Chromium (all its processes, PSS) \
         {:.1} MiB with {contexts} contexts open.",
        took.as_secs_f64(),
        idle_rss as f64 / 1024.0,
        rss as f64 / 1024.0,
        peak as f64 / 1024.0,
        chromium as f64 / 1024.0,
    );
    p.stop()?;
    Ok(())
}

/// `spawns` sub-agents of agent `a`, one after the other: the time from `POST /mesh/spawn`
/// to the sub-agent's task result.
async fn spawn_bench(args: &Args, runtime: &str, label: &str) -> Result<()> {
    let p = Platform::start_with(
        runtime,
        "spawn:\n  max_children: 100\n  max_ttl_seconds: 600\n",
        r#"{"permissions": {"default": {"allowed_apis": ["llm"]}, "a": {"allowed_apis": ["llm"], "can_spawn": true}}}"#,
        &[],
    )
    .await?;
    let token: Value = p
        .http
        .post(format!("{}/mesh/agents/a/token", p.url))
        .bearer_auth(&p.token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let token = token["token"].as_str().context("a token")?.to_owned();
    let mut sample = Vec::new();
    for i in 0..args.spawns {
        p.script(vec![json!({"type": "text", "text": "{\"done\": true}"})])
            .await?;
        let started = Instant::now();
        let spawned: Value = p
            .http
            .post(format!("{}/mesh/spawn", p.url))
            .bearer_auth(&token)
            .json(&json!({"role": "helper", "instructions": format!("Task {i}."), "ttl_seconds": 120, "budget_usd": 1.0}))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let child = spawned["agent_id"].as_str().context("an id")?.to_owned();
        loop {
            let info: Value = p
                .http
                .get(format!("{}/mesh/spawn/{child}", p.url))
                .bearer_auth(&p.token)
                .send()
                .await?
                .json()
                .await?;
            match info["state"].as_str() {
                Some("done") => break,
                Some("failed" | "expired") => bail!("sub-agent {child} failed: {info}"),
                _ => {}
            }
            if started.elapsed() > Duration::from_secs(120) {
                bail!("sub-agent {child} gave no answer in 120 s");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        sample.push(started.elapsed());
    }
    p.stop()?;
    let (p50, p99) = p50_p99(&mut sample);
    println!(
        "| spawn_agent → first answer, {label} | {} | {:.0} | {:.0} |",
        args.spawns,
        ms(p50),
        ms(p99)
    );
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    browser_bench(&args).await?;
    println!("\n| sub-agents | samples | p50 ms | p99 ms |\n|---|---|---|---|");
    spawn_bench(&args, "  isolation: process\n", "process").await?;
    if !args.no_docker {
        spawn_bench(&args, "  isolation: docker\n", "runc (minimal image)").await?;
    }
    Ok(())
}
