//! The Docker backend: one hardened container per agent, driven through the engine API
//! (bollard), under gVisor (`runsc`) when asked.
//!
//! The container has no network at all (`NetworkMode: none`): the agent reaches the mesh
//! only through the Unix socket in its own directory, bind-mounted at `/run/mesh`. It runs
//! as an unprivileged user with every capability dropped, `no-new-privileges`, a read-only
//! root with a tmpfs `/tmp`, limits on memory, CPU and processes, and a named volume at
//! `/data` that outlives the container. Everything it creates is labelled
//! `openlegion.*`, so cleanup never touches what is not ours.
//!
//! Every engine call has a deadline: an engine that stops answering (it happens under
//! runsc when a sandbox wedges) must not hang the mesh.

mod cgroup;
pub(crate) mod image;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bollard::Docker;
use bollard::models::{ContainerCreateBody, HostConfig, Mount, MountType, VolumeCreateRequest};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, KillContainerOptionsBuilder, ListContainersOptionsBuilder,
    RemoveContainerOptionsBuilder, StopContainerOptionsBuilder,
};
use futures_util::future::BoxFuture;

use self::image::Owner;
use super::{AgentSpec, Inside, RuntimeBackend, RuntimeError};
use crate::config::AgentImage;

/// Deadline of an ordinary engine call.
const CALL: Duration = Duration::from_secs(30);
/// An engine that cannot kill a container within this is wedged.
const KILL: Duration = Duration::from_secs(5);
/// How long an agent gets to exit after SIGTERM.
const GRACE_SECONDS: i32 = 5;
/// Defaults when agents.yaml sets no resources.
const DEFAULT_MEMORY: i64 = 512 << 20;
const DEFAULT_CPUS: f64 = 0.5;
const PIDS_LIMIT: i64 = 256;
/// Paths inside the container.
const DATA: &str = "/data";
const RUN: &str = "/run/mesh";
/// The mesh token, handed over in the socket directory rather than the environment (the
/// agent deletes it once read; see the agent's config).
const TOKEN_FILE: &str = "token";

fn engine(e: impl std::fmt::Display) -> RuntimeError {
    RuntimeError::Engine(e.to_string())
}

/// Runs an engine call under a deadline.
async fn deadline<T>(
    what: &'static str,
    limit: Duration,
    call: impl std::future::Future<Output = Result<T, bollard::errors::Error>>,
) -> Result<T, RuntimeError> {
    match tokio::time::timeout(limit, call).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(source)) => Err(RuntimeError::EngineCall { what, source }),
        Err(_) => Err(RuntimeError::EngineTimeout {
            what,
            seconds: limit.as_secs(),
        }),
    }
}

/// HTTP statuses of the engine's answers that the backend acts on.
const NOT_FOUND: u16 = 404;
const NOT_MODIFIED: u16 = 304;
const CONFLICT: u16 = 409;

/// The engine's socket: `DOCKER_HOST` when it names a Unix socket (rootless Docker sets
/// it), else the system engine's.
pub fn socket() -> Result<PathBuf, RuntimeError> {
    match std::env::var("DOCKER_HOST") {
        Ok(host) if !host.is_empty() => match host.strip_prefix("unix://") {
            Some(path) => Ok(PathBuf::from(path)),
            None => Err(RuntimeError::Engine(format!(
                "DOCKER_HOST={host}: only a local engine on a Unix socket (unix:///path) can run \
                 agents, since each agent's socket directory is bind-mounted into its container"
            ))),
        },
        _ => Ok(PathBuf::from("/var/run/docker.sock")),
    }
}

/// Connects to the local engine and agrees on an API version; `Err` explains how to get one.
pub async fn connect() -> Result<Docker, RuntimeError> {
    let socket = socket()?;
    let docker =
        Docker::connect_with_socket(&socket.to_string_lossy(), 120, bollard::API_DEFAULT_VERSION)
            .map_err(|source| RuntimeError::EngineCall {
            what: "connecting to the Docker engine",
            source,
        })?;
    let docker = deadline(
        "negotiating the Docker API version",
        Duration::from_secs(5),
        docker.negotiate_version(),
    )
    .await?;
    deadline("pinging Docker", Duration::from_secs(5), docker.ping()).await?;
    Ok(docker)
}

/// The container of `agent` in the mesh instance `instance` (see `fleet::instance_id`).
pub fn container_name(instance: &str, agent: &str) -> String {
    format!("openlegion-{instance}-{agent}")
}

/// The advice given when no engine answers.
pub fn no_docker() -> String {
    let at = socket().map_or_else(|e| e.to_string(), |path| path.display().to_string());
    format!(
        "no Docker engine answered at {at}. Start it (`sudo systemctl start docker`, or \
         `sudo dockerd &`) and make sure your user may use it, or set `runtime.isolation: process` \
         in mesh.yaml to run agents as plain processes (no OS isolation)"
    )
}

/// `Ok` if gVisor's `runsc` is registered with the engine; else how to register it.
pub async fn gvisor_registered(docker: &Docker) -> Result<(), RuntimeError> {
    let info = deadline("reading the engine's runtimes", CALL, docker.info()).await?;
    let registered = info
        .runtimes
        .as_ref()
        .is_some_and(|r| r.contains_key("runsc"));
    if !registered {
        return Err(engine(
            "gVisor is not registered with Docker: install runsc and add to /etc/docker/daemon.json \
             {\"runtimes\": {\"runsc\": {\"path\": \"/usr/bin/runsc\", \"runtimeArgs\": [\"--network=none\", \"--host-uds=all\"]}}}, \
             then reload the engine (`sudo kill -HUP $(pidof dockerd)`)",
        ));
    }
    Ok(())
}

/// Told what happens while images are built (shown by `openlegion start` and `setup`).
pub type Progress = std::sync::Arc<dyn Fn(&str) + Send + Sync>;

pub struct DockerBackend {
    docker: Docker,
    /// Distinguishes this mesh's resources from another mesh's on the same engine.
    instance: String,
    /// The user's own labels (`runtime.labels`), on everything beside ours.
    extra_labels: std::collections::BTreeMap<String, String>,
    binary: PathBuf,
    /// `runsc` for gVisor.
    runtime: Option<&'static str>,
    /// The user the agent runs as (uid 1000 when the mesh can hand its directories over).
    owner: Owner,
    /// Image tags by kind, once known to exist.
    images: tokio::sync::Mutex<HashMap<AgentImage, String>>,
    /// Container ids by agent, for the kill path that does not need the engine.
    containers: std::sync::Mutex<HashMap<String, String>>,
    progress: Progress,
}

impl std::fmt::Debug for DockerBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DockerBackend")
            .field("instance", &self.instance)
            .field("runtime", &self.runtime)
            .field("owner", &self.owner)
            .finish_non_exhaustive()
    }
}

impl DockerBackend {
    /// Prepares the backend: checks gVisor is registered if `gvisor`, and builds the minimal
    /// agent image from `agent_binary` if it does not exist yet (the full image is built
    /// when an agent first asks for it).
    pub async fn new(
        docker: Docker,
        instance: String,
        extra_labels: std::collections::BTreeMap<String, String>,
        agent_binary: &Path,
        gvisor: bool,
        progress: Progress,
    ) -> Result<Self, RuntimeError> {
        if gvisor {
            gvisor_registered(&docker).await?;
        }
        let owner = if nix::unistd::geteuid().is_root() {
            Owner {
                uid: 1000,
                gid: 1000,
            }
        } else {
            Owner {
                uid: nix::unistd::getuid().as_raw(),
                gid: nix::unistd::getgid().as_raw(),
            }
        };
        let backend = Self {
            docker,
            instance,
            extra_labels,
            binary: agent_binary.to_owned(),
            runtime: gvisor.then_some("runsc"),
            owner,
            images: tokio::sync::Mutex::new(HashMap::new()),
            containers: std::sync::Mutex::new(HashMap::new()),
            progress,
        };
        backend.image(AgentImage::Minimal).await?;
        Ok(backend)
    }

    /// The tag of the `kind` image, built if it does not exist yet.
    pub async fn image(&self, kind: AgentImage) -> Result<String, RuntimeError> {
        let mut images = self.images.lock().await;
        if let Some(tag) = images.get(&kind) {
            return Ok(tag.clone());
        }
        let tag = image::ensure(
            &self.docker,
            kind,
            &self.binary,
            self.owner,
            self.progress.as_ref(),
        )
        .await?;
        images.insert(kind, tag.clone());
        Ok(tag)
    }

    fn container_name(&self, agent: &str) -> String {
        container_name(&self.instance, agent)
    }

    fn volume_name(&self, agent: &str) -> String {
        format!("openlegion_data_{agent}_{}", self.instance)
    }

    fn labels(&self, agent: &str) -> HashMap<String, String> {
        let mut labels: HashMap<String, String> = self.extra_labels.clone().into_iter().collect();
        labels.extend([
            ("openlegion.managed".into(), "true".into()),
            ("openlegion.instance".into(), self.instance.clone()),
            ("openlegion.agent".into(), agent.into()),
        ]);
        labels
    }

    /// Hands the socket directory to the agent's user (mode 0700), so only it and the mesh
    /// can reach the sockets inside.
    fn prepare_run_dir(&self, run_dir: &Path) -> Result<(), RuntimeError> {
        use std::os::unix::fs::PermissionsExt;
        let cache = run_dir.join("cache");
        std::fs::create_dir_all(&cache).map_err(engine)?;
        let uid = Some(nix::unistd::Uid::from_raw(self.owner.uid));
        let gid = Some(nix::unistd::Gid::from_raw(self.owner.gid));
        for dir in [run_dir, cache.as_path()] {
            nix::unistd::chown(dir, uid, gid).map_err(|e| {
                engine(format!(
                    "cannot hand {} to the agent's user: {e}",
                    dir.display()
                ))
            })?;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(engine)?;
        }
        Ok(())
    }

    /// Stops and removes the agent's container. When the engine does not answer, its
    /// processes are killed through their cgroup and the container is left for the next
    /// start to remove.
    /// Leaves the agent's mesh token in its socket directory, readable by it alone.
    fn write_token(&self, spec: &AgentSpec) -> Result<(), RuntimeError> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let token = spec
            .env
            .iter()
            .find(|(k, _)| k == openlegion_protocol::env::MESH_AUTH_TOKEN)
            .map(|(_, v)| v.as_str())
            .ok_or_else(|| engine("the agent has no mesh token"))?;
        let path = spec.run_dir.join(TOKEN_FILE);
        let _ = std::fs::remove_file(&path);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| engine(format!("cannot write {}: {e}", path.display())))?;
        file.write_all(token.as_bytes()).map_err(engine)?;
        let uid = Some(nix::unistd::Uid::from_raw(self.owner.uid));
        let gid = Some(nix::unistd::Gid::from_raw(self.owner.gid));
        nix::unistd::chown(&path, uid, gid).map_err(engine)?;
        Ok(())
    }

    async fn remove(&self, agent: &str) -> Result<(), RuntimeError> {
        let name = self.container_name(agent);
        let gone = |e: &RuntimeError| e.engine_status() == Some(NOT_FOUND);
        let stop = StopContainerOptionsBuilder::default()
            .t(GRACE_SECONDS)
            .build();
        let stop_deadline = Duration::from_secs(GRACE_SECONDS as u64 + 5);
        let stopped = deadline(
            "stopping a container",
            stop_deadline,
            self.docker.stop_container(&name, Some(stop)),
        )
        .await;
        // 304: it had stopped already.
        if let Err(e) = &stopped
            && !gone(e)
            && e.engine_status() != Some(NOT_MODIFIED)
        {
            tracing::warn!(agent, error = %e, "stop failed; killing the container");
            let kill = KillContainerOptionsBuilder::default()
                .signal("SIGKILL")
                .build();
            let killed = deadline(
                "killing a container",
                KILL,
                self.docker.kill_container(&name, Some(kill)),
            )
            .await;
            if let Err(e) = killed
                && !gone(&e)
                && e.engine_status() != Some(CONFLICT)
            {
                let id = self
                    .containers
                    .lock()
                    .expect("container ids")
                    .get(agent)
                    .cloned();
                let n = id.as_deref().map_or(0, cgroup::kill_all);
                tracing::error!(agent, error = %e, processes = n, "the engine does not answer; killed the container's processes directly");
                return Err(engine(format!(
                    "the Docker engine did not stop {name} ({e}); its {n} processes were killed directly and \
                     the container will be removed at the next start"
                )));
            }
        }
        let remove = RemoveContainerOptionsBuilder::default().force(true).build();
        match deadline(
            "removing a container",
            CALL,
            self.docker.remove_container(&name, Some(remove)),
        )
        .await
        {
            Err(e) if !gone(&e) => Err(e),
            _ => {
                self.containers.lock().expect("container ids").remove(agent);
                Ok(())
            }
        }
    }

    fn body(&self, spec: &AgentSpec, image: String) -> ContainerCreateBody {
        let agent = spec.id.as_str();
        let memory = spec.memory_bytes.map_or(DEFAULT_MEMORY, |m| m as i64);
        let cpus = spec.cpus.unwrap_or(DEFAULT_CPUS);
        let host_config = HostConfig {
            network_mode: Some("none".into()),
            cap_drop: Some(vec!["ALL".into()]),
            readonly_rootfs: Some(true),
            tmpfs: Some(HashMap::from([(
                "/tmp".into(),
                "rw,nosuid,nodev,size=64m".into(),
            )])),
            security_opt: Some(vec!["no-new-privileges".into()]),
            pids_limit: Some(PIDS_LIMIT),
            memory: Some(memory),
            memory_swap: Some(memory),
            nano_cpus: Some((cpus * 1e9) as i64),
            runtime: self.runtime.map(str::to_owned),
            mounts: Some(vec![
                Mount {
                    typ: Some(MountType::VOLUME),
                    source: Some(self.volume_name(agent)),
                    target: Some(DATA.into()),
                    ..Mount::default()
                },
                Mount {
                    typ: Some(MountType::BIND),
                    source: Some(spec.run_dir.display().to_string()),
                    target: Some(RUN.into()),
                    ..Mount::default()
                },
            ]),
            ..HostConfig::default()
        };
        ContainerCreateBody {
            image: Some(image),
            user: Some(format!("{}:{}", self.owner.uid, self.owner.gid)),
            env: Some(
                spec.env
                    .iter()
                    .filter(|(k, _)| k != openlegion_protocol::env::MESH_AUTH_TOKEN)
                    .map(|(k, v)| format!("{k}={v}"))
                    .chain([format!("MESH_AUTH_TOKEN_FILE={RUN}/{TOKEN_FILE}")])
                    .collect(),
            ),
            labels: Some(self.labels(agent)),
            host_config: Some(host_config),
            ..ContainerCreateBody::default()
        }
    }

    /// Creates the container; builds the image again if it went away (pruned by a mesh
    /// running another agent binary, or removed by hand).
    async fn create(&self, spec: &AgentSpec) -> Result<String, RuntimeError> {
        let name = self.container_name(spec.id.as_str());
        for attempt in 0..2 {
            let image = self.image(spec.image).await?;
            let options = CreateContainerOptionsBuilder::default().name(&name).build();
            match deadline(
                "creating the container",
                CALL,
                self.docker
                    .create_container(Some(options), self.body(spec, image)),
            )
            .await
            {
                Ok(created) => return Ok(created.id),
                // 404 from create: the image is gone (a missing container is no error here).
                Err(e) if attempt == 0 && e.engine_status() == Some(NOT_FOUND) => {
                    self.images.lock().await.remove(&spec.image);
                }
                Err(e) => return Err(e),
            }
        }
        unreachable!("the second attempt returns")
    }
}

impl RuntimeBackend for DockerBackend {
    fn name(&self) -> &'static str {
        if self.runtime.is_some() {
            "gvisor"
        } else {
            "docker"
        }
    }

    fn inside(&self, _spec: &AgentSpec) -> Inside {
        Inside {
            data_dir: PathBuf::from(DATA),
            run_dir: PathBuf::from(RUN),
            env: vec![("SKILL_CACHE_SEED_DIR".into(), image::seed::DIR.into())],
        }
    }

    fn start<'a>(&'a self, spec: &'a AgentSpec) -> BoxFuture<'a, Result<(), RuntimeError>> {
        Box::pin(async move {
            let agent = spec.id.as_str();
            let fail = |e: RuntimeError| RuntimeError::Start {
                agent: agent.into(),
                problem: e.to_string(),
            };
            self.prepare_run_dir(&spec.run_dir).map_err(fail)?;
            // A container left by a mesh that crashed would hold the name.
            self.remove(agent).await.map_err(fail)?;
            let volume = VolumeCreateRequest {
                name: Some(self.volume_name(agent)),
                labels: Some(self.labels(agent)),
                ..VolumeCreateRequest::default()
            };
            deadline(
                "creating the data volume",
                CALL,
                self.docker.create_volume(volume),
            )
            .await
            .map_err(fail)?;
            self.write_token(spec).map_err(fail)?;
            let id = self.create(spec).await.map_err(fail)?;
            self.containers
                .lock()
                .expect("container ids")
                .insert(agent.to_owned(), id);
            let name = self.container_name(agent);
            deadline(
                "starting the container",
                CALL,
                self.docker.start_container(&name, None),
            )
            .await
            .map_err(fail)?;
            tracing::info!(agent, container = %name, backend = self.name(), "agent container started");
            Ok(())
        })
    }

    fn stop<'a>(&'a self, agent: &'a str) -> BoxFuture<'a, Result<(), RuntimeError>> {
        Box::pin(async move {
            self.remove(agent).await.map_err(|e| RuntimeError::Stop {
                agent: agent.into(),
                problem: e.to_string(),
            })?;
            tracing::info!(agent, "agent stopped");
            Ok(())
        })
    }

    fn restart<'a>(&'a self, spec: &'a AgentSpec) -> BoxFuture<'a, Result<(), RuntimeError>> {
        // Removing and creating again keeps the volume and picks up nothing stale.
        crate::counters::agent_restarted(spec.id.as_str());
        self.start(spec)
    }

    fn purge<'a>(&'a self, spec: &'a AgentSpec) -> BoxFuture<'a, Result<(), RuntimeError>> {
        Box::pin(async move {
            let volume = self.volume_name(spec.id.as_str());
            let options = None::<bollard::query_parameters::RemoveVolumeOptions>;
            match deadline(
                "removing the data volume",
                CALL,
                self.docker.remove_volume(&volume, options),
            )
            .await
            {
                Err(e) if e.engine_status() != Some(NOT_FOUND) => Err(e),
                _ => Ok(()),
            }
        })
    }

    fn stop_all(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let filters = HashMap::from([(
                "label",
                vec![format!("openlegion.instance={}", self.instance)],
            )]);
            let options = ListContainersOptionsBuilder::default()
                .all(true)
                .filters(&filters)
                .build();
            let containers = match deadline(
                "listing containers",
                CALL,
                self.docker.list_containers(Some(options)),
            )
            .await
            {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot list this mesh's containers to stop them");
                    return;
                }
            };
            let agents: Vec<String> = containers
                .iter()
                .filter_map(|c| c.labels.as_ref()?.get("openlegion.agent").cloned())
                .collect();
            futures_util::future::join_all(agents.iter().map(|a| self.stop(a))).await;
        })
    }
}
