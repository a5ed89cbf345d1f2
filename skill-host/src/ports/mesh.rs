//! `openlegion:skill/mesh`: the agent's connection to the mesh, as the skill host asks for it.
//!
//! The agent implements [`MeshCap`]; [`crate::host`] checks the grant and the mesh's own
//! limits first.

use openlegion_protocol::{ArtifactMeta, SpawnRequest};

use crate::capability::{Capability, not_granted};

/// The agent's connection to the mesh, one method per WIT function. Every method refuses
/// unless implemented. JSON values travel as JSON text; `Err` is the text the skill sees.
#[async_trait::async_trait]
pub trait MeshCap: Send + Sync {
    async fn read_state(&self, skill: &str, key: &str) -> Result<Option<String>, String> {
        let _ = key;
        Err(not_granted(Capability::Mesh, skill))
    }

    async fn write_state(
        &self,
        skill: &str,
        key: &str,
        value_json: &str,
        ttl_seconds: Option<u32>,
    ) -> Result<String, String> {
        let _ = (key, value_json, ttl_seconds);
        Err(not_granted(Capability::Mesh, skill))
    }

    async fn list_state(&self, skill: &str, prefix: &str) -> Result<String, String> {
        let _ = prefix;
        Err(not_granted(Capability::Mesh, skill))
    }

    async fn publish(&self, skill: &str, topic: &str, payload_json: &str) -> Result<u32, String> {
        let _ = (topic, payload_json);
        Err(not_granted(Capability::Mesh, skill))
    }

    async fn list_agents(&self, skill: &str) -> Result<String, String> {
        Err(not_granted(Capability::Mesh, skill))
    }

    async fn send_message(
        &self,
        skill: &str,
        to: &str,
        kind: &str,
        payload_json: &str,
    ) -> Result<String, String> {
        let _ = (to, kind, payload_json);
        Err(not_granted(Capability::Mesh, skill))
    }

    async fn set_cron(&self, skill: &str, spec_json: &str) -> Result<String, String> {
        let _ = spec_json;
        Err(not_granted(Capability::Mesh, skill))
    }

    async fn list_cron(&self, skill: &str) -> Result<String, String> {
        Err(not_granted(Capability::Mesh, skill))
    }

    async fn remove_cron(&self, skill: &str, id: &str) -> Result<String, String> {
        let _ = id;
        Err(not_granted(Capability::Mesh, skill))
    }

    async fn set_heartbeat(&self, skill: &str, spec_json: &str) -> Result<String, String> {
        let _ = spec_json;
        Err(not_granted(Capability::Mesh, skill))
    }

    /// Starts a sub-agent; `Ok` is the mesh's answer as JSON text.
    async fn spawn_agent(&self, skill: &str, request: SpawnRequest) -> Result<String, String> {
        let _ = request;
        Err(not_granted(Capability::Mesh, skill))
    }

    /// Another agent's history, as JSON text; `limit` is already defaulted and capped.
    async fn read_agent_history(
        &self,
        skill: &str,
        agent: &str,
        limit: u32,
    ) -> Result<String, String> {
        let _ = (agent, limit);
        Err(not_granted(Capability::Mesh, skill))
    }

    /// Registers an artifact of the agent's workspace (its metadata, read by the host).
    async fn register_artifact(&self, skill: &str, meta: ArtifactMeta) -> Result<String, String> {
        let _ = meta;
        Err(not_granted(Capability::Mesh, skill))
    }

    /// Another agent's artifact, as the JSON text the skill sees.
    async fn read_artifact(&self, skill: &str, agent: &str, name: &str) -> Result<String, String> {
        let _ = (agent, name);
        Err(not_granted(Capability::Mesh, skill))
    }
}

/// No mesh at all.
#[derive(Debug, Clone, Copy, Default)]
pub struct DenyMesh;

impl MeshCap for DenyMesh {}
