//! Mesh benchmark: blackboard GET and durable PUT, publish and message routing over
//! loopback HTTP at concurrency 1 and 32, plus the mesh's idle and loaded memory.
//!
//! Run with `bench/mesh.sh`, which builds the release binaries first. The load comes from
//! wrk on one thread; the mesh and wrk share the machine's cores.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Parser;
use openlegion_bench::{Measured, machine, rss_kib, wrk};
use serde_json::{Value, json};

#[derive(Debug, Parser)]
struct Args {
    /// The `openlegion` binary (default: beside this one).
    #[arg(long)]
    mesh_bin: Option<PathBuf>,
    /// Seconds of load per scenario.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
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

fn start_mesh(bin: &Path, dir: &Path) -> Result<Mesh> {
    let config = dir.join("config");
    std::fs::create_dir(&config)?;
    // Inboxes are never drained here, so lift their bound above what 5 s of load queues;
    // one agent's token drives all the load, so its rate limits are off (this measures the
    // mesh, not the limits: bench/limits.sh does).
    std::fs::write(
        config.join("mesh.yaml"),
        "mesh:\n  port: 0\n  inbox_max: 10000000\nrate_limits:\n  blackboard_writes_per_minute: 0\n  messages_per_minute: 0\n  publishes_per_minute: 0\n  llm_calls_per_minute: 0\n",
    )?;
    let all = json!(["*"]);
    std::fs::write(
        config.join("permissions.json"),
        json!({"permissions": {"default": {
            "blackboard_read": all, "blackboard_write": all, "can_message": all,
            "can_publish": all, "can_subscribe": all
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

fn row(name: &str, c: usize, m: &Measured) -> String {
    format!(
        "| {name} | {c} | {:.0} | {:.2} | {:.2} | {} |",
        m.per_second,
        m.p50.as_secs_f64() * 1e3,
        m.p99.as_secs_f64() * 1e3,
        m.errors
    )
}

fn main() -> Result<()> {
    let args = Args::parse();
    let bin = match args.mesh_bin {
        Some(b) => b,
        None => std::env::current_exe()?.with_file_name("openlegion"),
    };
    let secs = Duration::from_secs(args.seconds);
    let dir = tempfile::tempdir()?;
    println!("machine: {}", machine());
    let mesh = start_mesh(&bin, dir.path())?;
    let pid = mesh.child.id();
    std::thread::sleep(Duration::from_millis(500));
    let (idle_rss, _) = rss_kib(pid);

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (a, _b) = rt.block_on(setup(&mesh))?;

    let auth = format!(
        "wrk.headers[\"Authorization\"] = \"Bearer {a}\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\ni = 0\n"
    );
    let scenarios = [
        ("blackboard GET", r#"request = function() i = i + 1; return wrk.format("GET", "/mesh/blackboard/bench/read/" .. (i % 100)) end"#.to_owned()),
        ("blackboard PUT (durable)", r#"request = function() i = i + 1; return wrk.format("PUT", "/mesh/blackboard/bench/write/" .. math.random(1000000000) .. "/" .. i, nil, '{"i": ' .. i .. ', "text": "a durable write, committed before the 200"}') end"#.to_owned()),
        ("publish (1 subscriber)", r#"request = function() i = i + 1; return wrk.format("POST", "/mesh/publish", nil, '{"topic": "bench", "payload": {"i": ' .. i .. '}}') end"#.to_owned()),
        ("message a→b (to inbox)", r#"request = function() i = i + 1; return wrk.format("POST", "/mesh/message", nil, '{"to": "b", "type": "event", "payload": {"i": ' .. i .. '}}') end"#.to_owned()),
    ];
    println!(
        "\n| scenario | connections | requests/s | p50 ms | p99 ms | errors |\n|---|---|---|---|---|---|"
    );
    for c in [1, 32] {
        for (name, script) in &scenarios {
            let m = wrk(&mesh.url, c, secs, &format!("{auth}{script}"), dir.path())?;
            println!("{}", row(name, c, &m));
        }
    }
    let (loaded_rss, peak) = rss_kib(pid);
    println!(
        "\nmesh RSS: idle {:.1} MiB, after the load {:.1} MiB, peak {:.1} MiB",
        idle_rss as f64 / 1024.0,
        loaded_rss as f64 / 1024.0,
        peak as f64 / 1024.0
    );
    Ok(())
}

/// Registers agents a and b, subscribes b to `bench`, and writes the 100 keys GET reads.
async fn setup(mesh: &Mesh) -> Result<(String, String)> {
    let http = openlegion_mesh::http_client::builder().build()?;
    let register = |id: &'static str| {
        let http = http.clone();
        async move {
            let reply: Value = http
                .post(format!("{}/mesh/register", mesh.url))
                .bearer_auth(&mesh.operator)
                .json(&json!({"agent_id": id}))
                .send()
                .await?
                .json()
                .await?;
            anyhow::Ok(reply["token"].as_str().context("no token")?.to_owned())
        }
    };
    let a = register("a").await?;
    let b = register("b").await?;
    http.post(format!("{}/mesh/subscribe?topic=bench", mesh.url))
        .bearer_auth(&b)
        .send()
        .await?
        .error_for_status()?;
    for k in 0..100 {
        http.put(format!("{}/mesh/blackboard/bench/read/{k}", mesh.url))
            .bearer_auth(&a)
            .json(&json!({"k": k, "text": "a value of a realistic size for a shared note between agents"}))
            .send()
            .await?
            .error_for_status()?;
    }
    Ok((a, b))
}
