//! Rate-limit benchmark: how much a looping agent hurts another agent's latency, with the
//! per-agent rate limits off and on.
//!
//! A "looper" agent hammers blackboard writes through wrk (16 connections, as fast as the
//! mesh answers) while a "victim" agent writes its own keys on one connection; the victim's
//! p50/p99 is measured alone, beside the looper with `rate_limits` off, and beside it with
//! the limits at their defaults. Run with `bench/limits.sh` (release binaries).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Parser;
use openlegion_bench::{Measured, machine, wrk};
use serde_json::{Value, json};

#[derive(Debug, Parser)]
struct Args {
    /// The `openlegion` binary (default: beside this one).
    #[arg(long)]
    mesh_bin: Option<PathBuf>,
    /// Seconds of load per scenario.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// The looper's connections.
    #[arg(long, default_value_t = 16)]
    connections: usize,
}

struct Mesh {
    child: Child,
    url: String,
    operator: String,
}

impl Drop for Mesh {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A mesh whose mesh.yaml ends with `limits` (a `rate_limits:` section, or nothing).
fn start_mesh(bin: &Path, dir: &Path, limits: &str) -> Result<Mesh> {
    let config = dir.join("config");
    std::fs::create_dir_all(&config)?;
    std::fs::write(
        config.join("mesh.yaml"),
        format!("mesh:\n  port: 0\n{limits}"),
    )?;
    std::fs::write(
        config.join("permissions.json"),
        json!({"permissions": {"default": {
            "blackboard_read": ["*"], "blackboard_write": ["*"]
        }}})
        .to_string(),
    )?;
    let child = Command::new(bin)
        .arg("--config")
        .arg(&config)
        .arg("start")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("start {}", bin.display()))?;
    let url = openlegion_bench::mesh_url(dir, Duration::from_millis(100))?;
    let operator = std::fs::read_to_string(dir.join(".openlegion/operator.token"))?
        .trim()
        .to_owned();
    Ok(Mesh {
        child,
        url,
        operator,
    })
}

/// Registers `id` and returns its token.
fn token(mesh: &Mesh, id: &str) -> Result<String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let reply: Value = openlegion_mesh::http_client::builder()
            .build()?
            .post(format!("{}/mesh/register", mesh.url))
            .bearer_auth(&mesh.operator)
            .json(&json!({"agent_id": id}))
            .send()
            .await?
            .json()
            .await?;
        anyhow::Ok(reply["token"].as_str().context("no token")?.to_owned())
    })
}

fn writes(token: &str, prefix: &str) -> String {
    format!(
        "wrk.headers[\"Authorization\"] = \"Bearer {token}\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\ni = 0\n\
         request = function() i = i + 1; return wrk.format(\"PUT\", \"/mesh/blackboard/{prefix}/\" .. i, nil, '{{\"i\": ' .. i .. ', \"text\": \"a note of a realistic size\"}}') end"
    )
}

fn row(scenario: &str, victim: &Measured, looper: Option<&Measured>) -> String {
    let (ok, refused) = looper.map_or(("-".into(), "-".into()), |l| {
        let secs = l.requests as f64 / l.per_second;
        (
            format!("{:.0}", (l.requests - l.errors) as f64 / secs),
            format!("{:.0}", l.errors as f64 / secs),
        )
    });
    format!(
        "| {scenario} | {:.2} | {:.2} | {:.0} | {ok} | {refused} |",
        victim.p50.as_secs_f64() * 1e3,
        victim.p99.as_secs_f64() * 1e3,
        victim.per_second,
    )
}

fn main() -> Result<()> {
    let args = Args::parse();
    let bin = match args.mesh_bin {
        Some(b) => b,
        None => std::env::current_exe()?.with_file_name("openlegion"),
    };
    let secs = Duration::from_secs(args.seconds);
    println!("machine: {}", machine());
    println!(
        "\n| scenario | victim p50 ms | victim p99 ms | victim writes/s | looper writes/s accepted | looper 429/s |\n|---|---|---|---|---|---|"
    );
    let off = "rate_limits:\n  blackboard_writes_per_minute: 0\n";
    for (scenario, limits, looping) in [
        ("victim alone", off, false),
        ("looper, limits off", off, true),
        ("looper, limits on (defaults: 6000 writes/min)", "", true),
    ] {
        let dir = tempfile::tempdir()?;
        let mesh = start_mesh(&bin, dir.path(), limits)?;
        let victim = token(&mesh, "victim")?;
        let looper = token(&mesh, "looper")?;
        let load = looping.then(|| {
            let (url, script, dir) = (
                mesh.url.clone(),
                writes(&looper, "loop"),
                dir.path().join("looper"),
            );
            let c = args.connections;
            std::thread::spawn(move || {
                std::fs::create_dir_all(&dir)?;
                // A little longer than the victim's run, so the victim is loaded throughout.
                wrk(&url, c, secs + Duration::from_secs(2), &script, &dir)
            })
        });
        std::thread::sleep(Duration::from_secs(1));
        let measured = wrk(&mesh.url, 1, secs, &writes(&victim, "victim"), dir.path())?;
        let looper = match load {
            Some(t) => Some(t.join().expect("the looper's thread")?),
            None => None,
        };
        println!("{}", row(scenario, &measured, looper.as_ref()));
    }
    Ok(())
}
