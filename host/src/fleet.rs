//! The agents of agents.yaml, kept running: for each one the mesh prepares its directories,
//! mints its token, starts it on its backend, tells the registry where its API socket is,
//! and waits for it to answer.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use openlegion_protocol::AgentId;

use crate::config::{AgentConfig, Config, Isolation, parse_memory_limit};
use crate::mesh::Mesh;
use crate::runtime::process::ProcessBackend;
use crate::runtime::{AgentSpec, RuntimeBackend};

/// Unix socket paths are limited to 108 bytes by the kernel.
const MAX_SOCKET_PATH: usize = 100;
/// How long a new agent gets to answer `GET /status`.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// A problem starting one agent (the others go on).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FleetError {
    #[error(
        "agent {agent}: no isolation chosen (set runtime.isolation in mesh.yaml, or isolation: in agents.yaml; `process` runs agents with no OS isolation)"
    )]
    NoBackend { agent: String },
    #[error("agent {agent}: the {isolation:?} backend is not available in this build")]
    Unavailable { agent: String, isolation: Isolation },
    #[error("agent {agent}: its socket path {} is longer than {MAX_SOCKET_PATH} bytes; use a shorter mesh.state_dir", path.display())]
    SocketPath { agent: String, path: PathBuf },
    #[error("agent {agent}: {source}")]
    Io {
        agent: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Runtime(#[from] crate::runtime::RuntimeError),
    #[error(transparent)]
    Mesh(#[from] crate::mesh::MeshError),
}

#[derive(Debug)]
pub struct Fleet {
    mesh: Arc<Mesh>,
    config: Config,
    /// How agents reach the mesh (`http://127.0.0.1:port` for processes).
    mesh_url: String,
    process: Option<Arc<ProcessBackend>>,
    running: tokio::sync::Mutex<HashMap<String, Arc<dyn RuntimeBackend>>>,
}

impl Fleet {
    pub fn new(mesh: Arc<Mesh>, config: Config, mesh_url: String) -> Self {
        Self {
            mesh,
            config,
            mesh_url,
            process: None,
            running: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    fn agent_binary(&self) -> PathBuf {
        self.config
            .mesh
            .runtime
            .agent_binary
            .clone()
            .unwrap_or_else(|| {
                std::env::current_exe()
                    .map(|exe| exe.with_file_name("openlegion-agent"))
                    .unwrap_or_else(|_| "openlegion-agent".into())
            })
    }

    fn backend(
        &mut self,
        agent: &str,
        cfg: &AgentConfig,
    ) -> Result<Arc<dyn RuntimeBackend>, FleetError> {
        match cfg.isolation.or(self.config.mesh.runtime.isolation) {
            None => Err(FleetError::NoBackend {
                agent: agent.into(),
            }),
            Some(Isolation::Process) => {
                let binary = self.agent_binary();
                let backend = self
                    .process
                    .get_or_insert_with(|| Arc::new(ProcessBackend::new(binary)));
                Ok(Arc::clone(backend) as Arc<dyn RuntimeBackend>)
            }
            Some(other) => Err(FleetError::Unavailable {
                agent: agent.into(),
                isolation: other,
            }),
        }
    }

    /// Starts every agent of agents.yaml that is not running; returns the failures.
    pub async fn start_all(&mut self) -> Vec<FleetError> {
        let agents: Vec<(AgentId, AgentConfig)> =
            self.config.agents.agents.clone().into_iter().collect();
        let mut failures = Vec::new();
        for (id, cfg) in agents {
            if let Err(e) = self.start(&id, &cfg).await {
                tracing::error!(error = %e, "agent not started");
                failures.push(e);
            }
        }
        failures
    }

    async fn start(&mut self, id: &AgentId, cfg: &AgentConfig) -> Result<(), FleetError> {
        let backend = self.backend(id.as_str(), cfg)?;
        let io = |source| FleetError::Io {
            agent: id.to_string(),
            source,
        };
        let root = self.config.state_dir().join("agents").join(id.as_str());
        let (data_dir, run_dir, cache_dir) =
            (root.join("data"), root.join("run"), root.join("cache"));
        for dir in [&data_dir, &run_dir, &cache_dir] {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&run_dir, std::fs::Permissions::from_mode(0o700))
                .map_err(io)?;
        }
        // The project brief, shared by every agent, goes into each one's workspace.
        let project = self
            .config
            .dir
            .parent()
            .unwrap_or(&self.config.dir)
            .join("PROJECT.md");
        if project.is_file() {
            let workspace = data_dir.join("workspace");
            std::fs::create_dir_all(&workspace).map_err(io)?;
            std::fs::copy(&project, workspace.join("PROJECT.md")).map_err(io)?;
        }
        let socket = run_dir.join("agent.sock");
        if socket.as_os_str().len() > MAX_SOCKET_PATH {
            return Err(FleetError::SocketPath {
                agent: id.to_string(),
                path: socket,
            });
        }
        let token = self.mesh.registry.mint_token(id).await?;
        self.mesh.links.set_token(id.as_str(), token.clone());
        self.mesh
            .registry
            .set_url(id, format!("unix:{}", socket.display()))
            .await?;
        let spec = AgentSpec {
            id: id.clone(),
            env: self.environment(id, cfg, &token, &data_dir, &cache_dir, &socket),
            data_dir,
            run_dir,
            memory_bytes: cfg
                .resources
                .as_ref()
                .and_then(|r| r.memory_limit.as_deref())
                .and_then(|m| parse_memory_limit(m).ok()),
            cpus: cfg.resources.as_ref().and_then(|r| r.cpu_limit),
        };
        backend.start(&spec).await?;
        self.running.lock().await.insert(id.to_string(), backend);
        let mesh = Arc::clone(&self.mesh);
        let (agent, url) = (id.to_string(), format!("unix:{}", socket.display()));
        tokio::spawn(async move {
            let link = mesh.links.link(&agent, &url);
            let started = Instant::now();
            while started.elapsed() < READY_TIMEOUT {
                let answered = link
                    .request(reqwest::Method::GET, "/status")
                    .timeout(Duration::from_secs(2))
                    .send()
                    .await;
                if answered.is_ok_and(|r| r.status().is_success()) {
                    tracing::info!(
                        agent,
                        ms = started.elapsed().as_millis() as u64,
                        "agent ready"
                    );
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            tracing::error!(
                agent,
                "agent did not answer within {}s; see its agent.log",
                READY_TIMEOUT.as_secs()
            );
        });
        Ok(())
    }

    /// The agent's whole environment. Nothing of the mesh's own environment (which holds
    /// the provider keys) is passed on.
    fn environment(
        &self,
        id: &AgentId,
        cfg: &AgentConfig,
        token: &str,
        data_dir: &std::path::Path,
        cache_dir: &std::path::Path,
        socket: &std::path::Path,
    ) -> Vec<(String, String)> {
        let permissions = self.mesh.permissions.current().resolve(id.as_str());
        let mut capabilities = vec!["log", "workspace", "mesh"];
        if permissions.can_use_internet {
            capabilities.push("http");
        }
        if self.config.mesh.runtime.allow_exec {
            capabilities.push("process");
        }
        let instructions = [
            &cfg.system_prompt,
            &cfg.instructions,
            &cfg.initial_instructions,
        ]
        .into_iter()
        .flatten()
        .cloned()
        .collect::<Vec<_>>()
        .join("\n\n");
        let mut env = vec![
            ("AGENT_ID", id.to_string()),
            (
                "AGENT_ROLE",
                if cfg.role.is_empty() {
                    "assistant".into()
                } else {
                    cfg.role.clone()
                },
            ),
            ("MESH_URL", self.mesh_url.clone()),
            ("MESH_AUTH_TOKEN", token.to_owned()),
            ("DATA_DIR", data_dir.display().to_string()),
            ("AGENT_SOCKET", socket.display().to_string()),
            ("SKILL_CACHE_DIR", cache_dir.display().to_string()),
            ("ALLOWED_CAPABILITIES", capabilities.join(",")),
            ("HOME", data_dir.display().to_string()),
            ("PATH", "/usr/local/bin:/usr/bin:/bin".into()),
            ("TZ", "UTC".into()),
            ("OPENLEGION_EXIT_WITH_PARENT", "1".into()),
        ];
        if !instructions.is_empty() {
            env.push(("INITIAL_INSTRUCTIONS", instructions));
        }
        if let Some(n) = cfg.max_iterations {
            env.push(("TASK_MAX_ITERATIONS", n.to_string()));
        }
        if let Some(n) = self.config.mesh.llm.max_tokens {
            env.push(("LLM_MAX_TOKENS", n.to_string()));
        }
        if let Ok(level) = std::env::var("RUST_LOG") {
            env.push(("RUST_LOG", level));
        }
        env.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
    }

    /// Stops every agent (on mesh shutdown).
    pub async fn stop_all(&self) {
        let running: Vec<(String, Arc<dyn RuntimeBackend>)> =
            self.running.lock().await.drain().collect();
        let stops = running.iter().map(|(agent, backend)| backend.stop(agent));
        for result in futures_util::future::join_all(stops).await {
            if let Err(e) = result {
                tracing::warn!(error = %e, "stopping an agent");
            }
        }
    }
}
