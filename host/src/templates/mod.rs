//! Team templates: a named team of agents, each with its role, prompt and permissions, and
//! optionally the workflows the team runs (`templates/*.yaml`, the original's shape).
//!
//! The four of the repository (starter, sales, devteam, content) are built into the binary,
//! so `openlegion setup` offers them wherever it runs; a path to another file works too.
//! Loading is as strict as the config files': an unknown key or a wrong type is an error
//! naming the file, line and field. [`apply`] writes a template into a config directory.
//!
//! Not here: asking the user which template (the CLI's setup wizard), and running the
//! workflows (the orchestrator reads `config/workflows/` itself).

mod apply;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use openlegion_protocol::{AgentId, AgentPermissions};
use serde::Deserialize;

use crate::config::{AgentConfig, AgentImage, Budget, ConfigError, Isolation, Resources};

pub use apply::{Applied, Existing, apply};

/// Written for `model:` where the template leaves the model to `llm.default_model`.
pub const DEFAULT_MODEL: &str = "{default_model}";

/// The templates built into the binary: (name, YAML).
const BUILTIN: [(&str, &str); 4] = [
    ("starter", include_str!("../../../templates/starter.yaml")),
    ("sales", include_str!("../../../templates/sales.yaml")),
    ("devteam", include_str!("../../../templates/devteam.yaml")),
    ("content", include_str!("../../../templates/content.yaml")),
];

/// A team template.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub agents: BTreeMap<AgentId, TemplateAgent>,
    /// Workflows of the team, by name: each value is a workflow document, written as
    /// `config/workflows/NAME.yaml`.
    #[serde(default)]
    pub workflows: BTreeMap<String, serde_json::Value>,
}

/// One agent of a template: the agents.yaml keys a template may set, and its permissions.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TemplateAgent {
    pub role: String,
    /// `provider/model`, or `{default_model}` (also when absent): the installation's
    /// `llm.default_model`.
    pub model: Option<String>,
    pub system_prompt: Option<String>,
    pub instructions: Option<String>,
    pub soul: Option<String>,
    pub heartbeat: Option<crate::config::HeartbeatSetting>,
    pub budget: Option<Budget>,
    pub resources: Option<Resources>,
    pub isolation: Option<Isolation>,
    pub image: Option<AgentImage>,
    /// Its entry of permissions.json (`allowed_apis` defaults to `[llm]`: every agent needs
    /// a model to think).
    pub permissions: Option<AgentPermissions>,
}

impl TemplateAgent {
    /// The agents.yaml entry of this agent.
    pub fn agent_config(&self) -> AgentConfig {
        AgentConfig {
            role: self.role.clone(),
            model: self.model.clone().filter(|m| m != DEFAULT_MODEL),
            system_prompt: self.system_prompt.clone(),
            instructions: self.instructions.clone(),
            soul: self.soul.clone(),
            heartbeat: self.heartbeat.clone(),
            budget: self.budget.clone(),
            resources: self.resources.clone(),
            isolation: self.isolation,
            image: self.image,
            ..AgentConfig::default()
        }
    }

    /// Its permissions.json entry, with `allowed_apis: [llm]` unless the template says.
    pub fn permissions(&self) -> AgentPermissions {
        let mut perms = self.permissions.clone().unwrap_or_default();
        if perms.allowed_apis.is_empty() {
            perms.allowed_apis = vec!["llm".into()];
        }
        perms
    }
}

/// The names of the built-in templates, in the order setup offers them.
pub fn builtin_names() -> Vec<&'static str> {
    BUILTIN.iter().map(|(name, _)| *name).collect()
}

/// A built-in template by name, or a template file by path (anything with a `/` or
/// ending in `.yaml`/`.yml`).
pub fn load(name_or_path: &str) -> Result<Template, ConfigError> {
    let looks_like_path = name_or_path.contains('/')
        || name_or_path.ends_with(".yaml")
        || name_or_path.ends_with(".yml");
    if !looks_like_path {
        let Some((name, text)) = BUILTIN.iter().find(|(name, _)| *name == name_or_path) else {
            return Err(ConfigError::Invalid {
                path: PathBuf::from("templates"),
                field: "template".into(),
                message: format!(
                    "no template named {name_or_path:?}; the templates are {} (or give a path to a .yaml file)",
                    builtin_names().join(", ")
                ),
            });
        };
        return parse(&PathBuf::from(format!("templates/{name}.yaml")), text);
    }
    let path = Path::new(name_or_path);
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(path, &text)
}

/// Parses the template `text` read from `path`, strictly, and checks what serde cannot.
pub fn parse(path: &Path, text: &str) -> Result<Template, ConfigError> {
    let template: Template = crate::config::parse_yaml(path, text)?;
    let invalid = |field: String, message: String| ConfigError::Invalid {
        path: path.to_owned(),
        field,
        message,
    };
    if template.agents.is_empty() {
        return Err(invalid("agents".into(), "a template needs an agent".into()));
    }
    for (id, agent) in &template.agents {
        if openlegion_protocol::RESERVED_AGENT_IDS.contains(&id.as_str()) {
            return Err(invalid(
                format!("agents.{id}"),
                format!("{id:?} is a reserved name"),
            ));
        }
        agent
            .agent_config()
            .validate()
            .map_err(|(field, message)| invalid(format!("agents.{id}.{field}"), message))?;
    }
    for name in template.workflows.keys() {
        if !is_file_name(name) {
            return Err(invalid(
                format!("workflows.{name}"),
                "a workflow name is letters, digits, `-` and `_` (it names config/workflows/NAME.yaml)"
                    .into(),
            ));
        }
    }
    for (name, doc) in &template.workflows {
        if !doc.is_object() {
            return Err(invalid(
                format!("workflows.{name}"),
                "a workflow is a mapping (name, trigger, steps, …)".into(),
            ));
        }
    }
    Ok(template)
}

fn is_file_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

#[cfg(test)]
mod tests;
