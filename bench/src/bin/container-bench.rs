//! Container benchmark, on the local Docker engine:
//!
//! - agent cold start with runc and with runsc (gVisor): create + start of the hardened
//!   container through the platform's own Docker backend, to the first 200 on `GET /status`
//!   over the agent's socket; p50 and p99;
//! - idle memory per agent container: PSS of the container's shim and everything under it
//!   (the init, the agent; for gVisor the sandbox and gofer), five running side by side;
//! - fifty agents started at once by a real mesh (`openlegion start`): the time until every
//!   one answers through the mesh, and the mesh's own latency meanwhile.
//!
//! Run with `bench/containers.sh` (release build); needs a Docker engine, and runsc
//! registered for the gVisor rows.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use openlegion_bench::machine;
use openlegion_bench::platform::Proc;
use openlegion_bench::procs::{pss_kib, shim_of, tree_pss_kib};
use openlegion_mesh::config::AgentImage;
use openlegion_mesh::runtime::docker::{self, DockerBackend};
use openlegion_mesh::runtime::{AgentSpec, RuntimeBackend};
use openlegion_protocol::AgentId;

/// Every container and volume of this benchmark carries it, for the cleanup.
const LABEL: &str = "dev.openlegion.bench";

#[derive(Debug, Parser)]
struct Args {
    /// Cold starts to time per runtime.
    #[arg(long, default_value_t = 20)]
    starts: usize,
    /// Agents started at once by one mesh.
    #[arg(long, default_value_t = 50)]
    fleet: usize,
    /// Skip the gVisor rows.
    #[arg(long)]
    no_gvisor: bool,
    /// Only these tables (default: all).
    #[arg(long, value_enum, value_delimiter = ',')]
    only: Vec<Table>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Table {
    Cold,
    Idle,
    Fleet,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

fn docker_cli(args: &[&str]) -> Result<String> {
    let out = Command::new("docker").args(args).output()?;
    if !out.status.success() {
        bail!("docker {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn cleanup() {
    for kind in [["ps", "-aq"], ["volume", "ls"]] {
        let mut args = kind.to_vec();
        if kind[0] == "volume" {
            args.push("-q");
        }
        let filter = format!("label={LABEL}");
        args.extend(["--filter", &filter]);
        let Ok(ids) = docker_cli(&args) else { continue };
        if ids.is_empty() {
            continue;
        }
        let mut rm: Vec<&str> = if kind[0] == "volume" {
            vec!["volume", "rm", "-f"]
        } else {
            vec!["rm", "-f", "-v"]
        };
        rm.extend(ids.lines());
        let _ = docker_cli(&rm);
    }
}

/// The spec of one benchmark agent, with its directories under `root`.
/// The agent `id` under `root`, with the environment the mesh would give it on `backend`.
fn spec(backend: &DockerBackend, id: &str, root: &Path) -> Result<AgentSpec> {
    let run = root.join("run");
    let data = root.join("data");
    std::fs::create_dir_all(&run)?;
    std::fs::create_dir_all(&data)?;
    let env = [
        ("AGENT_ID", id),
        ("MESH_URL", "unix:/run/mesh/mesh.sock"),
        ("MESH_AUTH_TOKEN", "olt_bench"),
        ("DATA_DIR", "/data"),
        ("AGENT_SOCKET", "/run/mesh/agent.sock"),
        ("SKILL_CACHE_DIR", "/run/mesh/cache"),
        ("ALLOWED_CAPABILITIES", "log,workspace,mesh,process"),
        ("RUST_LOG", "error"),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .to_vec();
    let mut spec = AgentSpec {
        id: AgentId::new_agent(id)?,
        env,
        data_dir: data,
        run_dir: run,
        memory_bytes: None,
        cpus: None,
        image: AgentImage::Minimal,
    };
    spec.env.extend(backend.inside(&spec).env);
    Ok(spec)
}

/// Waits for the first 200 on `/status` at `socket`.
async fn first_status(socket: &Path, limit: Duration) -> Result<()> {
    let started = Instant::now();
    let client = openlegion_mesh::http_client::builder()
        .unix_socket(socket.to_owned())
        .timeout(Duration::from_secs(2))
        .build()?;
    loop {
        if started.elapsed() > limit {
            bail!("no 200 on /status at {} within {limit:?}", socket.display());
        }
        if socket.exists()
            && client
                .get("http://agent/status")
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

async fn backend(gvisor: bool) -> Result<DockerBackend> {
    let engine = docker::connect().await?;
    let binary = std::env::current_exe()?.with_file_name("openlegion-agent");
    let labels = [(LABEL.to_owned(), "1".to_owned())].into();
    let progress: docker::Progress = Arc::new(|line: &str| eprintln!("{line}"));
    Ok(DockerBackend::new(engine, "bench".into(), labels, &binary, gvisor, progress).await?)
}

/// Cold starts: `n` times create + start + first 200, then stop and remove. The first
/// start (the image's first use, the agent's own cache empty) is reported apart.
async fn cold_starts(gvisor: bool, n: usize, dir: &Path) -> Result<(Duration, Vec<Duration>)> {
    let backend = backend(gvisor).await?;
    let spec = spec(
        &backend,
        "coldstart",
        &dir.join(if gvisor { "runsc" } else { "runc" }),
    )?;
    let socket = spec.run_dir.join("agent.sock");
    let mut times = Vec::new();
    for _ in 0..=n {
        let _ = std::fs::remove_file(&socket);
        let started = Instant::now();
        backend.start(&spec).await?;
        first_status(&socket, Duration::from_secs(60)).await?;
        times.push(started.elapsed());
        backend.stop("coldstart").await?;
    }
    backend.purge(&spec).await?;
    let first = times.remove(0);
    times.sort();
    Ok((first, times))
}

/// Idle memory of one agent container, in MiB of PSS: what runs in it (init and agent, and
/// for runsc the sandbox and gofer), and the containerd shim Docker keeps beside each.
struct Idle {
    contents: f64,
    shim: f64,
}

/// Five idle agents side by side; the mean of each one's memory.
async fn idle_memory(gvisor: bool, dir: &Path) -> Result<Idle> {
    let backend = backend(gvisor).await?;
    let runtime = if gvisor { "runsc" } else { "runc" };
    let mut specs = Vec::new();
    for i in 0..5 {
        let spec = spec(
            &backend,
            &format!("idle{i}"),
            &dir.join(format!("idle-{runtime}-{i}")),
        )?;
        backend.start(&spec).await?;
        first_status(&spec.run_dir.join("agent.sock"), Duration::from_secs(60)).await?;
        specs.push(spec);
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (mut tree, mut shims) = (0, 0);
    for spec in &specs {
        let name = format!("openlegion-bench-{}", spec.id);
        let pid: u32 = docker_cli(&["inspect", "--format", "{{.State.Pid}}", &name])?.parse()?;
        // The container's init is a child of its shim (runc), or of the sandbox whose
        // parent is the shim (runsc): take the shim's whole tree, and the shim apart.
        let shim = shim_of(pid).context("the container's shim")?;
        tree += tree_pss_kib(shim);
        shims += pss_kib(shim);
    }
    for spec in &specs {
        backend.stop(spec.id.as_str()).await?;
        backend.purge(spec).await?;
    }
    let mib = |kib: u64| kib as f64 / specs.len() as f64 / 1024.0;
    Ok(Idle {
        contents: mib(tree - shims),
        shim: mib(shims),
    })
}

/// `n` agents in one agents.yaml, started by `openlegion start`: the time until all answer
/// through the mesh, and the mesh's latency (GET /mesh/agents) while they come up.
async fn fleet(n: usize, dir: &Path) -> Result<(Duration, Vec<Duration>, Duration)> {
    let exe = std::env::current_exe()?;
    let config = dir.join("fleet/config");
    std::fs::create_dir_all(&config)?;
    std::fs::write(
        config.join("mesh.yaml"),
        format!(
            "mesh:\n  port: 0\nruntime:\n  isolation: docker\n  agent_binary: {}\n  labels:\n    {LABEL}: \"1\"\n",
            exe.with_file_name("openlegion-agent").display()
        ),
    )?;
    let agents: String = (0..n)
        .map(|i| format!("  a{i:02}:\n    role: bench\n"))
        .collect();
    std::fs::write(config.join("agents.yaml"), format!("agents:\n{agents}"))?;
    std::fs::write(
        config.join("permissions.json"),
        r#"{"permissions": {"default": {}}}"#,
    )?;
    let started = Instant::now();
    let mut mesh = Proc(
        Command::new(exe.with_file_name("openlegion"))
            .arg("--config")
            .arg(&config)
            .arg("start")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?,
    );
    let state = dir.join("fleet/.openlegion");
    let (url, token) = openlegion_bench::started_mesh(&state, Duration::from_secs(60)).await?;
    let http = openlegion_mesh::http_client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;
    let mut pending: Vec<String> = (0..n).map(|i| format!("a{i:02}")).collect();
    let mut latencies = Vec::new();
    while !pending.is_empty() {
        if started.elapsed() > Duration::from_secs(300) {
            bail!("{} agents did not come up: {pending:?}", pending.len());
        }
        let asked = Instant::now();
        http.get(format!("{url}/mesh/agents"))
            .bearer_auth(&token)
            .send()
            .await?
            .error_for_status()?;
        latencies.push(asked.elapsed());
        let mut still = Vec::new();
        for id in pending {
            let up = http
                .get(format!("{url}/mesh/agents/{id}/api/status"))
                .bearer_auth(&token)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if !up {
                still.push(id);
            }
        }
        pending = still;
    }
    let ready = started.elapsed();
    latencies.sort();
    let stopping = Instant::now();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(mesh.0.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )?;
    mesh.0.wait()?;
    Ok((ready, latencies, stopping.elapsed()))
}

fn main() -> Result<()> {
    let args = Args::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    println!("machine: {}", machine());
    println!(
        "docker: {}",
        docker_cli(&["version", "--format", "{{.Server.Version}}"])?
    );
    cleanup();
    let dir = tempfile::tempdir()?;
    let result = rt.block_on(async {
        let mut runtimes = vec![false];
        if !args.no_gvisor {
            runtimes.push(true);
        }
        let wanted = |table| args.only.is_empty() || args.only.contains(&table);
        if wanted(Table::Cold) {
            println!(
                "\n| agent cold start: create + start + first 200 on /status | n | first ms | p50 ms | p99 ms |\n|---|---|---|---|---|"
            );
        }
        for &gvisor in runtimes.iter().filter(|_| wanted(Table::Cold)) {
            let (first, times) = cold_starts(gvisor, args.starts, dir.path()).await?;
            println!(
                "| {} | {} | {:.0} | {:.0} | {:.0} |",
                if gvisor { "runsc (gVisor)" } else { "runc" },
                times.len(),
                ms(first),
                ms(percentile(&times, 0.5)),
                ms(percentile(&times, 0.99))
            );
        }
        if wanted(Table::Idle) {
            println!(
                "\n| idle agent container, 5 running: PSS MiB each | in the container (init + agent; runsc: + sandbox, gofer) | containerd shim | total |\n|---|---|---|---|"
            );
        }
        for &gvisor in runtimes.iter().filter(|_| wanted(Table::Idle)) {
            let idle = idle_memory(gvisor, dir.path()).await?;
            println!(
                "| {} | {:.1} | {:.1} | {:.1} |",
                if gvisor { "runsc (gVisor)" } else { "runc" },
                idle.contents,
                idle.shim,
                idle.contents + idle.shim
            );
        }
        if !wanted(Table::Fleet) {
            return Ok(());
        }
        let (ready, latencies, stop) = fleet(args.fleet, dir.path()).await?;
        println!(
            "\n| {} agents started at once by one mesh (runc) | s |\n|---|---|\n| all answering /status through the mesh | {:.1} |\n| mesh GET /mesh/agents meanwhile: p50 / p99 ms (n={}) | {:.1} / {:.1} |\n| stop (SIGTERM until the mesh exits, containers removed) | {:.1} |",
            args.fleet,
            ready.as_secs_f64(),
            latencies.len(),
            ms(percentile(&latencies, 0.5)),
            ms(percentile(&latencies, 0.99)),
            stop.as_secs_f64()
        );
        Ok::<_, anyhow::Error>(())
    });
    cleanup();
    result
}
