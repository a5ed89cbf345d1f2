//! `openlegion start`: run the mesh in this process, or in a detached child (`-d`).

use std::io::IsTerminal;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use openlegion_host::fleet::Fleet;
use openlegion_host::instance::{self, Instance};
use openlegion_host::mesh::Mesh;
use openlegion_host::state::StateDir;
use std::os::unix::process::CommandExt;
use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

use super::client::OperatorClient;
use super::{logging, repl};

/// How long `start -d` waits for the mesh to answer before giving up.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs the mesh in this process until a signal (or `/quit` in the REPL) stops it. On a
/// terminal it opens the multi-agent REPL and logs to the state directory's `mesh.log`.
pub(crate) async fn foreground(config_dir: &Path, repl: bool) -> Result<ExitCode> {
    let interactive = repl || std::io::stdin().is_terminal();
    let (config, vault) = instance::load(config_dir)?;
    super::local_model::start(&config, &vault).await;
    if interactive {
        let dir = StateDir::new(config.state_dir());
        dir.create()?;
        logging::init_file(&dir.log_file())?;
    } else {
        logging::init();
    }
    let first = config.agents.agents.keys().next().map(ToString::to_string);
    let mesh = Instance::start(config, vault).await?;
    let shutdown = mesh.shutdown_token();
    tokio::spawn(handle_signals(
        shutdown.clone(),
        Arc::clone(&mesh.mesh),
        Arc::clone(&mesh.fleet),
    ));
    if interactive {
        for failure in &mesh.start_failures {
            eprintln!("warning: {failure}");
        }
        let client = OperatorClient::new(&mesh.url, &mesh.operator_token)?;
        tokio::select! {
            outcome = repl::run(&client, first, true) => {
                if let Err(e) = outcome {
                    eprintln!("error: {e:#}");
                }
            }
            () = shutdown.cancelled() => {}
        }
        shutdown.cancel();
    }
    mesh.stopped().await?;
    Ok(ExitCode::SUCCESS)
}

/// SIGTERM/SIGINT drain and stop; SIGHUP reloads permissions.json and agents.yaml.
async fn handle_signals(shutdown: CancellationToken, mesh: Arc<Mesh>, fleet: Arc<Fleet>) {
    let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
    ) else {
        tracing::error!("cannot install signal handlers");
        return;
    };
    loop {
        tokio::select! {
            _ = term.recv() => { tracing::info!("SIGTERM: draining"); break; }
            _ = int.recv() => { tracing::info!("SIGINT: draining"); break; }
            _ = hup.recv() => match instance::reload(&mesh, &fleet).await {
                Ok((r, _)) => tracing::info!(?r, "SIGHUP: configuration reloaded"),
                Err(e) => tracing::warn!(error = %e, "SIGHUP: reload refused; keeping the configuration in force"),
            },
            () = shutdown.cancelled() => return,
        }
    }
    shutdown.cancel();
}

/// Starts the mesh as a detached child (its own process group, output to the log file) and
/// returns once it answers, or reports why it did not start.
pub(crate) async fn detach(config_dir: &Path) -> Result<ExitCode> {
    // Load here first so a config error shows in this terminal, not in a log file.
    let (config, vault) = instance::load(config_dir)?;
    super::local_model::start(&config, &vault).await;
    let state = StateDir::new(config.state_dir());
    state.create().with_context(|| {
        format!(
            "cannot create the state directory {}",
            state.root().display()
        )
    })?;
    if state.is_locked() {
        let pid = StateDir::read_trimmed(&state.pid_file()).unwrap_or_else(|_| "?".into());
        bail!(
            "a mesh is already running on {} (pid {pid})",
            state.root().display()
        );
    }
    let _ = std::fs::remove_file(state.addr_file());
    let log_path = state.log_file();
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .with_context(|| format!("cannot open the log file {}", log_path.display()))?;
    let mut child = Command::new(std::env::current_exe()?)
        .arg("--config")
        .arg(&config.dir)
        .arg("start")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0)
        .spawn()
        .context("cannot start the mesh process")?;
    let http = openlegion_host::http_client::builder()
        .timeout(Duration::from_secs(2))
        .build()?;
    let deadline = Instant::now() + READY_TIMEOUT;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait()? {
            let log_text = std::fs::read_to_string(&log_path).unwrap_or_default();
            let tail: Vec<&str> = log_text.lines().rev().take(5).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            bail!(
                "the mesh exited during start-up ({status}); last lines of {}:\n{}",
                log_path.display(),
                tail.join("\n")
            );
        }
        if let Ok(url) = StateDir::read_trimmed(&state.addr_file())
            && http
                .get(format!("{url}/mesh/health"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
        {
            println!("OpenLegion mesh started (pid {}) on {url}", child.id());
            println!("log: {}", log_path.display());
            return Ok(ExitCode::SUCCESS);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!(
        "the mesh did not answer within {}s; see {}",
        READY_TIMEOUT.as_secs(),
        log_path.display()
    )
}
