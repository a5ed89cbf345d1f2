//! The config files an operator (or `openlegion` itself) writes: mesh.yaml, agents.yaml,
//! permissions.json, cron.json, webhooks.json, watchers.yaml, workflow files and team
//! templates. Bad input must give an error naming the file and the field; a file that
//! loads must load again, equal, after the mesh writes it back.

use std::path::Path;

use serde::Serialize;

use super::{JSON, YAML, target, text};
use crate::config::{self, ConfigError};
use crate::permissions::PermissionMatrix;

/// The error names the file, and the field (and the line, for a parse error).
fn located(path: &Path, e: &ConfigError) {
    let shown = e.to_string();
    assert!(
        shown.starts_with(&path.display().to_string()),
        "the error does not name the file: {shown}"
    );
    match e {
        ConfigError::Parse { line, field, .. } => {
            assert!(*line >= 1, "a parse error without a line: {shown}");
            assert!(!field.is_empty(), "a parse error without a field: {shown}");
        }
        ConfigError::Invalid { field, .. } => {
            assert!(!field.is_empty(), "an error without a field: {shown}")
        }
        _ => {}
    }
}

/// `value`, written back as the mesh writes it (`write`), reads back (`read`) equal.
fn round_trip<T: Serialize>(
    value: &T,
    write: impl Fn(&T) -> String,
    read: impl Fn(&str) -> Result<T, ConfigError>,
) {
    let written = write(value);
    let again = read(&written).unwrap_or_else(|e| panic!("{e}\nafter writing:\n{written}"));
    assert_eq!(
        serde_json::to_value(value).expect("serialises"),
        serde_json::to_value(&again).expect("serialises"),
        "not equal after writing:\n{written}"
    );
}

fn json_text<T: Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).expect("serialises")
}

#[test]
fn mesh_yaml() {
    let path = Path::new("/cfg/mesh.yaml");
    target("mesh_yaml", YAML, |input| {
        let Some(text) = text(input) else { return };
        match config::parse_mesh(path, text) {
            Ok(file) => round_trip(
                &file,
                |f| serde_saphyr::to_string(f).expect("serialises"),
                |t| config::parse_mesh(path, t),
            ),
            Err(e) => located(path, &e),
        }
    });
}

#[test]
fn agents_yaml() {
    let path = Path::new("/cfg/agents.yaml");
    target("agents_yaml", YAML, |input| {
        let Some(text) = text(input) else { return };
        match config::parse_agents(path, text) {
            Ok(file) => round_trip(
                &file,
                |f| serde_saphyr::to_string(f).expect("serialises"),
                |t| config::parse_agents(path, t),
            ),
            Err(e) => located(path, &e),
        }
    });
}

#[test]
fn permissions_json() {
    let path = Path::new("/cfg/permissions.json");
    target("permissions_json", JSON, |input| {
        let Some(text) = text(input) else { return };
        match config::parse_json::<config::PermissionsFile>(path, text) {
            Ok(file) => {
                round_trip(&file, json_text, |t| config::parse_json(path, t));
                // The matrix answers every question about every agent it names.
                let matrix = PermissionMatrix::from_file(&file);
                for agent in file.permissions.keys() {
                    matrix.can_message(agent, "other");
                    matrix.can_publish(agent, "topic.x");
                    matrix.can_read(agent, "context/key");
                    matrix.can_write(agent, "context/key");
                    matrix.can_use_api(agent, "llm");
                }
            }
            Err(e) => located(path, &e),
        }
    });
}

#[test]
fn cron_json() {
    let path = Path::new("/cfg/cron.json");
    target("cron_json", JSON, |input| {
        let Some(text) = text(input) else { return };
        match crate::triggers::cron::file::parse(path, text) {
            Ok(file) => round_trip(&file, json_text, |t| {
                crate::triggers::cron::file::parse(path, t)
            }),
            Err(e) => located(path, &e),
        }
    });
}

#[test]
fn webhooks_json() {
    let path = Path::new("/cfg/webhooks.json");
    target("webhooks_json", JSON, |input| {
        let Some(text) = text(input) else { return };
        match crate::webhooks::config::parse(path, text) {
            Ok(file) => round_trip(&file, json_text, |t| {
                crate::webhooks::config::parse(path, t)
            }),
            Err(e) => located(path, &e),
        }
    });
}

#[test]
fn watchers_yaml() {
    let path = Path::new("/cfg/watchers.yaml");
    target("watchers_yaml", YAML, |input| {
        let Some(text) = text(input) else { return };
        match crate::triggers::watchers::config::parse(path, text) {
            Ok(watchers) => {
                for w in &watchers {
                    w.key();
                    w.message_for("some/file.txt");
                }
            }
            Err(e) => located(path, &e),
        }
    });
}

#[test]
fn workflow_yaml() {
    let path = Path::new("/cfg/workflows/flow.yaml");
    target("workflow_yaml", YAML, |input| {
        let Some(text) = text(input) else { return };
        match crate::workflows::load_text(path, text, None) {
            Ok(flow) => {
                flow.agents().count();
            }
            Err(e) => located(path, &e),
        }
    });
}

#[test]
fn template_yaml() {
    let path = Path::new("/cfg/team.yaml");
    target("template_yaml", YAML, |input| {
        let Some(text) = text(input) else { return };
        match crate::templates::parse(path, text) {
            Ok(template) => {
                for agent in template.agents.values() {
                    agent.agent_config();
                    agent.permissions();
                }
            }
            Err(e) => located(path, &e),
        }
    });
}
