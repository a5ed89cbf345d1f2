//! `openlegion start`: run the mesh in this process, or in a detached child (`-d`).

use std::io::IsTerminal;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use openlegion_mesh::config::Config;
use openlegion_mesh::fleet::{Backends, Fleet};
use openlegion_mesh::instance::{self, Instance};
use openlegion_mesh::mesh::Mesh;
use openlegion_mesh::state_dir::StateDir;
use std::os::unix::process::CommandExt;
use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

use super::client::OperatorClient;
use super::progress::Activity;
use super::{logging, ready, repl};

/// How long `start -d` waits for the mesh to answer before giving up.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs the mesh in this process until a signal (or `/quit` in the REPL) stops it. On a
/// terminal it opens the multi-agent REPL and logs to the state directory's `mesh.log`.
pub(crate) async fn foreground(
    config_dir: &Path,
    repl: bool,
    port: Option<u16>,
) -> Result<ExitCode> {
    let interactive = repl || std::io::stdin().is_terminal();
    let (mut config, vault) = instance::load(config_dir)?;
    let history = StateDir::new(config.state_dir())
        .root()
        .join(repl::HISTORY_FILE);
    if let Some(port) = port {
        config.mesh.mesh.port = port;
    }
    super::local_model::start(&config, &vault).await;
    if interactive {
        let dir = StateDir::new(config.state_dir());
        dir.create()?;
        logging::init_file(&dir.log_file())?;
    } else {
        logging::init();
    }
    let first = config.agents.agents.keys().next().map(ToString::to_string);
    let expected = ready::expected(&config);
    if interactive {
        prebuild_images(&config).await;
    }
    let mesh = Instance::start(config, vault).await?;
    let shutdown = mesh.shutdown_token();
    tokio::spawn(handle_signals(
        shutdown.clone(),
        Arc::clone(&mesh.mesh),
        Arc::clone(&mesh.fleet),
    ));
    for failure in &mesh.start_failures {
        eprintln!("warning: {failure}");
    }
    // Without a terminal (a service, `start -d`'s child) the output is a log: its own lines
    // (`mesh listening` with the URL, each agent's start) say what these would.
    if interactive {
        let client = OperatorClient::new(&mesh.url, &mesh.operator_token)?;
        println!("OpenLegion mesh on {}", mesh.url);
        ready::announce(&client, expected).await;
        tokio::select! {
            outcome = repl::run(&client, first, true, Some(history)) => {
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

/// On a terminal, builds the images the agents need before the mesh starts them, with a
/// progress spinner (the mesh would build them itself, a line per step). A failure is
/// left for the start to report.
async fn prebuild_images(config: &Config) {
    let activity = Activity::start("preparing the agents' container images");
    let backends = Backends::new(config, activity.callback());
    match backends.prepare(&config.agents).await {
        Ok(images) if images.is_empty() => activity.clear(),
        Ok(_) => activity.finish("the agent images are ready"),
        Err(_) => {
            activity.fail();
        }
    }
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
pub(crate) async fn detach(config_dir: &Path, port: Option<u16>) -> Result<ExitCode> {
    // Load here first so a config error shows in this terminal, not in a log file.
    let (config, vault) = instance::load(config_dir)?;
    let expected = ready::expected(&config);
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
    let mut command = Command::new(std::env::current_exe()?);
    command.arg("--config").arg(&config.dir).arg("start");
    if let Some(port) = port {
        command.arg("--port").arg(port.to_string());
    }
    let mut child = command
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0)
        .spawn()
        .context("cannot start the mesh process")?;
    let http = openlegion_mesh::http_client::builder()
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
            if let Some(client) = OperatorClient::for_config(&config)? {
                ready::announce(&client, expected).await;
            }
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
