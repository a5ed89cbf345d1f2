//! The skill manifest, `skill.yaml` beside `skill.wasm`.
//!
//! ```yaml
//! name: notes            # 1-64 of a-z A-Z 0-9 _ -
//! version: 0.1.0
//! description: Keeps notes in the workspace.
//! capabilities: [workspace, http]
//! limits: { fuel: 50000000, memory_mib: 32, timeout_ms: 5000 }
//! probes: [check_inbox] # tools the agent's heartbeat runs without the LLM
//! ```
//!
//! Parsed strictly: unknown fields are errors, `yes` is not a boolean, and serde-saphyr's
//! budget refuses alias bombs. Agents write manifests at run time, so every error names
//! the file, the line and the field.

use std::path::Path;

use serde::{Deserialize, Deserializer, Serialize};

use crate::capability::Capability;
use crate::config::LimitsOverride;
use crate::error::HostError;

/// Longest manifest file we read: a manifest is a few lines.
pub(crate) const MAX_MANIFEST_BYTES: u64 = 64 * 1024;

const MAX_VERSION_CHARS: usize = 64;
const MAX_DESCRIPTION_CHARS: usize = 4096;

/// A skill's manifest.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The skill's name, unique within an agent: 1 to 64 of `a-z A-Z 0-9 _ -`.
    #[serde(deserialize_with = "checked_name")]
    pub name: String,
    #[serde(deserialize_with = "checked_version")]
    pub version: String,
    #[serde(default, deserialize_with = "checked_description")]
    pub description: Option<String>,
    /// The interfaces the skill wants; `log` is granted anyway.
    #[serde(default)]
    pub capabilities: Vec<Capability>,
    #[serde(default)]
    pub limits: Option<LimitsOverride>,
    /// Tools of this skill that are heartbeat probes: called with `{}` on each heartbeat,
    /// without the LLM, each answering `{"actionable": bool, "summary": "…"}`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub probes: Vec<String>,
}

impl Manifest {
    /// A manifest asking for nothing, with default limits.
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Self {
        Manifest {
            name: name.into(),
            version: version.into(),
            description: None,
            capabilities: Vec::new(),
            limits: None,
            probes: Vec::new(),
        }
    }

    /// The same, asking for `capabilities`.
    pub fn with_capabilities(mut self, capabilities: impl IntoIterator<Item = Capability>) -> Self {
        self.capabilities = capabilities.into_iter().collect();
        self
    }

    /// The same, with `limits`.
    pub fn with_limits(mut self, limits: LimitsOverride) -> Self {
        self.limits = Some(limits);
        self
    }

    /// Parses `text`, the contents of `path`.
    pub fn from_yaml(path: &Path, text: &str) -> Result<Self, HostError> {
        openlegion_protocol::strict_yaml::from_str(text).map_err(|e| HostError::Manifest {
            path: path.to_owned(),
            line: e.line,
            column: e.column,
            field: e.field,
            message: e.message,
        })
    }

    /// Checks a manifest built in code (as [`from_yaml`](Self::from_yaml) does while
    /// parsing). Returns the field and what is wrong with it.
    pub(crate) fn problem(&self) -> Option<(&'static str, String)> {
        if let Err(e) = name_problem(&self.name) {
            return Some(("name", e));
        }
        if let Err(e) = version_problem(&self.version) {
            return Some(("version", e));
        }
        if let Some(Err(e)) = self.description.as_deref().map(description_problem) {
            return Some(("description", e));
        }
        None
    }
}

/// Whether `name` is a valid skill or tool name: 1 to 64 of `a-z A-Z 0-9 _ -`.
pub(crate) fn name_problem(name: &str) -> Result<(), String> {
    let valid = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "invalid name {name:?}: use 1 to 64 of a-z A-Z 0-9 _ -"
        ))
    }
}

fn version_problem(version: &str) -> Result<(), String> {
    if version.is_empty() || version.chars().count() > MAX_VERSION_CHARS {
        Err(format!(
            "version must be 1 to {MAX_VERSION_CHARS} characters"
        ))
    } else {
        Ok(())
    }
}

fn description_problem(description: &str) -> Result<(), String> {
    if description.chars().count() > MAX_DESCRIPTION_CHARS {
        Err(format!(
            "description is longer than {MAX_DESCRIPTION_CHARS} characters"
        ))
    } else {
        Ok(())
    }
}

fn checked_name<'de, D: Deserializer<'de>>(de: D) -> Result<String, D::Error> {
    let name = String::deserialize(de)?;
    name_problem(&name).map_err(serde::de::Error::custom)?;
    Ok(name)
}

fn checked_version<'de, D: Deserializer<'de>>(de: D) -> Result<String, D::Error> {
    let version = String::deserialize(de)?;
    version_problem(&version).map_err(serde::de::Error::custom)?;
    Ok(version)
}

fn checked_description<'de, D: Deserializer<'de>>(de: D) -> Result<Option<String>, D::Error> {
    let description = Option::<String>::deserialize(de)?;
    if let Some(text) = &description {
        description_problem(text).map_err(serde::de::Error::custom)?;
    }
    Ok(description)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Manifest, HostError> {
        Manifest::from_yaml(Path::new("skills/x/skill.yaml"), text)
    }

    #[test]
    fn a_full_manifest_parses() {
        let manifest = parse(
            "name: notes\nversion: 0.1.0\ndescription: Keeps notes.\n\
             capabilities: [workspace, http]\nlimits: { fuel: 5000, memory_mib: 16, timeout_ms: 250 }\n",
        )
        .unwrap();
        assert_eq!(manifest.name, "notes");
        assert_eq!(
            manifest.capabilities,
            [Capability::Workspace, Capability::Http]
        );
        assert_eq!(manifest.limits.unwrap().memory_mib, Some(16));
    }

    #[test]
    fn errors_name_file_line_and_field() {
        let err = parse("name: notes\nversion: 0.1.0\ncapabilities: [workspace, teleport]\n")
            .unwrap_err();
        let HostError::Manifest {
            line, field, path, ..
        } = &err
        else {
            panic!("{err:?}")
        };
        assert_eq!((*line, field.as_str()), (3, "capabilities[1]"));
        assert_eq!(path, Path::new("skills/x/skill.yaml"));
        assert!(
            err.to_string().starts_with("skills/x/skill.yaml:3:"),
            "{err}"
        );
    }

    #[test]
    fn unknown_fields_and_bad_names_are_refused() {
        let err =
            parse("name: notes\nversion: '1'\nlimits:\n  fuel: 10\n  memory: 5\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "skills/x/skill.yaml:5:3: limits.memory: unknown field `memory`, expected one of fuel, memory_mib, timeout_ms"
        );
        let err = parse("name: ../evil\nversion: '1'\n").unwrap_err();
        assert!(
            matches!(&err, HostError::Manifest { line: 1, field, .. } if field == "name"),
            "{err:?}"
        );
        assert!(
            err.to_string().contains("invalid name \"../evil\""),
            "{err}"
        );
    }
}
