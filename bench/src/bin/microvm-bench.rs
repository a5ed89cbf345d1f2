//! MicroVM benchmark, beside runc and runsc in the same run:
//!
//! - boot to the first 200 on `GET /status` over the agent's socket, through the platform's
//!   own backends (for the VM: QEMU start, kernel, initramfs, the agent, all over the
//!   virtio-serial link); the root disk and images are built before timing starts;
//! - idle memory per agent, three running side by side: PSS of the QEMU process (guest
//!   memory it has touched included), against the container's processes and its shim;
//! - one chat turn with one tool call end to end (operator → mesh → agent → mock LLM →
//!   WebAssembly tool → …), with a real mesh running the agent on each backend.
//!
//! Run with `bench/microvm.sh` (release build); needs QEMU and a guest kernel
//! (`.ci/microvm.sh`), and a Docker engine with runsc for the container rows.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use openlegion_bench::platform::Platform;
use openlegion_bench::procs::{pss_kib, shim_of, tree_pss_kib};
use openlegion_bench::{machine, p50_p99};
use openlegion_mesh::config::{AgentImage, MicrovmAccel, MicrovmSection};
use openlegion_mesh::runtime::docker::{self, DockerBackend};
use openlegion_mesh::runtime::microvm::MicrovmBackend;
use openlegion_mesh::runtime::{AgentSpec, RuntimeBackend};
use openlegion_protocol::AgentId;
use serde_json::json;

/// Every container and volume of this benchmark carries it, for the cleanup.
const LABEL: &str = "dev.openlegion.bench";
/// The mesh instance the backends run as (VM and container names).
const INSTANCE: &str = "bench";

#[derive(Debug, Parser)]
struct Args {
    /// Boots to time per backend.
    #[arg(long, default_value_t = 5)]
    boots: usize,
    /// Chat turns to time per backend.
    #[arg(long, default_value_t = 20)]
    turns: usize,
    /// `tcg` or `kvm` (default: what the machine allows).
    #[arg(long)]
    accel: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Runc,
    Runsc,
    Microvm,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Runc => "runc",
            Kind::Runsc => "runsc (gVisor)",
            Kind::Microvm => "microVM",
        }
    }

    fn isolation(self) -> &'static str {
        match self {
            Kind::Runc => "docker",
            Kind::Runsc => "gvisor",
            Kind::Microvm => "microvm",
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn cleanup() {
    for args in [
        vec!["ps", "-aq", "--filter"],
        vec!["volume", "ls", "-q", "--filter"],
    ] {
        let filter = format!("label={LABEL}");
        let mut list = args.clone();
        list.push(&filter);
        let Ok(out) = Command::new("docker").args(&list).output() else {
            continue;
        };
        let ids = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        if ids.is_empty() {
            continue;
        }
        let mut rm: Vec<&str> = if args[0] == "volume" {
            vec!["volume", "rm", "-f"]
        } else {
            vec!["rm", "-f", "-v"]
        };
        rm.extend(ids.lines());
        let _ = Command::new("docker").args(&rm).output();
    }
}

fn section(accel: Option<&str>) -> Result<MicrovmSection> {
    Ok(MicrovmSection {
        accel: match accel {
            None => None,
            Some("tcg") => Some(MicrovmAccel::Tcg),
            Some("kvm") => Some(MicrovmAccel::Kvm),
            Some(other) => bail!("--accel {other}: tcg or kvm"),
        },
        ..MicrovmSection::default()
    })
}

async fn backend(kind: Kind, accel: Option<&str>) -> Result<Arc<dyn RuntimeBackend>> {
    let binary = std::env::current_exe()?.with_file_name("openlegion-agent");
    let progress: docker::Progress = Arc::new(|line: &str| eprintln!("{line}"));
    Ok(match kind {
        Kind::Microvm => Arc::new(
            MicrovmBackend::new(&section(accel)?, INSTANCE.into(), &binary, progress).await?,
        ),
        Kind::Runc | Kind::Runsc => {
            let engine = docker::connect().await?;
            let labels = [(LABEL.to_owned(), "1".to_owned())].into();
            Arc::new(
                DockerBackend::new(
                    engine,
                    INSTANCE.into(),
                    labels,
                    &binary,
                    kind == Kind::Runsc,
                    progress,
                )
                .await?,
            )
        }
    })
}

/// The agent `id` under `root`, with the environment the mesh would give it on `backend`.
fn spec(backend: &dyn RuntimeBackend, id: &str, root: &Path) -> Result<AgentSpec> {
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
        memory_bytes: Some(512 << 20),
        cpus: Some(1.0),
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
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// `n` boots (start → first 200 → stop); the first is reported apart.
async fn boots(backend: &dyn RuntimeBackend, n: usize, dir: &Path) -> Result<Vec<Duration>> {
    let spec = spec(backend, "boot", &dir.join("boot"))?;
    let socket = spec.run_dir.join("agent.sock");
    let mut times = Vec::new();
    for _ in 0..n {
        let _ = std::fs::remove_file(&socket);
        let started = Instant::now();
        backend.start(&spec).await?;
        first_status(&socket, Duration::from_secs(600)).await?;
        times.push(started.elapsed());
        backend.stop("boot").await?;
    }
    backend.purge(&spec).await?;
    Ok(times)
}

/// The QEMU process of VM `openlegion-bench-{agent}`.
fn qemu_of(agent: &str) -> Option<u32> {
    let wanted = format!("guest=openlegion-{INSTANCE}-{agent},");
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: u32 = e.file_name().to_string_lossy().parse().ok()?;
        let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
        String::from_utf8_lossy(&cmdline)
            .contains(&wanted)
            .then_some(pid)
    })
}

/// Three idle agents side by side: MiB of PSS each, for what runs the agent (QEMU; the
/// container's processes) and, for containers, the containerd shim.
async fn idle(kind: Kind, backend: &dyn RuntimeBackend, dir: &Path) -> Result<(f64, f64)> {
    let mut specs = Vec::new();
    for i in 0..3 {
        let spec = spec(backend, &format!("idle{i}"), &dir.join(format!("idle{i}")))?;
        backend.start(&spec).await?;
        first_status(&spec.run_dir.join("agent.sock"), Duration::from_secs(600)).await?;
        specs.push(spec);
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (mut contents, mut shims) = (0, 0);
    for spec in &specs {
        let agent = spec.id.as_str();
        if kind == Kind::Microvm {
            contents += pss_kib(qemu_of(agent).context("the VM's QEMU")?);
        } else {
            let name = format!("openlegion-{INSTANCE}-{agent}");
            let out = Command::new("docker")
                .args(["inspect", "--format", "{{.State.Pid}}", &name])
                .output()?;
            let pid: u32 = String::from_utf8_lossy(&out.stdout).trim().parse()?;
            let shim = shim_of(pid).context("the container's shim")?;
            contents += tree_pss_kib(shim) - pss_kib(shim);
            shims += pss_kib(shim);
        }
    }
    for spec in &specs {
        backend.stop(spec.id.as_str()).await?;
        backend.purge(spec).await?;
    }
    let mib = |kib: u64| kib as f64 / specs.len() as f64 / 1024.0;
    Ok((mib(contents), mib(shims)))
}

/// `turns` chat turns with one tool call, through a real mesh running the agent on `kind`.
async fn chat(kind: Kind, turns: usize, accel: Option<&str>) -> Result<Vec<Duration>> {
    let mut runtime = format!("  labels:\n    {LABEL}: \"1\"\n");
    if let Some(accel) = accel {
        runtime.push_str(&format!("  microvm:\n    accel: {accel}\n"));
    }
    let platform =
        Platform::start_isolated(kind.isolation(), &runtime, &[], Duration::from_secs(900)).await?;
    let script = (0..=turns)
        .flat_map(|_| {
            [
                json!({"type": "tool_calls", "calls": [{"name": "write_file", "arguments": {"path": "bench.txt", "content": "benchmark"}}]}),
                json!({"type": "text", "text": "Written."}),
            ]
        })
        .collect();
    platform.script(script).await?;
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
    Ok(times)
}

fn main() -> Result<()> {
    let args = Args::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    println!("machine: {}", machine());
    let accel = args.accel.as_deref();
    let result = rt.block_on(async {
        let dir = tempfile::tempdir()?;
        let mut boot_rows = Vec::new();
        let mut idle_rows = Vec::new();
        let mut chat_rows = Vec::new();
        for kind in [Kind::Runc, Kind::Runsc, Kind::Microvm] {
            let backend = backend(kind, accel).await?;
            let mut times = boots(backend.as_ref(), args.boots + 1, dir.path()).await?;
            let first = times.remove(0);
            let (p50, _) = p50_p99(&mut times);
            let (min, max) = (times[0], times[times.len() - 1]);
            boot_rows.push(format!(
                "| {} | {} | {:.0} | {:.0} | {:.0} | {:.0} |",
                kind.name(),
                times.len(),
                ms(first),
                ms(p50),
                ms(min),
                ms(max)
            ));
            let (contents, shim) = idle(kind, backend.as_ref(), dir.path()).await?;
            idle_rows.push(if kind == Kind::Microvm {
                format!(
                    "| {} | {contents:.1} (QEMU, guest memory included) | – | {contents:.1} |",
                    kind.name()
                )
            } else {
                format!(
                    "| {} | {contents:.1} | {shim:.1} | {:.1} |",
                    kind.name(),
                    contents + shim
                )
            });
            drop(backend);
            let mut turns = chat(kind, args.turns, accel).await?;
            let (p50, p99) = p50_p99(&mut turns);
            chat_rows.push(format!(
                "| {} | {} | {:.1} | {:.1} |",
                kind.name(),
                turns.len(),
                ms(p50),
                ms(p99)
            ));
            cleanup();
        }
        println!(
            "\n| boot to first 200 on /status | n | first ms | p50 ms | min ms | max ms |\n|---|---|---|---|---|---|"
        );
        boot_rows.iter().for_each(|r| println!("{r}"));
        println!(
            "\n| idle agent, 3 running: PSS MiB each | agent's processes | containerd shim | total |\n|---|---|---|---|"
        );
        idle_rows.iter().for_each(|r| println!("{r}"));
        println!(
            "\n| chat turn with one tool call, end to end | n | p50 ms | p99 ms |\n|---|---|---|---|"
        );
        chat_rows.iter().for_each(|r| println!("{r}"));
        Ok::<_, anyhow::Error>(())
    });
    cleanup();
    result
}
