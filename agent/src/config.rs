//! The agent's configuration: environment variables set by the mesh's runtime backend when
//! it starts the sandbox. No credential is among them; the agent reaches every provider
//! through the mesh.

use std::path::PathBuf;

use openlegion_protocol::{AgentId, env};

/// Why the environment cannot start an agent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnvError {
    #[error("{name} is not set")]
    Missing { name: &'static str },
    #[error("{name}={value:?}: {problem}")]
    Invalid {
        name: &'static str,
        value: String,
        problem: String,
    },
}

/// How to reach the mesh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MeshAddr {
    /// `http://host:port` (the process backend, on loopback).
    Tcp(String),
    /// `unix:/run/mesh/mesh.sock` (containers: no network at all).
    Unix(PathBuf),
}

#[derive(Debug, Clone)]
pub struct Config {
    pub agent_id: AgentId,
    pub role: String,
    pub mesh: MeshAddr,
    /// Bearer token for the mesh; the mesh presents the same token when calling us.
    pub token: String,
    /// The agent's own data (`/data` in a container).
    pub data_dir: PathBuf,
    /// The project brief the mesh hands over (`PROJECT.md` of the installation), copied
    /// into the workspace at start so the prompt carries it.
    pub project_brief: Option<PathBuf>,
    /// Compiled skills (`.cwasm`). Outside `data_dir` on purpose: skills can write there, and
    /// native code must not come from where a skill could plant it.
    pub skill_cache_dir: PathBuf,
    /// Built-in skills compiled ahead of time (read-only, in the agent image).
    pub skill_cache_seed: Option<PathBuf>,
    /// Where the API listens: a Unix socket path.
    pub socket: Option<PathBuf>,
    /// And/or a TCP address (process backend, development).
    pub tcp: Option<String>,
    /// Instructions from agents.yaml (`system_prompt`/`instructions`).
    pub instructions: String,
    /// The first SOUL.md of a new workspace (`soul` of agents.yaml).
    pub soul: Option<String>,
    /// The first HEARTBEAT.md of a new workspace (`initial_heartbeat` of agents.yaml).
    pub heartbeat_rules: Option<String>,
    pub max_tokens: u32,
    /// Tool rounds per chat turn (default 30).
    pub chat_max_rounds: u32,
    /// Iterations of a task (default 20).
    pub task_max_iterations: u32,
    /// Seconds one LLM call may take (default 300).
    pub llm_timeout: u64,
    /// Tokens of the model's context window (the mesh knows the model; see `context`).
    pub context_window: u32,
}

fn var(name: &'static str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn number<T: TryFrom<u64>>(
    name: &'static str,
    default: T,
    range: std::ops::RangeInclusive<u64>,
) -> Result<T, EnvError> {
    let Some(raw) = var(name) else {
        return Ok(default);
    };
    let invalid = |problem: String| EnvError::Invalid {
        name,
        value: raw.clone(),
        problem,
    };
    let n: u64 = raw.parse().map_err(|_| invalid("not a number".into()))?;
    if !range.contains(&n) {
        return Err(invalid(format!(
            "must be in {}..={}",
            range.start(),
            range.end()
        )));
    }
    T::try_from(n).map_err(|_| invalid("out of range".into()))
}

/// Reads the mesh token from the file a container backend leaves in the socket directory,
/// then deletes it: kept out of the environment, the token cannot be read back through
/// `/proc/<pid>/environ` by a command the agent runs (as the same user).
fn read_token_file(file: &str) -> Result<String, EnvError> {
    let invalid = |problem: String| EnvError::Invalid {
        name: env::MESH_AUTH_TOKEN_FILE,
        value: file.to_owned(),
        problem,
    };
    let token = std::fs::read_to_string(file).map_err(|e| invalid(e.to_string()))?;
    std::fs::remove_file(file)
        .map_err(|e| invalid(format!("cannot delete it after reading: {e}")))?;
    let token = token.trim().to_owned();
    if token.is_empty() {
        return Err(invalid("the file is empty".into()));
    }
    Ok(token)
}

impl Config {
    pub fn from_env() -> Result<Self, EnvError> {
        let id = var(env::AGENT_ID).ok_or(EnvError::Missing {
            name: env::AGENT_ID,
        })?;
        let agent_id = AgentId::new_agent(&id).map_err(|e| EnvError::Invalid {
            name: env::AGENT_ID,
            value: id.clone(),
            problem: e.to_string(),
        })?;
        let mesh_raw = var(env::MESH_URL).ok_or(EnvError::Missing {
            name: env::MESH_URL,
        })?;
        let mesh = match mesh_raw.strip_prefix("unix:") {
            Some(path) => MeshAddr::Unix(PathBuf::from(path.trim_start_matches("//"))),
            None if mesh_raw.starts_with("http://") => {
                MeshAddr::Tcp(mesh_raw.trim_end_matches('/').to_owned())
            }
            None => {
                return Err(EnvError::Invalid {
                    name: env::MESH_URL,
                    value: mesh_raw,
                    problem: "expected http://host:port or unix:/path/to/mesh.sock".into(),
                });
            }
        };
        let token = match (var(env::MESH_AUTH_TOKEN), var(env::MESH_AUTH_TOKEN_FILE)) {
            (Some(token), _) => token,
            (None, Some(file)) => read_token_file(&file)?,
            (None, None) => {
                return Err(EnvError::Missing {
                    name: "MESH_AUTH_TOKEN (or MESH_AUTH_TOKEN_FILE)",
                });
            }
        };
        let socket = var(env::AGENT_SOCKET).map(PathBuf::from);
        let tcp = var(env::AGENT_LISTEN);
        if socket.is_none() && tcp.is_none() {
            return Err(EnvError::Missing {
                name: "AGENT_SOCKET (or AGENT_LISTEN)",
            });
        }
        let data_dir = var(env::DATA_DIR).map_or_else(|| PathBuf::from("/data"), PathBuf::from);
        let skill_cache_dir = var(env::SKILL_CACHE_DIR).map_or_else(
            || data_dir.parent().unwrap_or(&data_dir).join("skill-cache"),
            PathBuf::from,
        );
        Ok(Self {
            agent_id,
            role: var(env::AGENT_ROLE).unwrap_or_else(|| "assistant".into()),
            mesh,
            token,
            data_dir,
            skill_cache_dir,
            skill_cache_seed: var(env::SKILL_CACHE_SEED_DIR).map(PathBuf::from),
            project_brief: var(env::PROJECT_BRIEF).map(PathBuf::from),
            socket,
            tcp,
            instructions: var(env::INITIAL_INSTRUCTIONS).unwrap_or_default(),
            soul: var(env::INITIAL_SOUL),
            heartbeat_rules: var(env::INITIAL_HEARTBEAT),
            max_tokens: number(env::LLM_MAX_TOKENS, 4096, 1..=1_000_000)?,
            chat_max_rounds: number(env::CHAT_MAX_TOOL_ROUNDS, 30, 1..=1000)?,
            task_max_iterations: number(env::TASK_MAX_ITERATIONS, 20, 1..=500)?,
            llm_timeout: number(env::LLM_TIMEOUT_SECONDS, 300, 10..=7200)?,
            context_window: number(env::CONTEXT_WINDOW, 128_000, 1_000..=10_000_000)?,
        })
    }

    pub fn workspace_dir(&self) -> PathBuf {
        self.data_dir.join("workspace")
    }
}
