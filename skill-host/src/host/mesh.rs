//! `openlegion:skill/mesh`: blackboard, pub/sub, messages and the agent's schedules (cron
//! jobs and heartbeat), with the agent's identity.
//!
//! This crate checks the grant and the size of what the guest hands over (the mesh's own
//! limits, so a call the mesh would refuse does not leave the agent); the agent's
//! [`MeshCap`] makes the calls.

use openlegion_protocol::limits::{MAX_KEY_CHARS, MAX_NAME_CHARS, MAX_VALUE_BYTES};
use openlegion_protocol::{
    ArtifactMeta, MAX_ARTIFACT_NAME_BYTES, SpawnRequest, is_plain_file_name,
};

use crate::bindings::openlegion::skill::mesh::Host;
use crate::call_state::CallState;
use crate::capability::Capability;
use crate::host::bounded;

/// Longest message kind (`task_request`, `query`, …).
const MAX_KIND_BYTES: usize = 64;
/// History entries when the guest asks for none in particular, and the most it may ask.
const DEFAULT_HISTORY_ENTRIES: u32 = 20;
const MAX_HISTORY_ENTRIES: u32 = 200;

/// Longest cron job or heartbeat spec (a schedule and a message of at most 16 KiB).
const MAX_SPEC_BYTES: usize = 20 * 1024;

impl Host for CallState {
    async fn read_state(&mut self, key: String) -> Result<Option<String>, String> {
        self.skill.check(Capability::Mesh)?;
        check_key(&key)?;
        let mesh = self.skill.caps.mesh.clone();
        mesh.read_state(&self.skill.name, &key).await
    }

    async fn write_state(
        &mut self,
        key: String,
        value_json: String,
        ttl_seconds: Option<u32>,
    ) -> Result<String, String> {
        self.skill.check(Capability::Mesh)?;
        check_key(&key)?;
        check_object("value-json", &value_json)?;
        let mesh = self.skill.caps.mesh.clone();
        mesh.write_state(&self.skill.name, &key, &value_json, ttl_seconds)
            .await
    }

    async fn list_state(&mut self, prefix: String) -> Result<String, String> {
        self.skill.check(Capability::Mesh)?;
        check_key(&prefix)?;
        let mesh = self.skill.caps.mesh.clone();
        mesh.list_state(&self.skill.name, &prefix).await
    }

    async fn publish(&mut self, topic: String, payload_json: String) -> Result<u32, String> {
        self.skill.check(Capability::Mesh)?;
        check_name("topic", &topic)?;
        check_object("payload-json", &payload_json)?;
        let mesh = self.skill.caps.mesh.clone();
        mesh.publish(&self.skill.name, &topic, &payload_json).await
    }

    async fn list_agents(&mut self) -> Result<String, String> {
        self.skill.check(Capability::Mesh)?;
        let mesh = self.skill.caps.mesh.clone();
        mesh.list_agents(&self.skill.name).await
    }

    async fn send_message(
        &mut self,
        to: String,
        kind: String,
        payload_json: String,
    ) -> Result<String, String> {
        self.skill.check(Capability::Mesh)?;
        // `capability:<name>` addresses carry a name as long as a topic.
        check_name("to", to.strip_prefix("capability:").unwrap_or(&to))?;
        bounded("kind", &kind, MAX_KIND_BYTES)?;
        check_object("payload-json", &payload_json)?;
        let mesh = self.skill.caps.mesh.clone();
        mesh.send_message(&self.skill.name, &to, &kind, &payload_json)
            .await
    }

    async fn set_cron(&mut self, spec_json: String) -> Result<String, String> {
        self.skill.check(Capability::Mesh)?;
        bounded("spec-json", &spec_json, MAX_SPEC_BYTES)?;
        check_object("spec-json", &spec_json)?;
        let mesh = self.skill.caps.mesh.clone();
        mesh.set_cron(&self.skill.name, &spec_json).await
    }

    async fn list_cron(&mut self) -> Result<String, String> {
        self.skill.check(Capability::Mesh)?;
        let mesh = self.skill.caps.mesh.clone();
        mesh.list_cron(&self.skill.name).await
    }

    async fn remove_cron(&mut self, id: String) -> Result<String, String> {
        self.skill.check(Capability::Mesh)?;
        check_name("id", &id)?;
        let mesh = self.skill.caps.mesh.clone();
        mesh.remove_cron(&self.skill.name, &id).await
    }

    async fn set_heartbeat(&mut self, spec_json: String) -> Result<String, String> {
        self.skill.check(Capability::Mesh)?;
        bounded("spec-json", &spec_json, MAX_SPEC_BYTES)?;
        check_object("spec-json", &spec_json)?;
        let mesh = self.skill.caps.mesh.clone();
        mesh.set_heartbeat(&self.skill.name, &spec_json).await
    }

    async fn spawn_agent(
        &mut self,
        role: String,
        instructions: String,
        ttl_seconds: Option<u32>,
        budget_usd: Option<f64>,
    ) -> Result<String, String> {
        self.skill.check(Capability::Mesh)?;
        let request = SpawnRequest {
            role,
            instructions,
            ttl_seconds: ttl_seconds.map(u64::from),
            budget_usd,
        };
        request.check()?;
        let mesh = self.skill.caps.mesh.clone();
        mesh.spawn_agent(&self.skill.name, request).await
    }

    async fn read_agent_history(&mut self, agent: String, limit: u32) -> Result<String, String> {
        self.skill.check(Capability::Mesh)?;
        check_name("agent", &agent)?;
        let limit = match limit {
            0 => DEFAULT_HISTORY_ENTRIES,
            n => n.min(MAX_HISTORY_ENTRIES),
        };
        let mesh = self.skill.caps.mesh.clone();
        mesh.read_agent_history(&self.skill.name, &agent, limit)
            .await
    }

    async fn register_artifact(&mut self, name: String) -> Result<String, String> {
        self.skill.check(Capability::Mesh)?;
        self.skill.check(Capability::Workspace)?;
        if !is_plain_file_name(&name) || name.len() > MAX_ARTIFACT_NAME_BYTES {
            return Err(format!("Invalid artifact name: {name}"));
        }
        let path = format!("artifacts/{name}");
        let root = self.skill.caps.workspace_root.clone();
        let p = path.clone();
        let (size, sha256) =
            tokio::task::spawn_blocking(move || crate::workspace::digest(&root, &p))
                .await
                .map_err(|e| format!("workspace operation failed: {e}"))??;
        let mime = mime_guess::from_path(&name)
            .first_or_octet_stream()
            .essence_str()
            .to_owned();
        let meta = ArtifactMeta {
            name,
            path,
            size,
            sha256,
            mime,
        };
        let mesh = self.skill.caps.mesh.clone();
        mesh.register_artifact(&self.skill.name, meta).await
    }

    async fn read_artifact(&mut self, agent: String, name: String) -> Result<String, String> {
        self.skill.check(Capability::Mesh)?;
        check_name("agent", &agent)?;
        if !is_plain_file_name(&name) || name.len() > MAX_ARTIFACT_NAME_BYTES {
            return Err(format!("Invalid artifact name: {name}"));
        }
        let mesh = self.skill.caps.mesh.clone();
        mesh.read_artifact(&self.skill.name, &agent, &name).await
    }
}

fn check_key(key: &str) -> Result<(), String> {
    let chars = key.chars().count();
    if chars > MAX_KEY_CHARS {
        Err(format!(
            "key is {chars} characters, more than the {MAX_KEY_CHARS} allowed"
        ))
    } else {
        Ok(())
    }
}

fn check_name(what: &str, name: &str) -> Result<(), String> {
    let chars = name.chars().count();
    if chars > MAX_NAME_CHARS {
        Err(format!(
            "{what} is {chars} characters, more than the {MAX_NAME_CHARS} allowed"
        ))
    } else {
        Ok(())
    }
}

/// A JSON object of at most the mesh's value size.
fn check_object(what: &str, json: &str) -> Result<(), String> {
    bounded(what, json, MAX_VALUE_BYTES)?;
    match serde_json::from_str::<serde_json::Value>(json) {
        Ok(serde_json::Value::Object(_)) => Ok(()),
        Ok(_) => Err(format!("{what} must be a JSON object")),
        Err(e) => Err(format!("{what} is not valid JSON: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_must_be_bounded_json_objects() {
        assert_eq!(check_object("value-json", r#"{"a":1}"#), Ok(()));
        assert_eq!(
            check_object("value-json", "[1]"),
            Err("value-json must be a JSON object".into())
        );
        assert!(
            check_object("value-json", "{")
                .unwrap_err()
                .starts_with("value-json is not valid JSON")
        );
        let huge = format!(r#"{{"a":"{}"}}"#, "x".repeat(MAX_VALUE_BYTES));
        assert!(
            check_object("value-json", &huge)
                .unwrap_err()
                .contains("more than the 262144")
        );
    }

    #[test]
    fn keys_are_counted_in_characters() {
        assert_eq!(check_key(&"é".repeat(MAX_KEY_CHARS)), Ok(()));
        assert!(check_key(&"k".repeat(MAX_KEY_CHARS + 1)).is_err());
    }
}
