//! Where agents run. Every backend starts, stops and restarts one sandbox per agent from
//! the same [`AgentSpec`]; the fleet above does not care which one it talks to.
//!
//! - [`process`]: the agent binary as a child process. No OS isolation (its tools are still
//!   WebAssembly-sandboxed); for development and tests, chosen explicitly.
//! - [`docker`]: one hardened container per agent (runc, or gVisor's runsc): no network,
//!   no capabilities, a read-only root, limits, and only its own volume and socket directory.
//! - [`microvm`]: one QEMU microVM per agent, under its own kernel, with no network device.
//! - [`detect`]: which of them `start` picks when `runtime.isolation` is unset.

pub mod detect;
pub mod docker;
pub mod microvm;
pub mod process;

use std::path::PathBuf;

use futures_util::future::BoxFuture;
use openlegion_protocol::AgentId;

/// Everything a backend needs to start one agent.
#[derive(Debug, Clone)]
pub struct AgentSpec {
    pub id: AgentId,
    /// The agent's environment (identity, mesh token, limits), in the paths of
    /// [`RuntimeBackend::inside`]. Nothing of the mesh's own environment (it holds the
    /// provider keys) is passed on.
    pub env: Vec<(String, String)>,
    /// The agent's data on the host (the process backend uses it; containers get a named
    /// volume instead).
    pub data_dir: PathBuf,
    /// The directory of the agent's and the mesh's sockets on the host (mounted at
    /// `/run/mesh` in a container).
    pub run_dir: PathBuf,
    /// Memory limit in bytes, if any.
    pub memory_bytes: Option<u64>,
    /// CPUs, if limited.
    pub cpus: Option<f64>,
    /// The container image (container backends only).
    pub image: crate::config::AgentImage,
}

/// How the agent sees its own directories, and what the backend adds to its environment.
#[derive(Debug, Clone)]
pub struct Inside {
    /// The data directory (`DATA_DIR`).
    pub data_dir: PathBuf,
    /// The socket directory: `agent.sock`, `mesh.sock` and the skill cache live there.
    pub run_dir: PathBuf,
    /// Backend-specific variables.
    pub env: Vec<(String, String)>,
}

/// Why a backend could not do what it was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeError {
    #[error("cannot start agent {agent}: {problem}")]
    Start { agent: String, problem: String },
    #[error("cannot stop agent {agent}: {problem}")]
    Stop { agent: String, problem: String },
    #[error("agent {agent} is not running")]
    NotRunning { agent: String },
    /// The container engine refused a call; `source` keeps its status code.
    #[error("{what}: {source}")]
    EngineCall {
        what: &'static str,
        #[source]
        source: bollard::errors::Error,
    },
    /// The container engine did not answer a call in time.
    #[error("{what}: the Docker engine did not answer within {seconds}s")]
    EngineTimeout { what: &'static str, seconds: u64 },
    /// Something else about the engine or an image is wrong (the message says what).
    #[error("{0}")]
    Engine(String),
}

impl RuntimeError {
    /// The HTTP status of the engine's answer, when the engine answered with an error:
    /// outcomes are matched on it (404: no such container, image or volume; 304: already
    /// stopped; 409: not running), never on the wording of its message.
    pub fn engine_status(&self) -> Option<u16> {
        match self {
            RuntimeError::EngineCall {
                source: bollard::errors::Error::DockerResponseServerError { status_code, .. },
                ..
            } => Some(*status_code),
            _ => None,
        }
    }
}

/// One way of running agents.
pub trait RuntimeBackend: Send + Sync + std::fmt::Debug {
    /// `process`, `docker`, `gvisor`, `microvm`.
    fn name(&self) -> &'static str;

    /// The paths the agent sees, and variables this backend adds.
    fn inside(&self, spec: &AgentSpec) -> Inside;

    /// Starts the agent.
    fn start<'a>(&'a self, spec: &'a AgentSpec) -> BoxFuture<'a, Result<(), RuntimeError>>;

    /// Stops the agent cleanly (SIGTERM, then a kill after a grace period); its data stays.
    fn stop<'a>(&'a self, agent: &'a str) -> BoxFuture<'a, Result<(), RuntimeError>>;

    /// Replaces a hung or dead agent with a fresh one from the same spec.
    fn restart<'a>(&'a self, spec: &'a AgentSpec) -> BoxFuture<'a, Result<(), RuntimeError>>;

    /// Deletes the agent's data (after [`stop`](Self::stop)).
    fn purge<'a>(&'a self, spec: &'a AgentSpec) -> BoxFuture<'a, Result<(), RuntimeError>>;

    /// Stops every agent this backend runs.
    fn stop_all(&self) -> BoxFuture<'_, ()>;

    /// How long a (re)started agent may take to answer its first health check before its
    /// failures count (a VM under emulation boots for a while).
    fn start_grace(&self) -> std::time::Duration {
        std::time::Duration::from_secs(30)
    }
}
