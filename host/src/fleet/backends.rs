//! Which backend runs each agent, and the backends themselves, made on first use: the
//! agent's `isolation`, else the mesh's `runtime.isolation`, else Docker when an engine
//! answers. A container backend that could not be made (no engine yet) is tried again next
//! time, so agents start once Docker does.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use crate::config::{AgentConfig, AgentImage, AgentsFile, Config, Isolation, RuntimeSection};
use crate::runtime::RuntimeBackend;
use crate::runtime::docker::{self, DockerBackend, Progress};
use crate::runtime::process::ProcessBackend;

use super::FleetError;

/// Tells this mesh's containers and volumes apart from another mesh's on the same engine:
/// a short hash of its state directory.
pub fn instance_id(state_dir: &Path) -> String {
    use sha2::Digest;
    hex::encode(&sha2::Sha256::digest(state_dir.display().to_string().as_bytes())[..4])
}

pub struct Backends {
    runtime: RuntimeSection,
    binary: PathBuf,
    instance: String,
    progress: Progress,
    process: OnceLock<Arc<ProcessBackend>>,
    docker: tokio::sync::Mutex<Option<Arc<DockerBackend>>>,
    gvisor: tokio::sync::Mutex<Option<Arc<DockerBackend>>>,
    /// Whether the user was told that Docker was chosen for them.
    announced: AtomicBool,
}

impl std::fmt::Debug for Backends {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backends")
            .field("instance", &self.instance)
            .field("binary", &self.binary)
            .finish_non_exhaustive()
    }
}

impl Backends {
    /// `progress` is told what happens while images are built.
    pub fn new(config: &Config, progress: Progress) -> Self {
        Self {
            runtime: config.mesh.runtime.clone(),
            binary: Self::agent_binary(config),
            instance: instance_id(&config.state_dir()),
            progress,
            process: OnceLock::new(),
            docker: tokio::sync::Mutex::new(None),
            gvisor: tokio::sync::Mutex::new(None),
            announced: AtomicBool::new(false),
        }
    }

    /// The `openlegion-agent` binary agents run: `runtime.agent_binary`, else the one beside
    /// the `openlegion` binary.
    pub fn agent_binary(config: &Config) -> PathBuf {
        config.mesh.runtime.agent_binary.clone().unwrap_or_else(|| {
            std::env::current_exe()
                .map(|exe| exe.with_file_name("openlegion-agent"))
                .unwrap_or_else(|_| "openlegion-agent".into())
        })
    }

    /// The isolation `cfg`'s agent runs under; `None` when nothing was chosen and no Docker
    /// engine answers.
    pub async fn isolation(&self, cfg: &AgentConfig) -> Option<Isolation> {
        if let Some(chosen) = cfg.isolation.or(self.runtime.isolation) {
            return Some(chosen);
        }
        docker::connect().await.ok()?;
        if !self.announced.swap(true, Ordering::Relaxed) {
            let line = "runtime.isolation is not set and a Docker engine answers: agents run in Docker containers";
            tracing::info!("{line}");
            (self.progress)(line);
        }
        Some(Isolation::Docker)
    }

    /// The image `cfg`'s agent runs, if in a container.
    pub fn image(&self, cfg: &AgentConfig) -> AgentImage {
        cfg.image.or(self.runtime.image).unwrap_or_default()
    }

    /// The Docker backend (under gVisor if `gvisor`), made now if it is not yet.
    pub async fn container(&self, gvisor: bool) -> Result<Arc<DockerBackend>, String> {
        let mut slot = if gvisor { &self.gvisor } else { &self.docker }
            .lock()
            .await;
        if let Some(backend) = slot.as_ref() {
            return Ok(Arc::clone(backend));
        }
        let engine = docker::connect()
            .await
            .map_err(|e| format!("{}: {e}", docker::no_docker()))?;
        let backend = DockerBackend::new(
            engine,
            self.instance.clone(),
            self.runtime.labels.clone(),
            &self.binary,
            gvisor,
            Arc::clone(&self.progress),
        )
        .await
        .map_err(|e| e.to_string())?;
        tracing::info!(backend = backend.name(), "agents run in containers");
        let backend = Arc::new(backend);
        *slot = Some(Arc::clone(&backend));
        Ok(backend)
    }

    /// The backend of `agent`; `None` for an agent that runs elsewhere (`external`).
    pub async fn for_agent(
        &self,
        agent: &str,
        cfg: &AgentConfig,
    ) -> Result<Option<Arc<dyn RuntimeBackend>>, FleetError> {
        let backend_err = |problem| FleetError::Backend {
            agent: agent.into(),
            problem,
        };
        Ok(match self.isolation(cfg).await {
            None => {
                return Err(FleetError::NoDocker {
                    agent: agent.into(),
                });
            }
            Some(Isolation::External) => None,
            Some(Isolation::Process) => {
                let backend = self
                    .process
                    .get_or_init(|| Arc::new(ProcessBackend::new(self.binary.clone())));
                Some(Arc::clone(backend) as Arc<dyn RuntimeBackend>)
            }
            Some(kind @ (Isolation::Docker | Isolation::Gvisor)) => Some(
                self.container(kind == Isolation::Gvisor)
                    .await
                    .map_err(backend_err)? as Arc<dyn RuntimeBackend>,
            ),
        })
    }

    /// Builds every image the agents of `agents` need (what `openlegion setup` does);
    /// returns the images ready, or the failures.
    pub async fn prepare(&self, agents: &AgentsFile) -> Result<Vec<String>, Vec<FleetError>> {
        let mut ready = Vec::new();
        let mut failures = Vec::new();
        for (id, cfg) in &agents.agents {
            let gvisor = match self.isolation(cfg).await {
                None => {
                    failures.push(FleetError::NoDocker {
                        agent: id.to_string(),
                    });
                    continue;
                }
                Some(Isolation::Docker) => false,
                Some(Isolation::Gvisor) => true,
                Some(Isolation::Process | Isolation::External) => continue,
            };
            let image = match self.container(gvisor).await {
                Ok(backend) => backend
                    .image(self.image(cfg))
                    .await
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e),
            };
            match image {
                Ok(tag) if !ready.contains(&tag) => ready.push(tag),
                Ok(_) => {}
                Err(problem) => failures.push(FleetError::Backend {
                    agent: id.to_string(),
                    problem,
                }),
            }
        }
        if failures.is_empty() {
            Ok(ready)
        } else {
            Err(failures)
        }
    }
}
