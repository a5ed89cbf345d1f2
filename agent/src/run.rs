//! Start-up and shutdown of the agent process: configuration, tools, API listeners,
//! registration with the mesh, signals.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use backon::{ExponentialBuilder, Retryable};
use openlegion_agent::agent::Agent;
use openlegion_agent::config::Config;
use openlegion_agent::memory::{Memory, MeshEmbedder};
use openlegion_agent::mesh_client::MeshClient;
use openlegion_agent::skills::Skills;
use openlegion_agent::tools::Toolbox;
use openlegion_agent::turn::Runner;
use openlegion_skill_host::SkillHostSettings;
use tokio::net::{TcpListener, UnixListener};
use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

/// On the process backend the agent is the mesh's child: it must not outlive the mesh (a
/// crashed mesh would otherwise leave agents running that nothing supervises).
fn exit_with_parent() -> Result<()> {
    if std::env::var_os(openlegion_protocol::env::EXIT_WITH_PARENT).is_none() {
        return Ok(());
    }
    nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGTERM)
        .context("prctl(PR_SET_PDEATHSIG)")?;
    // The parent may have died before the call: then we were re-parented already.
    if nix::unistd::getppid() == nix::unistd::Pid::from_raw(1) {
        anyhow::bail!("the mesh that started this agent is gone");
    }
    Ok(())
}

fn init_logging() {
    crate::logging::init();
}

/// `openlegion-agent precompile DIR`: the built-in skills compiled into DIR, for the mesh
/// to bake into an agent image as the seed cache.
pub(crate) fn precompile(dir: &std::path::Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let n = run_once(openlegion_agent::skills::precompile(dir.to_owned()))??;
    println!("{n} built-in skills compiled into {}", dir.display());
    Ok(())
}

/// `openlegion-agent warm DIR`: a sample skill of each language built with the compilers
/// of `SKILL_COMPILERS` and compiled, its compiled functions kept in DIR, for the mesh to
/// bake into the full agent image beside the built-in skills.
pub(crate) fn warm(dir: &std::path::Path) -> Result<()> {
    let lines = run_once(openlegion_agent::warm(dir))?.map_err(anyhow::Error::msg)?;
    for line in lines {
        println!("{line}");
    }
    Ok(())
}

/// Runs a one-off subcommand's `work` with logging and a runtime of its own.
fn run_once<F: std::future::Future>(work: F) -> Result<F::Output> {
    init_logging();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    Ok(runtime.block_on(work))
}

pub(crate) fn main() -> Result<()> {
    exit_with_parent()?;
    init_logging();
    let config = Arc::new(Config::from_env()?);
    // Two workers: an agent is mostly waiting on the mesh and its tools.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(serve(config))
}

async fn serve(config: Arc<Config>) -> Result<()> {
    let workspace = config.workspace_dir();
    std::fs::create_dir_all(&workspace)
        .with_context(|| format!("cannot create {}", workspace.display()))?;
    if let Some(brief) = &config.project_brief {
        copy_project_brief(brief, &workspace.join("PROJECT.md"))?;
    }
    let given: Vec<(&str, &str)> = [
        ("SOUL.md", config.soul.as_deref()),
        ("HEARTBEAT.md", config.heartbeat_rules.as_deref()),
    ]
    .into_iter()
    .filter_map(|(file, text)| Some((file, text?)))
    .collect();
    let created = openlegion_agent::memory::scaffold_with(&workspace, &given);
    if !created.is_empty() {
        tracing::info!(files = ?created, "workspace templates created");
    }
    let mesh = MeshClient::new(&config.mesh, &config.token);
    let embedder: Arc<dyn openlegion_memory::Embedder> = Arc::new(MeshEmbedder::new(mesh.clone()));
    let (memory, memory_error) = match Memory::open(&config.data_dir, &workspace, Some(embedder)) {
        Ok(memory) => (Some(Arc::new(memory)), String::new()),
        Err(e) => {
            tracing::error!(error = %e, "THE AGENT HAS NO MEMORY: cannot open it");
            (None, e.to_string())
        }
    };
    if let Some(memory) = &memory {
        openlegion_agent::memory::upkeep::spawn(Arc::clone(memory));
    }
    let mut cache = SkillHostSettings::new(config.skill_cache_dir.clone());
    cache.seed_cache_dir = config.skill_cache_seed.clone();
    let skills = Skills::start(
        mesh.clone(),
        config.data_dir.clone(),
        config.data_dir.join("skills"),
        cache,
        openlegion_agent::memory::capability(memory.as_ref(), &memory_error),
    )
    .await
    .context("cannot start the skill host")?;
    let tools: Arc<dyn Toolbox> = Arc::new(skills);
    let names: Vec<String> = tools.definitions().into_iter().map(|t| t.name).collect();
    let runner = Runner {
        mesh: mesh.clone(),
        tools,
        max_tokens: config.max_tokens,
        llm_timeout: config.llm_timeout,
        learnings: openlegion_agent::learnings::Learnings::new(&workspace),
    };
    let facts = memory
        .clone()
        .map(|m| m as Arc<dyn openlegion_agent::context::FactStore>);
    let agent = Arc::new(Agent::new(Arc::clone(&config), runner, facts).with_memory(memory));
    let app = openlegion_agent::server::app(agent);
    let shutdown = CancellationToken::new();
    let mut servers = Vec::new();
    if let Some(path) = &config.socket {
        let _ = std::fs::remove_file(path);
        let listener = UnixListener::bind(path)
            .with_context(|| format!("cannot listen on {}", path.display()))?;
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        }
        let (app, stop) = (app.clone(), shutdown.clone());
        servers.push(tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await
        }));
    }
    if let Some(addr) = &config.tcp {
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let (app, stop) = (app.clone(), shutdown.clone());
        servers.push(tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await
        }));
    }
    tracing::info!(agent = %config.agent_id, tools = names.len(), "agent serving");
    tokio::spawn(register(mesh, names));
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: stopping"),
        _ = int.recv() => tracing::info!("SIGINT: stopping"),
    }
    shutdown.cancel();
    for server in servers {
        let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
    }
    if let Some(path) = &config.socket {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

/// Puts the installation's project brief into the workspace, or removes a stale copy when
/// the installation no longer has one.
fn copy_project_brief(brief: &std::path::Path, into: &std::path::Path) -> Result<()> {
    if brief.is_file() {
        std::fs::copy(brief, into)
            .with_context(|| format!("cannot copy {} to {}", brief.display(), into.display()))?;
    } else if into.is_file() {
        std::fs::remove_file(into)
            .with_context(|| format!("cannot remove the old {}", into.display()))?;
    }
    Ok(())
}

/// Announces the agent to the mesh, retrying while the mesh is not up yet.
async fn register(mesh: MeshClient, tools: Vec<String>) {
    let attempt = || mesh.register(&tools);
    let result = attempt
        .retry(
            ExponentialBuilder::default()
                .with_min_delay(Duration::from_millis(200))
                .with_max_delay(Duration::from_secs(10))
                .with_max_times(20),
        )
        .notify(|e, wait| tracing::warn!(error = %e, ?wait, "cannot register with the mesh yet"))
        .await;
    match result {
        Ok(()) => tracing::info!("registered with the mesh"),
        Err(e) => tracing::error!(error = %e, "could not register with the mesh"),
    }
}
