//! `config/webhooks.json`: the named hooks, keyed by their unguessable id, in the
//! original's shape (`{"hooks": {"<id>": {"id", "name", "agent", "created_at", …}}}`).
//!
//! Parsing is strict (unknown keys and wrong types are errors naming file, line and
//! field), and writes are atomic. The secret itself never sits in this file: `secret_env`
//! names a credential of the vault or an environment variable holding it.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::config::ConfigError;

pub const WEBHOOKS_FILE: &str = "webhooks.json";

/// Default per-hook rate limit, deliveries per minute.
pub const DEFAULT_RATE_PER_MINUTE: u32 = 120;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhooksFile {
    #[serde(default)]
    pub hooks: BTreeMap<String, Hook>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hook {
    /// `hook_` and 32 hex digits (128 random bits): the credential in the URL.
    pub id: String,
    pub name: String,
    /// The agent whose lane receives the payloads.
    pub agent: String,
    /// ISO 8601 UTC.
    pub created_at: String,
    /// The credential (vault name, or environment variable) holding the HMAC secret; when
    /// set, every delivery must be signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_env: Option<String>,
    /// What the agent is asked to do with the payload (default: process it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    /// Deliveries accepted per minute (bursts up to the same number).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_per_minute: Option<u32>,
}

impl Hook {
    /// A new hook with a fresh id.
    pub fn new(name: &str, agent: &str, secret_env: Option<String>) -> Self {
        Self {
            id: openlegion_protocol::new_id("hook", 32),
            name: name.to_owned(),
            agent: agent.to_owned(),
            created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            secret_env,
            instructions: None,
            rate_per_minute: None,
        }
    }

    pub fn rate_per_minute(&self) -> u32 {
        self.rate_per_minute.unwrap_or(DEFAULT_RATE_PER_MINUTE)
    }
}

impl WebhooksFile {
    pub fn by_name(&self, name: &str) -> Option<&Hook> {
        self.hooks.values().find(|h| h.name == name)
    }
}

/// Loads `path`; a missing or empty file means no hooks.
pub fn load(path: &Path) -> Result<WebhooksFile, ConfigError> {
    match crate::config::read_nonblank(path)? {
        Some(text) => parse(path, &text),
        None => Ok(WebhooksFile::default()),
    }
}

/// Parses and checks `text`, the contents of the webhooks.json at `path`.
pub fn parse(path: &Path, text: &str) -> Result<WebhooksFile, ConfigError> {
    let file: WebhooksFile = crate::config::parse_json(path, text)?;
    validate(path, &file)?;
    Ok(file)
}

fn validate(path: &Path, file: &WebhooksFile) -> Result<(), ConfigError> {
    let invalid = |field: String, message: String| ConfigError::Invalid {
        path: path.to_owned(),
        field,
        message,
    };
    let mut names = std::collections::HashSet::new();
    for (key, hook) in &file.hooks {
        if &hook.id != key {
            return Err(invalid(
                format!("hooks.{key}.id"),
                format!("the id {:?} differs from its key", hook.id),
            ));
        }
        if hook.id.len() < "hook_".len() + 32 {
            return Err(invalid(
                format!("hooks.{key}.id"),
                "a hook id needs at least 128 random bits (use `openlegion webhook add`)".into(),
            ));
        }
        if !names.insert(hook.name.as_str()) {
            return Err(invalid(
                format!("hooks.{key}.name"),
                format!("another hook is named {:?}", hook.name),
            ));
        }
        if openlegion_protocol::AgentId::parse(&hook.agent).is_err() {
            return Err(invalid(
                format!("hooks.{key}.agent"),
                format!("{:?} is not an agent id", hook.agent),
            ));
        }
        if hook.rate_per_minute == Some(0) {
            return Err(invalid(
                format!("hooks.{key}.rate_per_minute"),
                "must be at least 1".into(),
            ));
        }
    }
    Ok(())
}

/// Writes `file` to `path` atomically.
pub fn save(path: &Path, file: &WebhooksFile) -> Result<(), ConfigError> {
    let mut text = serde_json::to_string_pretty(file).expect("hooks serialise");
    text.push('\n');
    crate::atomic_file::write(path, text.as_bytes()).map_err(|source| ConfigError::Write {
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_hook_loads_back_with_a_128_bit_id() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(WEBHOOKS_FILE);
        let hook = Hook::new("github", "scout", Some("GH_SECRET".into()));
        assert_eq!(hook.id.len(), "hook_".len() + 32);
        let mut file = WebhooksFile::default();
        file.hooks.insert(hook.id.clone(), hook.clone());
        save(&path, &file).unwrap();
        assert_eq!(load(&path).unwrap(), file);
        assert_ne!(Hook::new("a", "b", None).id, Hook::new("a", "b", None).id);
    }

    #[test]
    fn a_wrong_type_names_file_line_and_field() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(WEBHOOKS_FILE);
        let id = "hook_0123456789abcdef0123456789abcdef";
        std::fs::write(
            &path,
            format!(
                "{{\"hooks\": {{\n  \"{id}\": {{\"id\": \"{id}\", \"name\": \"gh\",\n   \"agent\": 7, \"created_at\": \"x\"}}}}}}"
            ),
        )
        .unwrap();
        let e = load(&path).unwrap_err().to_string();
        assert!(e.contains("webhooks.json:3:"), "{e}");
        assert!(e.contains(&format!("hooks.{id}.agent")), "{e}");
    }

    #[test]
    fn an_unknown_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(WEBHOOKS_FILE);
        std::fs::write(&path, "{\"hooks\": {}, \"secret\": \"x\"}").unwrap();
        let e = load(&path).unwrap_err().to_string();
        assert!(e.contains("unknown field `secret`"), "{e}");
    }

    #[test]
    fn a_short_id_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(WEBHOOKS_FILE);
        std::fs::write(
            &path,
            r#"{"hooks": {"hook_1": {"id": "hook_1", "name": "a", "agent": "b", "created_at": "x"}}}"#,
        )
        .unwrap();
        let e = load(&path).unwrap_err().to_string();
        assert!(e.contains("hooks.hook_1.id") && e.contains("128"), "{e}");
    }
}
