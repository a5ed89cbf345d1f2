//! Which backend runs each agent, and the backends themselves, made on first use: the
//! agent's `isolation`, else the mesh's `runtime.isolation`, else the strongest backend
//! that works here ([`detect`]), said once with the reason. A backend that could not be
//! made (no engine yet) is tried again next time, so agents start once Docker does.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use crate::config::{AgentConfig, AgentImage, AgentsFile, Config, Isolation, RuntimeSection};
use crate::runtime::RuntimeBackend;
use crate::runtime::detect::{self, Choice};
use crate::runtime::docker::{self, DockerBackend, Progress};
use crate::runtime::microvm::MicrovmBackend;
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
    microvm: tokio::sync::Mutex<Option<Arc<MicrovmBackend>>>,
    /// The backend chosen for agents that name none, once one works.
    detected: tokio::sync::Mutex<Option<Choice>>,
    /// Whether the user was told which backend was chosen for them.
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
            microvm: tokio::sync::Mutex::new(None),
            detected: tokio::sync::Mutex::new(None),
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

    /// The isolation `cfg`'s agent runs under; `None` when nothing was chosen and no backend
    /// works here ([`detected`](Self::detected) says why).
    pub async fn isolation(&self, cfg: &AgentConfig) -> Option<Isolation> {
        if let Some(chosen) = cfg.isolation.or(self.runtime.isolation) {
            return Some(chosen);
        }
        self.detected().await.isolation
    }

    /// The strongest backend that works here (for agents that name none). Said once, with
    /// a warning when it is a fallback; probed again while nothing works.
    pub async fn detected(&self) -> Choice {
        let mut slot = self.detected.lock().await;
        if let Some(choice) = slot.as_ref() {
            return choice.clone();
        }
        let choice = detect::choose(&detect::probe(&self.runtime).await);
        if choice.isolation.is_some() {
            if !self.announced.swap(true, Ordering::Relaxed) {
                let line = format!("runtime.isolation is not set: {}", choice.why);
                tracing::info!("{line}");
                (self.progress)(&line);
                if let Some(warning) = &choice.warning {
                    tracing::warn!("{warning}");
                    (self.progress)(&format!("warning: {warning}"));
                }
            }
            *slot = Some(choice.clone());
        }
        choice
    }

    /// The microVM backend, made now if it is not yet.
    pub async fn microvm(&self) -> Result<Arc<MicrovmBackend>, String> {
        let mut slot = self.microvm.lock().await;
        if let Some(backend) = slot.as_ref() {
            return Ok(Arc::clone(backend));
        }
        let backend = MicrovmBackend::new(
            &self.runtime.microvm,
            self.instance.clone(),
            &self.binary,
            Arc::clone(&self.progress),
        )
        .await
        .map_err(|e| format!("microvm: {e}"))?;
        let backend = Arc::new(backend);
        *slot = Some(Arc::clone(&backend));
        Ok(backend)
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
                return Err(FleetError::NoBackend {
                    agent: agent.into(),
                    why: self.detected().await.why,
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
            Some(Isolation::Microvm) => {
                Some(self.microvm().await.map_err(backend_err)? as Arc<dyn RuntimeBackend>)
            }
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
                    failures.push(FleetError::Backend {
                        agent: id.to_string(),
                        problem: self.detected().await.why,
                    });
                    continue;
                }
                Some(Isolation::Docker) => false,
                Some(Isolation::Gvisor) => true,
                Some(Isolation::Microvm) => {
                    match self.microvm().await {
                        Ok(backend) => {
                            let disk = backend.root_disk().display().to_string();
                            if !ready.contains(&disk) {
                                ready.push(disk);
                            }
                        }
                        Err(problem) => failures.push(FleetError::Backend {
                            agent: id.to_string(),
                            problem,
                        }),
                    }
                    continue;
                }
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
