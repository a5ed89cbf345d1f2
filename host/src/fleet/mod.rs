//! The agents of agents.yaml, kept running: for each one the fleet prepares its directories,
//! mints its token, opens the mesh's socket for it, starts it on its backend, and watches
//! its health.
//!
//! Agents reach the mesh only through their own Unix socket (`mesh.sock` in their socket
//! directory): a request arriving there must carry that agent's token, so an agent cannot
//! speak for another even if it stole a token.

mod backends;
mod configured;
mod socket;
mod watchdog;
mod window;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use openlegion_protocol::{AgentId, env};
use tokio_util::sync::CancellationToken;

use futures_util::StreamExt;

use crate::config::{AgentConfig, AgentsFile, Config, parse_memory_limit};
use crate::mesh::Mesh;
use crate::runtime::docker::Progress;
use crate::runtime::{AgentSpec, RuntimeBackend, RuntimeError};

pub use backends::{Backends, instance_id};
pub use socket::SocketPeer;

/// Agents started at once (an engine handles a few container creations in parallel well;
/// fifty at once only queue up inside it).
const PARALLEL_STARTS: usize = 8;
/// Unix socket paths are limited to 108 bytes by the kernel.
const MAX_SOCKET_PATH: usize = 100;

/// A problem starting or stopping one agent (the others go on).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FleetError {
    /// No isolation backend works on this machine (and none is configured): the start
    /// stops, since no agent could run.
    #[error("agent {agent}: {why}")]
    NoBackend { agent: String, why: String },
    #[error("agent {agent}: {problem}")]
    Backend { agent: String, problem: String },
    #[error("agent {agent}: its socket path {} is longer than {MAX_SOCKET_PATH} bytes; use a shorter mesh.state_dir", path.display())]
    SocketPath { agent: String, path: PathBuf },
    #[error("agent {agent}: {source}")]
    Io {
        agent: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error(transparent)]
    Mesh(#[from] crate::mesh::MeshError),
}

/// A running agent.
#[derive(Debug)]
struct Running {
    backend: Arc<dyn RuntimeBackend>,
    spec: AgentSpec,
    /// Stops its mesh socket and its health watch.
    stop: CancellationToken,
}

#[derive(Debug)]
pub struct Fleet {
    mesh: Arc<Mesh>,
    config: std::sync::RwLock<Config>,
    backends: Backends,
    app: OnceLock<axum::Router>,
    running: tokio::sync::Mutex<HashMap<String, Running>>,
    /// Held while agents are started or stopped as a group, so a reload arriving during
    /// start-up does not start an agent twice.
    changing: tokio::sync::Mutex<()>,
    /// Agents started at run time that agents.yaml does not list (sub-agents), with their
    /// configuration: a reload does not stop them, and stopping the mesh deletes them.
    ephemeral: std::sync::Mutex<HashMap<String, AgentConfig>>,
    shutdown: CancellationToken,
}

impl Fleet {
    pub fn new(mesh: Arc<Mesh>, config: Config, shutdown: CancellationToken) -> Self {
        let progress: Progress = Arc::new(|line: &str| {
            tracing::info!("{line}");
            eprintln!("{line}");
        });
        Self {
            mesh,
            backends: Backends::new(&config, progress),
            config: std::sync::RwLock::new(config),
            app: OnceLock::new(),
            running: tokio::sync::Mutex::new(HashMap::new()),
            changing: tokio::sync::Mutex::new(()),
            ephemeral: std::sync::Mutex::new(HashMap::new()),
            shutdown,
        }
    }

    /// The API served to agents on their sockets (set once, before agents start).
    pub fn set_app(&self, app: axum::Router) {
        let _ = self.app.set(app);
    }

    fn config(&self) -> Config {
        self.config.read().expect("fleet config lock").clone()
    }

    /// An agent of agents.yaml that names no isolation while no backend works on this
    /// machine: then no such agent can run, and the start should stop before it says it is
    /// up. (Probing is cached: the agents' starts reuse the answer.)
    pub async fn unrunnable(&self) -> Option<FleetError> {
        let agents = self.config().agents.agents;
        for (id, cfg) in &agents {
            if self.backends.isolation(cfg).await.is_none() {
                return Some(FleetError::NoBackend {
                    agent: id.to_string(),
                    why: self.backends.detected().await.why,
                });
            }
        }
        None
    }

    /// Starts every agent of agents.yaml that is not running; returns the failures.
    pub async fn start_all(&self) -> Vec<FleetError> {
        let _changing = self.changing.lock().await;
        self.start_missing().await
    }

    async fn start_missing(&self) -> Vec<FleetError> {
        let agents = self.config().agents.agents;
        let starts = futures_util::stream::iter(agents)
            .map(|(id, cfg)| async move {
                let started = self.start(&id, &cfg).await;
                if let Err(e) = &started {
                    tracing::error!(error = %e, "agent not started");
                    self.mesh.set_run_state(id.as_str(), "failed");
                }
                started.err()
            })
            .buffer_unordered(PARALLEL_STARTS);
        starts
            .filter_map(|failure| async move { failure })
            .collect()
            .await
    }

    /// Takes a reloaded agents.yaml: starts the agents it adds, stops those it drops.
    pub async fn sync(&self, agents: AgentsFile) -> Vec<FleetError> {
        let _changing = self.changing.lock().await;
        let gone: Vec<String> = {
            let running = self.running.lock().await;
            running
                .keys()
                .filter(|id| AgentId::parse(id).is_ok_and(|a| !agents.agents.contains_key(&a)))
                .filter(|id| !self.is_ephemeral(id))
                .cloned()
                .collect()
        };
        self.config.write().expect("fleet config lock").agents = agents;
        let mut failures = Vec::new();
        for agent in gone {
            if let Err(e) = self.stop(&agent, false).await {
                failures.push(e);
            }
        }
        failures.extend(self.start_missing().await);
        failures
    }

    fn is_ephemeral(&self, agent: &str) -> bool {
        self.ephemeral
            .lock()
            .expect("fleet lock")
            .contains_key(agent)
    }

    /// Starts an agent agents.yaml does not list (a sub-agent) with `cfg`; it lives until
    /// [`stop`](Self::stop)ped, and is deleted with its data when the mesh stops.
    pub async fn start_ephemeral(&self, id: &AgentId, cfg: AgentConfig) -> Result<(), FleetError> {
        self.ephemeral
            .lock()
            .expect("fleet lock")
            .insert(id.to_string(), cfg.clone());
        let started = self.start(id, &cfg).await;
        if started.is_err() {
            self.ephemeral
                .lock()
                .expect("fleet lock")
                .remove(id.as_str());
        }
        started
    }

    /// How `agent` runs, for a sub-agent to run the same way: its configuration (from
    /// agents.yaml, or its own if it is a sub-agent) with `isolation` set to the backend it
    /// runs on now. `None` if this fleet does not run it.
    pub async fn setup_of(&self, agent: &str) -> Option<AgentConfig> {
        let backend = self.running.lock().await.get(agent)?.backend.name();
        let mut cfg = match self.ephemeral.lock().expect("fleet lock").get(agent) {
            Some(cfg) => cfg.clone(),
            None => {
                let id = AgentId::parse(agent).ok()?;
                self.config().agents.agents.get(&id)?.clone()
            }
        };
        cfg.isolation = Some(match backend {
            "process" => crate::config::Isolation::Process,
            "gvisor" => crate::config::Isolation::Gvisor,
            _ => crate::config::Isolation::Docker,
        });
        Some(cfg)
    }

    async fn start(&self, id: &AgentId, cfg: &AgentConfig) -> Result<(), FleetError> {
        if self.running.lock().await.contains_key(id.as_str()) {
            return Ok(());
        }
        let Some(backend) = self.backends.for_agent(id.as_str(), cfg).await? else {
            return Ok(()); // isolation: external — the agent runs elsewhere
        };
        let io = |source| FleetError::Io {
            agent: id.to_string(),
            source,
        };
        let root = self.config().state_dir().join("agents").join(id.as_str());
        let (data_dir, run_dir) = (root.join("data"), root.join("run"));
        for dir in [&data_dir, &run_dir] {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&run_dir, std::fs::Permissions::from_mode(0o700))
                .map_err(io)?;
        }
        let socket = run_dir.join("agent.sock");
        if socket.as_os_str().len() > MAX_SOCKET_PATH {
            return Err(FleetError::SocketPath {
                agent: id.to_string(),
                path: socket,
            });
        }
        copy_project_brief(&self.config().dir, &run_dir).map_err(io)?;
        let token = self.mesh.registry.rotate_token(id).await?;
        self.mesh.links.set_token(id.as_str(), token.clone());
        self.mesh
            .registry
            .set_url(id, format!("unix:{}", socket.display()))
            .await?;
        let mut spec = AgentSpec {
            id: id.clone(),
            env: Vec::new(),
            data_dir,
            run_dir: run_dir.clone(),
            memory_bytes: cfg
                .resources
                .as_ref()
                .and_then(|r| r.memory_limit.as_deref())
                .and_then(|m| parse_memory_limit(m).ok()),
            cpus: cfg.resources.as_ref().and_then(|r| r.cpu_limit),
            image: cfg
                .image
                .or(self.config().mesh.runtime.image)
                .unwrap_or_default(),
        };
        spec.env = self.environment(id, cfg, &token, backend.as_ref(), &spec);
        let stop = self.shutdown.child_token();
        let app = self.app.get().cloned().unwrap_or_default();
        socket::serve(app, id.clone(), &run_dir.join("mesh.sock"), stop.clone()).map_err(io)?;
        if let Err(e) = backend.start(&spec).await {
            stop.cancel();
            return Err(e.into());
        }
        self.mesh.set_run_state(id.as_str(), "starting");
        watchdog::watch(
            Arc::clone(&self.mesh),
            Arc::clone(&backend),
            spec.clone(),
            self.config().mesh.runtime.clone(),
            stop.clone(),
        );
        self.running.lock().await.insert(
            id.to_string(),
            Running {
                backend,
                spec,
                stop,
            },
        );
        Ok(())
    }

    /// The agent's whole environment, in the paths it sees.
    fn environment(
        &self,
        id: &AgentId,
        cfg: &AgentConfig,
        token: &str,
        backend: &dyn RuntimeBackend,
        spec: &AgentSpec,
    ) -> Vec<(String, String)> {
        let config = self.config();
        let inside = backend.inside(spec);
        let permissions = self.mesh.permissions.current().resolve(id.as_str());
        let mut capabilities = vec!["log", "workspace", "mesh"];
        if permissions.can_use_internet {
            capabilities.push("http");
        }
        if permissions.can_use_browser {
            capabilities.push("browser");
        }
        // Both run code the agent chose: only where its sandbox is the boundary, or where
        // the operator said so for the process backend.
        if backend.name() != "process" || config.mesh.runtime.allow_exec {
            capabilities.push("process");
        }
        if backend.name() != "process" || config.mesh.runtime.allow_skill_compile {
            capabilities.push("skills");
        }
        let run = &inside.run_dir;
        let mut env: Vec<(String, String)> = [
            (env::AGENT_ID, id.to_string()),
            (
                env::AGENT_ROLE,
                if cfg.role.is_empty() {
                    "assistant".into()
                } else {
                    cfg.role.clone()
                },
            ),
            (
                env::MESH_URL,
                format!("unix:{}", run.join("mesh.sock").display()),
            ),
            (env::MESH_AUTH_TOKEN, token.to_owned()),
            (env::DATA_DIR, inside.data_dir.display().to_string()),
            (
                env::AGENT_SOCKET,
                run.join("agent.sock").display().to_string(),
            ),
            (
                env::SKILL_CACHE_DIR,
                run.join("cache").display().to_string(),
            ),
            (
                env::PROJECT_BRIEF,
                run.join("PROJECT.md").display().to_string(),
            ),
            (env::ALLOWED_CAPABILITIES, capabilities.join(",")),
            ("HOME", inside.data_dir.display().to_string()),
            ("PATH", "/usr/local/bin:/usr/bin:/bin".into()),
            ("TZ", "UTC".into()),
            (env::LOG_FORMAT, crate::log_format::name().into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        env.extend(inside.env);
        env.extend(configured::environment(cfg, &config.mesh.llm));
        if let Ok(level) = std::env::var("RUST_LOG") {
            env.push(("RUST_LOG".into(), level));
        }
        // Later entries win (the backend's PATH over the default).
        let mut seen = std::collections::HashSet::new();
        let mut deduped: Vec<(String, String)> = env
            .into_iter()
            .rev()
            .filter(|(k, _)| seen.insert(k.clone()))
            .collect();
        deduped.reverse();
        deduped
    }

    /// Stops one agent, and deletes its data if `purge`.
    pub async fn stop(&self, agent: &str, purge: bool) -> Result<(), FleetError> {
        let running = self.running.lock().await.remove(agent);
        if let Some(r) = running {
            r.stop.cancel();
            r.backend.stop(agent).await?;
            if purge {
                r.backend.purge(&r.spec).await?;
            }
            self.mesh.set_run_state(agent, "stopped");
        }
        let ephemeral = self.ephemeral.lock().expect("fleet lock").remove(agent);
        if ephemeral.is_some() && purge {
            // A sub-agent leaves nothing behind: its socket directory goes too.
            let root = self.config().state_dir().join("agents").join(agent);
            if let Err(e) = std::fs::remove_dir_all(&root)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(agent, error = %e, "cannot remove a sub-agent's directory");
            }
        }
        Ok(())
    }

    /// Stops every agent (on mesh shutdown); their data stays, except that of sub-agents,
    /// which do not outlive the mesh.
    pub async fn stop_all(&self) {
        let running: Vec<(String, Running)> = self.running.lock().await.drain().collect();
        for (_, r) in &running {
            r.stop.cancel();
        }
        let stops = running.iter().map(|(agent, r)| async move {
            r.backend.stop(agent).await?;
            if self.is_ephemeral(agent) {
                r.backend.purge(&r.spec).await?;
            }
            Ok::<_, RuntimeError>(())
        });
        for result in futures_util::future::join_all(stops).await {
            if let Err(e) = result {
                tracing::warn!(error = %e, "stopping an agent");
            }
        }
    }
}

/// The project brief (`PROJECT.md` beside the config directory), shared by every agent, is
/// handed over in the agent's socket directory; the agent copies it into its workspace.
fn copy_project_brief(config_dir: &Path, run_dir: &Path) -> std::io::Result<()> {
    let project = config_dir.parent().unwrap_or(config_dir).join("PROJECT.md");
    let brief = run_dir.join("PROJECT.md");
    if project.is_file() {
        std::fs::copy(&project, brief)?;
    } else if brief.exists() {
        std::fs::remove_file(brief)?;
    }
    Ok(())
}
