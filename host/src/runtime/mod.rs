//! Where agents run. Every backend starts, stops and supervises one sandbox per agent from
//! the same [`AgentSpec`]; the mesh does not care which one it talks to.
//!
//! - [`process`]: the agent binary as a child process. No OS isolation (its tools are still
//!   WebAssembly-sandboxed); for development and tests, chosen explicitly.

pub mod process;

use std::path::PathBuf;

use futures_util::future::BoxFuture;
use openlegion_protocol::AgentId;

/// Everything a backend needs to start one agent.
#[derive(Debug, Clone)]
pub struct AgentSpec {
    pub id: AgentId,
    /// The agent's environment: identity, mesh address and token, limits. Nothing else of
    /// the mesh's environment is passed on (it holds the provider keys).
    pub env: Vec<(String, String)>,
    /// The agent's own data (mounted at `/data` in a container).
    pub data_dir: PathBuf,
    /// The directory of the agent's API socket (mounted at `/run/mesh` in a container).
    pub run_dir: PathBuf,
    /// Memory limit in bytes, if any.
    pub memory_bytes: Option<u64>,
    /// CPUs, if limited.
    pub cpus: Option<f64>,
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
}

/// One way of running agents.
pub trait RuntimeBackend: Send + Sync + std::fmt::Debug {
    /// `process`, `docker`, `gvisor`, …
    fn name(&self) -> &'static str;

    /// Starts the agent and keeps it running (restarting it if it dies) until
    /// [`stop`](Self::stop).
    fn start<'a>(&'a self, spec: &'a AgentSpec) -> BoxFuture<'a, Result<(), RuntimeError>>;

    /// Stops the agent cleanly (SIGTERM, then a kill after a grace period).
    fn stop<'a>(&'a self, agent: &'a str) -> BoxFuture<'a, Result<(), RuntimeError>>;

    /// Stops every agent this backend runs.
    fn stop_all(&self) -> BoxFuture<'_, ()>;
}
