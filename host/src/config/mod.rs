//! The configuration directory (`config/` by default): `mesh.yaml`, `agents.yaml` and
//! `permissions.json`, with the same names and shapes as the Python original so its users
//! can bring their files over.
//!
//! Loading is strict: unknown keys are errors, YAML booleans are only `true`/`false`, and
//! every error names the file, line, column and field. A missing `mesh.yaml` or
//! `agents.yaml` means defaults; a missing `permissions.json` means every agent is denied
//! everything (the mesh logs a warning).

mod agents;
mod error;
mod heartbeat;
mod mesh;
mod parse;
mod permissions_file;
mod unsupported;

pub(crate) use parse::json as parse_json;
pub(crate) use parse::yaml as parse_yaml;

use std::path::{Path, PathBuf};

pub use agents::{
    AgentConfig, AgentsFile, Budget, Reaction, Resources, Thinking, parse_memory_limit,
};
pub use error::ConfigError;
pub use heartbeat::{
    DEFAULT_HEARTBEAT_SCHEDULE, DEFAULT_PROBES, HeartbeatConfig, HeartbeatSetting, PROBES,
};
pub use mesh::{
    AgentImage, CHANNEL_KINDS, ChannelSection, HttpSection, Isolation, LlmSection, MeshFile,
    MeshSection, MicrovmAccel, MicrovmSection, Price, RuntimeSection,
};
pub use mesh::{BrowserSection, RateLimitsSection, SearchProvider, SearchSection, SpawnSection};
use openlegion_protocol::RESERVED_AGENT_IDS;
pub use permissions_file::PermissionsFile;

pub const MESH_FILE: &str = "mesh.yaml";
pub const AGENTS_FILE: &str = "agents.yaml";
pub const PERMISSIONS_FILE: &str = "permissions.json";

/// Everything the mesh reads at start.
#[derive(Debug, Clone)]
pub struct Config {
    /// The config directory, absolute.
    pub dir: PathBuf,
    pub mesh: MeshFile,
    pub agents: AgentsFile,
    /// `None` when permissions.json does not exist.
    pub permissions: Option<PermissionsFile>,
}

impl Config {
    /// Loads and validates the config directory `dir`.
    pub fn load(dir: &Path) -> Result<Self, ConfigError> {
        let dir = std::path::absolute(dir).map_err(|source| ConfigError::Read {
            path: dir.to_owned(),
            source,
        })?;
        if !dir.is_dir() {
            return Err(ConfigError::Read {
                path: dir.clone(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "the config directory does not exist (pass --config DIR)",
                ),
            });
        }
        let mesh = load_mesh(&dir.join(MESH_FILE))?;
        let agents = load_agents(&dir.join(AGENTS_FILE))?;
        let permissions = load_permissions(&dir.join(PERMISSIONS_FILE))?;
        Ok(Self {
            dir,
            mesh,
            agents,
            permissions,
        })
    }

    /// Where the mesh keeps its state: `mesh.state_dir`, or `.openlegion/` beside the
    /// config directory.
    pub fn state_dir(&self) -> PathBuf {
        let base = self.dir.parent().unwrap_or(&self.dir);
        match &self.mesh.mesh.state_dir {
            Some(dir) => base.join(dir),
            None => base.join(".openlegion"),
        }
    }

    /// The `.env` file of credentials, beside the config directory.
    pub fn dotenv_path(&self) -> PathBuf {
        self.dir.parent().unwrap_or(&self.dir).join(".env")
    }

    pub fn agents_path(&self) -> PathBuf {
        self.dir.join(AGENTS_FILE)
    }

    pub fn permissions_path(&self) -> PathBuf {
        self.dir.join(PERMISSIONS_FILE)
    }
}

/// Reads a file the mesh keeps or the operator may write (cron.json, webhooks.json,
/// watchers.yaml): `None` if it does not exist or holds only whitespace, both meaning "none
/// configured".
pub(crate) fn read_nonblank(path: &Path) -> Result<Option<String>, ConfigError> {
    Ok(read_optional(path)?.filter(|text| !text.trim().is_empty()))
}

/// Reads a file, or `None` if it does not exist.
fn read_optional(path: &Path) -> Result<Option<String>, ConfigError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ConfigError::Read {
            path: path.to_owned(),
            source,
        }),
    }
}

pub fn load_mesh(path: &Path) -> Result<MeshFile, ConfigError> {
    match read_optional(path)? {
        Some(text) => parse_mesh(path, &text),
        None => Ok(MeshFile::default()),
    }
}

/// Parses and checks `text` as the mesh.yaml at `path` (what [`load_mesh`] does once the
/// file is read; `openlegion setup` checks a new mesh.yaml with it before writing).
pub fn parse_mesh(path: &Path, text: &str) -> Result<MeshFile, ConfigError> {
    let file: MeshFile = if text.trim().is_empty() {
        MeshFile::default()
    } else {
        parse::yaml(path, text)?
    };
    if let Some(key) = file
        .runtime
        .labels
        .keys()
        .find(|k| k.starts_with("openlegion."))
    {
        return Err(ConfigError::Invalid {
            path: path.to_owned(),
            field: format!("runtime.labels.{key}"),
            message: "labels under openlegion. are the platform's own; choose another prefix"
                .into(),
        });
    }
    if let Some(t) = file.llm.timeout_seconds
        && !(10..=7200).contains(&t)
    {
        return Err(ConfigError::Invalid {
            path: path.to_owned(),
            field: "llm.timeout_seconds".into(),
            message: format!("{t} is not a number of seconds from 10 to 7200"),
        });
    }
    if let Some(size) = &file.runtime.microvm.disk_size
        && let Err(message) = parse_memory_limit(size)
    {
        return Err(ConfigError::Invalid {
            path: path.to_owned(),
            field: "runtime.microvm.disk_size".into(),
            message,
        });
    }
    if let Some(model) = &file.llm.embedding_model
        && let Ok(parsed) = crate::vault::parse_model(model)
        && parsed.provider == crate::embeddings::PROVIDER
        && parsed.name != crate::embeddings::MODEL_NAME
    {
        return Err(ConfigError::Invalid {
            path: path.to_owned(),
            field: "llm.embedding_model".into(),
            message: format!(
                "the mesh runs one local embedding model, local/{}, not {model}",
                crate::embeddings::MODEL_NAME
            ),
        });
    }
    for (name, channel) in &file.channels {
        channel
            .validate(name)
            .map_err(|(field, message)| ConfigError::Invalid {
                path: path.to_owned(),
                field: format!("channels.{name}.{field}"),
                message,
            })?;
    }
    Ok(file)
}

pub fn load_agents(path: &Path) -> Result<AgentsFile, ConfigError> {
    match read_optional(path)? {
        Some(text) => parse_agents(path, &text),
        None => Ok(AgentsFile::default()),
    }
}

/// Parses and checks `text` as the agents.yaml at `path` (what [`load_agents`] does once
/// the file is read).
pub fn parse_agents(path: &Path, text: &str) -> Result<AgentsFile, ConfigError> {
    let file: AgentsFile = if text.trim().is_empty() {
        AgentsFile::default()
    } else {
        parse::yaml(path, text)?
    };
    for (id, agent) in &file.agents {
        if RESERVED_AGENT_IDS.contains(&id.as_str()) {
            return Err(ConfigError::Invalid {
                path: path.to_owned(),
                field: format!("agents.{id}"),
                message: format!(
                    "{id:?} is a reserved name ({})",
                    RESERVED_AGENT_IDS.join(", ")
                ),
            });
        }
        agent
            .validate()
            .map_err(|(field, message)| ConfigError::Invalid {
                path: path.to_owned(),
                field: format!("agents.{id}.{field}"),
                message,
            })?;
    }
    Ok(file)
}

pub fn load_permissions(path: &Path) -> Result<Option<PermissionsFile>, ConfigError> {
    read_optional(path)?
        .map(|text| parse::json(path, &text))
        .transpose()
}

/// Writes agents.yaml atomically (temp file + rename), so a crash never leaves it half
/// written. Comments in the old file are not preserved.
pub fn save_agents(path: &Path, agents: &AgentsFile) -> Result<(), ConfigError> {
    let yaml = serde_saphyr::to_string(agents).map_err(|e| ConfigError::Invalid {
        path: path.to_owned(),
        field: "(document)".into(),
        message: e.to_string(),
    })?;
    let text = format!(
        "# Agents of this OpenLegion installation (written by `openlegion agent`).\n{yaml}"
    );
    crate::atomic_file::write(path, text.as_bytes()).map_err(|source| ConfigError::Write {
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod keys;
#[cfg(test)]
mod tests;
