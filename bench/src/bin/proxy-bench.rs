//! LLM proxy overhead: the latency the mesh adds between an agent and a provider (a local
//! mock), for whole completions and for the first streamed token, at concurrency 1 and 32.
//!
//! Run with `bench/proxy.sh`. Each scenario is measured twice, straight at the mock and
//! through the mesh's `/mesh/api`, in the same run; the difference is the overhead.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Parser;
use futures_util::StreamExt;
use openlegion_bench::{machine, wrk};
use serde_json::{Value, json};

#[derive(Debug, Parser)]
struct Args {
    /// Seconds of load per wrk scenario.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Streamed requests per concurrency level.
    #[arg(long, default_value_t = 400)]
    streams: usize,
}

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_mock(bin: &Path) -> Result<(Proc, String)> {
    let mut child = Command::new(bin)
        .args(["--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().context("mock stdout")?).read_line(&mut line)?;
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .context("mock did not print its address")?
        .to_owned();
    Ok((Proc(child), url))
}

fn start_mesh(bin: &Path, dir: &Path, mock: &str) -> Result<(Proc, String, String)> {
    let config = dir.join("config");
    std::fs::create_dir(&config)?;
    std::fs::write(
        config.join("mesh.yaml"),
        // One agent's token drives the load: its LLM-call limit is off (this measures the proxy).
        "mesh:\n  port: 0\nllm:\n  default_model: openai/bench\nrate_limits:\n  llm_calls_per_minute: 0\n",
    )?;
    std::fs::write(
        config.join("agents.yaml"),
        "agents:\n  a:\n    model: openai/bench\n    budget: {daily_usd: 1000000, monthly_usd: 1000000}\n",
    )?;
    std::fs::write(
        config.join("permissions.json"),
        r#"{"permissions": {"default": {"allowed_apis": ["llm"]}}}"#,
    )?;
    let child = Command::new(bin)
        .arg("--config")
        .arg(&config)
        .arg("start")
        .env("RUST_LOG", "warn")
        .env("OPENLEGION_CRED_OPENAI_API_BASE", format!("{mock}/v1"))
        .env("OPENLEGION_CRED_OPENAI_API_KEY", "sk-bench-000000000000")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()?;
    let url = openlegion_bench::mesh_url(dir, Duration::from_millis(100))?;
    let operator = std::fs::read_to_string(dir.join(".openlegion/operator.token"))?
        .trim()
        .to_owned();
    Ok((Proc(child), url, operator))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted
        .get(((sorted.len() as f64 * p) as usize).min(sorted.len().saturating_sub(1)))
        .copied()
        .unwrap_or_default()
}

/// Time to the first streamed text delta of `n` requests from `concurrency` loops.
async fn first_token(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    body: &Value,
    n: usize,
    concurrency: usize,
) -> Vec<Duration> {
    let per = n / concurrency;
    let mut loops = Vec::new();
    for _ in 0..concurrency {
        let (http, url, token, body) =
            (http.clone(), url.to_owned(), token.to_owned(), body.clone());
        loops.push(tokio::spawn(async move {
            let mut times = Vec::new();
            for _ in 0..per {
                let started = Instant::now();
                let resp = http
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&body)
                    .send()
                    .await
                    .expect("request");
                let mut chunks = resp.bytes_stream();
                let mut seen = String::new();
                let mut first = None;
                while let Some(chunk) = chunks.next().await {
                    seen.push_str(&String::from_utf8_lossy(&chunk.expect("chunk")));
                    if first.is_none()
                        && (seen.contains("\"text_delta\"")
                            || seen.contains("\"delta\":{\"content\"")
                            || seen.contains("\"content\":\""))
                    {
                        first = Some(started.elapsed());
                    }
                }
                times.push(first.expect("a text delta arrived"));
            }
            times
        }));
    }
    let mut all = Vec::new();
    for l in loops {
        all.extend(l.await.expect("stream loop"));
    }
    all.sort();
    all
}

fn main() -> Result<()> {
    let args = Args::parse();
    let exe = std::env::current_exe()?;
    let (mock, mock_url) = start_mock(&exe.with_file_name("mock-llm"))?;
    let dir = tempfile::tempdir()?;
    let (mesh, mesh_url, operator) =
        start_mesh(&exe.with_file_name("openlegion"), dir.path(), &mock_url)?;
    println!("machine: {}", machine());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let http = openlegion_mesh::http_client::builder()
        .pool_max_idle_per_host(64)
        .build()?;
    let token = rt.block_on(async {
        let r: Value = http.post(format!("{mesh_url}/mesh/register")).bearer_auth(&operator).json(&json!({"agent_id": "a"})).send().await?.json().await?;
        // Plenty of scripted answers for every scenario below.
        let turns: Vec<Value> = (0..400_000).map(|_| json!({"type": "text", "text": "Hello from the benchmark model", "usage": {"prompt_tokens": 12, "completion_tokens": 5}})).collect();
        http.post(format!("{mock_url}/_mock/script")).json(&json!({"turns": turns})).send().await?.error_for_status()?;
        anyhow::Ok(r["token"].as_str().context("no token")?.to_owned())
    })?;
    let messages = json!([{"role": "user", "content": "Say hello."}]);
    let direct_body = json!({"model": "bench", "messages": messages, "max_tokens": 16}).to_string();
    let mesh_body = json!({"service": "llm", "action": "chat", "params": {"messages": messages, "max_tokens": 16}}).to_string();
    let secs = Duration::from_secs(args.seconds);
    println!(
        "\n| completion (non-streamed) | connections | requests/s | p50 ms | p99 ms | errors |\n|---|---|---|---|---|---|"
    );
    let mut rows = Vec::new();
    for c in [1, 32] {
        let direct = wrk(
            &mock_url,
            c,
            secs,
            &format!(
                "wrk.method = \"POST\"\nwrk.path = \"/v1/chat/completions\"\nwrk.body = [[{direct_body}]]\nwrk.headers[\"Content-Type\"] = \"application/json\"\n"
            ),
            dir.path(),
        )?;
        let proxied = wrk(
            &mesh_url,
            c,
            secs,
            &format!(
                "wrk.method = \"POST\"\nwrk.path = \"/mesh/api\"\nwrk.body = [[{mesh_body}]]\nwrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.headers[\"Authorization\"] = \"Bearer {token}\"\n"
            ),
            dir.path(),
        )?;
        for (name, m) in [("mock directly", &direct), ("through the mesh", &proxied)] {
            println!(
                "| {name} | {c} | {:.0} | {:.2} | {:.2} | {} |",
                m.per_second,
                ms(m.p50),
                ms(m.p99),
                m.errors
            );
        }
        rows.push((
            c,
            ms(proxied.p50) - ms(direct.p50),
            ms(proxied.p99) - ms(direct.p99),
        ));
    }
    let stream_direct =
        json!({"model": "bench", "messages": messages, "max_tokens": 16, "stream": true});
    let stream_mesh = json!({"service": "llm", "action": "chat", "params": {"messages": messages, "max_tokens": 16}});
    println!("\n| first streamed token | concurrency | p50 ms | p99 ms |\n|---|---|---|---|");
    for c in [1, 32] {
        let d = rt.block_on(first_token(
            &http,
            &format!("{mock_url}/v1/chat/completions"),
            "sk-bench",
            &stream_direct,
            args.streams,
            c,
        ));
        let m = rt.block_on(first_token(
            &http,
            &format!("{mesh_url}/mesh/api/stream"),
            &token,
            &stream_mesh,
            args.streams,
            c,
        ));
        println!(
            "| mock directly | {c} | {:.2} | {:.2} |",
            ms(percentile(&d, 0.5)),
            ms(percentile(&d, 0.99))
        );
        println!(
            "| through the mesh | {c} | {:.2} | {:.2} |",
            ms(percentile(&m, 0.5)),
            ms(percentile(&m, 0.99))
        );
        rows.push((
            c + 1000,
            ms(percentile(&m, 0.5)) - ms(percentile(&d, 0.5)),
            ms(percentile(&m, 0.99)) - ms(percentile(&d, 0.99)),
        ));
    }
    println!("\n| added by the mesh | concurrency | p50 ms | p99 ms |\n|---|---|---|---|");
    for (c, p50, p99) in rows {
        let (what, c) = if c >= 1000 {
            ("first streamed token", c - 1000)
        } else {
            ("completion", c)
        };
        println!("| {what} | {c} | {p50:.2} | {p99:.2} |");
    }
    drop((mesh, mock));
    Ok(())
}
