//! One running mesh, assembled from a configuration directory: the state directory and its
//! instance lock, the services ([`Mesh`]), the operator's token, the HTTP listener and the
//! fleet of agents. `openlegion start` is a thin layer over this (logging, the REPL,
//! signals), and tests can start a whole mesh in-process with it.
//!
//! What it does not own: how the process is told to stop (the caller cancels
//! [`Instance::shutdown_token`]) and where logs go.

use std::fs::File;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::auth::{Caller, hash_token, mint_token};
use crate::config::{Config, ConfigError};
use crate::fleet::{Fleet, FleetError};
use crate::mesh::{Mesh, MeshError, Reloaded};
use crate::server::{self, AppState, ReloadHook};
use crate::state_dir::StateDir;
use crate::triggers::cron::{Cron, CronError};
use crate::triggers::heartbeat::Heartbeats;
use crate::triggers::watchers::{self, Watchers};
use crate::vault::Vault;
use crate::webhooks::Webhooks;
use crate::workflows::{WorkflowError, Workflows};

/// Why a mesh did not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    #[error("a mesh is already running on {} (pid {pid})", state_dir.display())]
    AlreadyRunning { state_dir: PathBuf, pid: String },
    #[error("cannot prepare the state directory {}: {source}", state_dir.display())]
    StateDir {
        state_dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Mesh(#[from] MeshError),
    /// config/webhooks.json is malformed.
    #[error(transparent)]
    Webhooks(ConfigError),
    /// config/cron.json is malformed (nothing was written over it).
    #[error(transparent)]
    Cron(ConfigError),
    /// The scheduler could not start.
    #[error("the cron scheduler: {0}")]
    Scheduler(CronError),
    /// config/watchers.yaml is malformed.
    #[error(transparent)]
    Watchers(ConfigError),
    /// A file of config/workflows/ is malformed.
    #[error(transparent)]
    Workflows(ConfigError),
    /// The workflow runs left by the last mesh cannot be read.
    #[error("cannot resume the workflow runs: {0}")]
    WorkflowRuns(#[source] WorkflowError),
    /// An enabled channel cannot start (its bot token is missing).
    #[error(transparent)]
    Channels(crate::channels::ChannelError),
    /// An agent names no isolation and no backend works here: nothing is left running.
    #[error("{0}")]
    NoBackend(FleetError),
}

/// Why stopping was not clean (the mesh is stopped regardless).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StopError {
    #[error("the HTTP server failed: {0}")]
    Server(#[source] std::io::Error),
    #[error("the HTTP server task failed: {0}")]
    ServerTask(#[source] tokio::task::JoinError),
    #[error("cannot checkpoint the database (every write is committed regardless): {0}")]
    Checkpoint(#[source] crate::store::StoreError),
}

/// A mesh listening and running its agents.
#[derive(Debug)]
pub struct Instance {
    pub mesh: Arc<Mesh>,
    pub fleet: Arc<Fleet>,
    pub workflows: Arc<Workflows>,
    /// Where a client on this machine reaches the listener (`http://127.0.0.1:PORT`).
    pub url: String,
    /// The operator's bearer token for this run (also in the state directory, mode 0600).
    pub operator_token: String,
    /// The agents that did not start (the others run).
    pub start_failures: Vec<FleetError>,
    app: Router,
    server: JoinHandle<std::io::Result<()>>,
    shutdown: CancellationToken,
    state: StateDir,
    /// Sub-agents, deleted when the mesh stops.
    spawner: Arc<crate::spawn::Spawner>,
    /// The browser agents use, stopped with the mesh.
    browser: Arc<openlegion_browser::BrowserService>,
    /// The instance lock, held for as long as this value lives.
    _lock: File,
}

impl Instance {
    /// Takes the state directory's lock, opens the mesh, listens on `mesh.host:mesh.port`
    /// and starts the agents of agents.yaml. Fails, leaving nothing behind, when another
    /// mesh holds the state directory or when agents need a container engine and none
    /// answers; any other agent that cannot start is reported in
    /// [`start_failures`](Self::start_failures).
    pub async fn start(config: Config, vault: Vault) -> Result<Self, StartError> {
        let state = StateDir::new(config.state_dir());
        let prepare = |source| StartError::StateDir {
            state_dir: state.root().to_owned(),
            source,
        };
        state.create().map_err(prepare)?;
        let Some(lock) = state.lock().map_err(prepare)? else {
            return Err(StartError::AlreadyRunning {
                state_dir: state.root().to_owned(),
                pid: StateDir::read_trimmed(&state.pid_file()).unwrap_or_else(|_| "?".into()),
            });
        };
        StateDir::write_private(&state.pid_file(), &std::process::id().to_string())
            .map_err(prepare)?;

        let hooks = Webhooks::load(&config.dir).map_err(StartError::Webhooks)?;
        let jobs = Cron::load(&config.dir).map_err(StartError::Cron)?;
        let file_watchers = watchers::config::load(&config.dir).map_err(StartError::Watchers)?;
        let workflow_defs =
            crate::workflows::load(&config.dir, &config.agents).map_err(StartError::Workflows)?;
        let hooks_vault = vault.clone();
        let tools_vault = vault.clone();
        let bot_tokens = crate::channels::bot_tokens(&config.mesh.channels, &vault)
            .map_err(StartError::Channels)?;
        let shutdown = CancellationToken::new();
        let mesh = Mesh::open(&config, vault, shutdown.clone()).await?;
        let webhooks = Webhooks::new(
            hooks,
            hooks_vault,
            Arc::clone(&mesh.lanes),
            Arc::clone(&mesh.registry),
            mesh.store.clone(),
        );
        let file_watchers = Watchers::start(
            file_watchers,
            config.dir.clone(),
            Arc::clone(&mesh.lanes),
            mesh.store.clone(),
            mesh.reloads.subscribe(),
            shutdown.clone(),
        );
        let workflows = Workflows::open(
            workflow_defs,
            Arc::clone(&mesh),
            config.dir.clone(),
            shutdown.clone(),
        )
        .await
        .map_err(StartError::WorkflowRuns)?;
        let channels = crate::channels::Channels::start(
            &config.mesh.channels,
            bot_tokens,
            Arc::clone(&mesh),
            shutdown.clone(),
        );
        let operator_token = mint_token();
        StateDir::write_private(&state.operator_token_file(), &operator_token).map_err(prepare)?;
        mesh.tokens
            .insert(hash_token(&operator_token), Caller::Operator);

        let addr = SocketAddr::new(config.mesh.mesh.host, config.mesh.mesh.port);
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| StartError::Listen { addr, source })?;
        let url = connectable(listener.local_addr().map_err(prepare)?);

        let heartbeats = Heartbeats::new(
            mesh.store.clone(),
            Arc::clone(&mesh.lanes),
            Arc::clone(&mesh.inboxes),
            Arc::clone(&mesh.registry),
            Arc::clone(&mesh.links),
        );
        let cron = Cron::new(
            &config.dir,
            jobs,
            &config.agents,
            Arc::clone(&mesh.lanes),
            Arc::clone(&mesh.registry),
            heartbeats,
            shutdown.clone(),
        );
        let max_body = config.mesh.mesh.max_body_mb as usize * 1024 * 1024;
        let browser = crate::browse::service(&config.mesh.browser, &config.mesh.http);
        let search = Arc::new(crate::search::Search::new(
            &config.mesh.search,
            &config.mesh.http,
            &tools_vault,
        ));
        let spawn_section = config.mesh.spawn.clone();
        let rate_limits = Arc::new(crate::limits::Limits::new(
            &config.mesh.rate_limits,
            &config.agents,
        ));
        crate::limits::install(&rate_limits, &mesh);
        let fleet = Arc::new(Fleet::new(Arc::clone(&mesh), config, shutdown.clone()));
        let hook = {
            let (mesh, fleet) = (Arc::clone(&mesh), Arc::clone(&fleet));
            ReloadHook::new(move || {
                let (mesh, fleet) = (Arc::clone(&mesh), Arc::clone(&fleet));
                Box::pin(async move { reload(&mesh, &fleet).await.map(|(r, _)| r) })
            })
        };
        let spawner = crate::spawn::Spawner::new(
            Arc::clone(&mesh),
            Arc::clone(&fleet),
            Some(Arc::clone(&browser)),
            &spawn_section,
            shutdown.clone(),
        );
        let app = server::app(
            AppState::new(Arc::clone(&mesh), Arc::clone(&fleet), hook),
            max_body,
        )
        .merge(crate::webhooks::routes(Arc::clone(&webhooks)))
        .merge(crate::workflows::routes(
            Arc::clone(&workflows),
            webhooks,
            Arc::clone(&mesh.tokens),
        ))
        .merge(crate::triggers::cron::http::routes(
            Arc::clone(&cron),
            Arc::clone(&mesh.tokens),
            Arc::clone(&mesh.permissions),
        ))
        .merge(watchers::routes(file_watchers, Arc::clone(&mesh.tokens)))
        .merge(crate::browse::routes(
            Arc::clone(&mesh),
            Arc::clone(&browser),
        ))
        .merge(crate::search::routes(Arc::clone(&mesh), search))
        .merge(crate::spawn::routes(
            Arc::clone(&mesh.tokens),
            Arc::clone(&spawner),
        ))
        .merge(crate::history::routes(
            Arc::clone(&mesh),
            Arc::clone(&spawner),
            tools_vault.redactor().clone(),
        ))
        .merge(crate::artifacts::routes(Arc::clone(&mesh)))
        .merge(crate::channels::routes(channels, Arc::clone(&mesh.tokens)))
        .merge(crate::metrics::routes(Arc::clone(&mesh)));
        let app = crate::limits::layer(app, rate_limits, Arc::clone(&mesh.tokens));
        let app = crate::metrics::layer(app);
        fleet.set_app(app.clone());
        if let Some(failure) = fleet.unrunnable().await {
            shutdown.cancel();
            browser.shutdown().await;
            remove_run_files(&state);
            return Err(StartError::NoBackend(failure));
        }
        // Written once the mesh is sure to run: `start -d` and the tools take it as "up".
        StateDir::write_private(&state.addr_file(), &url).map_err(prepare)?;
        let server = tokio::spawn(server::serve(listener, app.clone(), shutdown.clone()));
        // Said once the backend check passed: a mesh that cannot run its agents never
        // claims to be listening.
        tracing::info!(%url, state_dir = %state.root().display(), agents = mesh.registry.snapshot().len(), "mesh listening");

        let mut start_failures = fleet.start_all().await;
        if let Some(i) = start_failures
            .iter()
            .position(|f| matches!(f, FleetError::NoBackend { .. }))
        {
            shutdown.cancel();
            let _ = server.await;
            fleet.stop_all().await;
            browser.shutdown().await;
            remove_run_files(&state);
            return Err(StartError::NoBackend(start_failures.swap_remove(i)));
        }
        if let Err(e) = cron.start().await {
            shutdown.cancel();
            let _ = server.await;
            fleet.stop_all().await;
            remove_run_files(&state);
            return Err(StartError::Scheduler(e));
        }
        Ok(Self {
            mesh,
            fleet,
            workflows,
            url,
            operator_token,
            start_failures,
            app,
            server,
            shutdown,
            state,
            spawner,
            browser,
            _lock: lock,
        })
    }

    /// Cancel it to stop the mesh: the listener drains, then [`stopped`](Self::stopped)
    /// stops the agents.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// The HTTP API, for in-process requests (`tower::ServiceExt::oneshot`).
    pub fn app(&self) -> Router {
        self.app.clone()
    }

    /// Re-reads permissions.json and agents.yaml, then starts the agents the reload added
    /// and stops those it dropped. A broken file is refused and the configuration in force
    /// stays; the agents that failed to start or stop are returned with the result.
    pub async fn reload(&self) -> Result<(Reloaded, Vec<FleetError>), MeshError> {
        reload(&self.mesh, &self.fleet).await
    }

    /// Waits for the shutdown token, then stops the agents, checkpoints the database and
    /// removes the run files (pid, address, operator token). The lock goes last.
    pub async fn stopped(self) -> Result<(), StopError> {
        self.shutdown.cancelled().await;
        let served = self.server.await;
        self.spawner.stop_all().await;
        self.fleet.stop_all().await;
        self.browser.shutdown().await;
        let flushed = self.mesh.store.flush().await;
        remove_run_files(&self.state);
        served
            .map_err(StopError::ServerTask)?
            .map_err(StopError::Server)?;
        flushed.map_err(StopError::Checkpoint)?;
        tracing::info!("mesh stopped");
        Ok(())
    }
}

/// The reload both `SIGHUP` and `POST /mesh/reload` perform (what
/// [`Instance::reload`] does, for callers holding only the parts).
pub async fn reload(mesh: &Mesh, fleet: &Fleet) -> Result<(Reloaded, Vec<FleetError>), MeshError> {
    // Files that services re-read after the reload (`Mesh::reloads`) are checked first, so
    // a broken one refuses the whole reload with its error.
    watchers::config::load(mesh.config_dir())?;
    let (reloaded, agents) = mesh.reload().await?;
    let failures = fleet.sync(agents).await;
    for failure in &failures {
        tracing::error!(error = %failure, "after the reload");
    }
    Ok((reloaded, failures))
}

fn remove_run_files(state: &StateDir) {
    for file in [
        state.addr_file(),
        state.operator_token_file(),
        state.pid_file(),
    ] {
        let _ = std::fs::remove_file(file);
    }
}

/// The URL a client on this machine uses to reach a listener bound to `addr`.
fn connectable(addr: SocketAddr) -> String {
    let ip = if addr.ip().is_unspecified() {
        if addr.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        }
    } else {
        addr.ip()
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}

/// Loads the configuration directory and the vault (`.env` beside it and the
/// `OPENLEGION_CRED_*` variables of this process), as `start` does.
pub fn load(config_dir: &std::path::Path) -> Result<(Config, Vault), LoadError> {
    let config = Config::load(config_dir)?;
    let vault = Vault::load(&config.dotenv_path(), std::env::vars())?;
    Ok((config, vault))
}

/// A configuration or vault that cannot be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Vault(#[from] crate::vault::VaultError),
}
