//! Writing a template into a config directory: its agents into agents.yaml, their entries
//! into permissions.json, its workflows into `workflows/NAME.yaml`.
//!
//! What is already there stays unless `replace` says otherwise for that agent or workflow:
//! the caller asks the user. permissions.json is edited as JSON, so every other entry and
//! key is kept as it was; each new entry holds only the permissions the template grants.
//! Every file is written atomically, and the result is loaded back before anything is
//! written, so a template cannot leave a config directory that does not load.

use std::path::{Path, PathBuf};

use openlegion_protocol::AgentId;
use serde_json::{Map, Value};

use super::Template;
use crate::config::{self, ConfigError};

/// What [`apply`] changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// Agents written to agents.yaml (new, or replaced with the caller's consent).
    pub agents: Vec<AgentId>,
    /// Agents of the template already in agents.yaml, left as they were.
    pub kept: Vec<AgentId>,
    /// Workflow files written.
    pub workflows: Vec<PathBuf>,
    /// Workflow files that existed and were left as they were.
    pub kept_workflows: Vec<PathBuf>,
}

/// What may be replaced: an agent already in agents.yaml, or a workflow file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing<'a> {
    Agent(&'a AgentId),
    Workflow(&'a Path),
}

/// Writes `template` into `config_dir`; `replace` is asked about each agent or workflow
/// that exists already (`true`: overwrite it).
pub fn apply(
    template: &Template,
    config_dir: &Path,
    replace: &mut dyn FnMut(Existing<'_>) -> bool,
) -> Result<Applied, ConfigError> {
    let agents_path = config_dir.join(config::AGENTS_FILE);
    let perms_path = config_dir.join(config::PERMISSIONS_FILE);
    let mut agents = config::load_agents(&agents_path)?;
    let mut perms = read_permissions(&perms_path)?;
    let mut applied = Applied::default();
    for (id, agent) in &template.agents {
        if agents.agents.contains_key(id) && !replace(Existing::Agent(id)) {
            applied.kept.push(id.clone());
            continue;
        }
        agents.agents.insert(id.clone(), agent.agent_config());
        let entry = minimal(serde_json::to_value(agent.permissions()).expect("serialisable"));
        perms
            .entry("permissions")
            .or_insert_with(|| Value::Object(Map::new()))
            .as_object_mut()
            .ok_or_else(|| ConfigError::Invalid {
                path: perms_path.clone(),
                field: "permissions".into(),
                message: "is not an object".into(),
            })?
            .insert(id.to_string(), entry);
        applied.agents.push(id.clone());
    }
    let workflows_dir = config_dir.join("workflows");
    let mut workflow_files = Vec::new();
    for (name, doc) in &template.workflows {
        let path = workflows_dir.join(format!("{name}.yaml"));
        if path.exists() && !replace(Existing::Workflow(&path)) {
            applied.kept_workflows.push(path);
            continue;
        }
        let yaml = serde_saphyr::to_string(doc).map_err(|e| ConfigError::Invalid {
            path: path.clone(),
            field: "(document)".into(),
            message: e.to_string(),
        })?;
        workflow_files.push((path, yaml));
    }

    // Check the whole result loads before writing any of it.
    let perms_text = serde_json::to_string_pretty(&Value::Object(perms)).expect("JSON") + "\n";
    let _checked: config::PermissionsFile = config::parse_json(&perms_path, &perms_text)?;
    if !applied.agents.is_empty() {
        config::save_agents(&agents_path, &agents)?;
        write(&perms_path, &perms_text)?;
    }
    if !workflow_files.is_empty() {
        std::fs::create_dir_all(&workflows_dir).map_err(|source| ConfigError::Write {
            path: workflows_dir.clone(),
            source,
        })?;
    }
    for (path, yaml) in workflow_files {
        let text = format!(
            "# Workflow of the `{}` template (written by `openlegion setup`).\n{yaml}",
            template.name
        );
        write(&path, &text)?;
        applied.workflows.push(path);
    }
    Ok(applied)
}

/// permissions.json as JSON (an empty object when it does not exist), checked first with
/// the strict reader so a broken file is reported, not rewritten.
fn read_permissions(path: &Path) -> Result<Map<String, Value>, ConfigError> {
    let Some(_strict) = config::load_permissions(path)? else {
        return Ok(Map::new());
    };
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    match serde_json::from_str(&text) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(ConfigError::Invalid {
            path: path.to_owned(),
            field: "(document)".into(),
            message: "is not a JSON object".into(),
        }),
    }
}

/// The entry without the fields at their "nothing granted" value, so the file says only
/// what is granted.
fn minimal(entry: Value) -> Value {
    let Value::Object(map) = entry else {
        return entry;
    };
    let kept = map
        .into_iter()
        .filter(|(_, v)| match v {
            Value::Null | Value::Bool(false) => false,
            Value::Array(a) => !a.is_empty(),
            Value::String(s) => !s.is_empty(),
            Value::Number(n) => n.as_f64() != Some(0.0),
            _ => true,
        })
        .collect();
    Value::Object(kept)
}

fn write(path: &Path, text: &str) -> Result<(), ConfigError> {
    crate::atomic_file::write(path, text.as_bytes()).map_err(|source| ConfigError::Write {
        path: path.to_owned(),
        source,
    })
}
