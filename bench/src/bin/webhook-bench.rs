//! Webhook benchmark: `POST /webhook/hook/{id}` until the 202 (the payload committed in the
//! agent's lane), unsigned and signed with a fresh delivery id each (HMAC check plus the
//! replay-table insert), at concurrency 1 and 32.
//!
//! Run with `bench/webhooks.sh`, which builds the release binaries first. The load comes
//! from wrk on one thread; the mesh and wrk share the machine's cores. The agents are not
//! started (`isolation: external`), so items stay queued and only the intake is measured.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Parser;
use openlegion_bench::{machine, wrk};
use openlegion_mesh::webhooks::signature::sign;
use serde_json::json;

const SECRET: &str = "bench-secret";
const BODY: &str = r#"{"action":"opened","issue":{"number":1347,"title":"Found a bug","body":"I'm having a problem with this."},"repository":{"full_name":"octocat/Hello-World"}}"#;

#[derive(Debug, Parser)]
struct Args {
    /// The `openlegion` binary (default: beside this one).
    #[arg(long)]
    mesh_bin: Option<PathBuf>,
    /// Seconds of load per scenario.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
}

struct Mesh(Child);

impl Drop for Mesh {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// (name, connections, signed): one hook and agent each, so every lane starts empty.
const SCENARIOS: [(&str, usize, bool); 4] = [
    ("unsigned", 1, false),
    ("unsigned", 32, false),
    ("signed + delivery id", 1, true),
    ("signed + delivery id", 32, true),
];

fn hook_id(n: usize) -> String {
    format!("hook_{n:032x}")
}

fn start_mesh(bin: &Path, dir: &Path) -> Result<(Mesh, String)> {
    let config = dir.join("config");
    std::fs::create_dir(&config)?;
    std::fs::write(
        config.join("mesh.yaml"),
        "mesh:\n  port: 0\nruntime:\n  isolation: external\n",
    )?;
    let mut agents = String::from("agents:\n");
    let mut hooks = serde_json::Map::new();
    for (n, (_, _, signed)) in SCENARIOS.iter().enumerate() {
        agents.push_str(&format!(
            "  a{n}:\n    role: bench\n    lanes:\n      max: 100000\n"
        ));
        let mut hook = json!({
            "id": hook_id(n), "name": format!("h{n}"), "agent": format!("a{n}"),
            "created_at": "2026-01-01T00:00:00Z", "rate_per_minute": u32::MAX
        });
        if *signed {
            hook["secret_env"] = json!("BENCH_HOOK_SECRET");
        }
        hooks.insert(hook_id(n), hook);
    }
    std::fs::write(config.join("agents.yaml"), agents)?;
    std::fs::write(
        config.join("webhooks.json"),
        json!({ "hooks": hooks }).to_string(),
    )?;
    std::fs::write(config.join("permissions.json"), r#"{"permissions": {}}"#)?;
    let child = Command::new(bin)
        .arg("--config")
        .arg(&config)
        .arg("start")
        .env("RUST_LOG", "warn")
        .env("OPENLEGION_CRED_BENCH_HOOK_SECRET", SECRET)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("start {}", bin.display()))?;
    let mesh = Mesh(child);
    let url = openlegion_bench::mesh_url(dir, Duration::from_millis(300))?;
    Ok((mesh, url))
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
    let (_mesh, url) = start_mesh(&bin, dir.path())?;
    let signature = sign(SECRET.as_bytes(), BODY.as_bytes());
    let body = serde_json::to_string(BODY)?;
    println!(
        "\n| scenario | connections | deliveries/s | p50 ms | p99 ms | errors |\n|---|---|---|---|---|---|"
    );
    for (n, (name, c, signed)) in SCENARIOS.iter().enumerate() {
        let mut script = format!(
            "wrk.method = \"POST\"\nwrk.body = {body}\nwrk.headers[\"Content-Type\"] = \"application/json\"\n"
        );
        if *signed {
            script.push_str(&format!(
                "wrk.headers[\"X-Hub-Signature-256\"] = \"{signature}\"\n"
            ));
        }
        let delivery = if *signed {
            "wrk.headers[\"X-Webhook-Delivery\"] = \"d-\" .. math.random(1000000000) .. \"-\" .. i; "
        } else {
            ""
        };
        script.push_str(&format!(
            "i = 0\nrequest = function() i = i + 1; {delivery}return wrk.format(nil, \"/webhook/hook/{}\") end\n",
            hook_id(n)
        ));
        let m = wrk(&url, *c, secs, &script, dir.path())?;
        println!(
            "| {name} | {c} | {:.0} | {:.2} | {:.2} | {} |",
            m.per_second,
            m.p50.as_secs_f64() * 1e3,
            m.p99.as_secs_f64() * 1e3,
            m.errors
        );
    }
    Ok(())
}
