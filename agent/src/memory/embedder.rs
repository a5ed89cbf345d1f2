//! Embeddings for the agent's memory, from the mesh.
//!
//! The agent holds no model and no key: [`MeshEmbedder`] asks the mesh (`/mesh/api`,
//! `llm`/`embed`) for vectors from whatever `llm.embedding_model` mesh.yaml names — one
//! model for every agent, so vectors stay comparable. When the mesh cannot embed (no model
//! configured, the model not installed, a provider down), the store falls back to keyword
//! search by itself.

use openlegion_memory::{EmbedError, Embedder};
use openlegion_protocol::{ApiProxyRequest, EmbedData};
use serde_json::{Map, json};

use crate::mesh_client::MeshClient;

/// Seconds one embedding request may take (a batch of a few facts takes milliseconds on the
/// mesh's local model; a remote provider may be slower).
const EMBED_TIMEOUT_SECS: u64 = 60;

/// Embeddings through the mesh.
#[derive(Debug, Clone)]
pub struct MeshEmbedder {
    mesh: MeshClient,
}

impl MeshEmbedder {
    pub fn new(mesh: MeshClient) -> Self {
        Self { mesh }
    }
}

#[async_trait::async_trait]
impl Embedder for MeshEmbedder {
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut params = Map::new();
        params.insert("input".into(), json!(texts));
        let request = ApiProxyRequest {
            service: "llm".into(),
            action: "embed".into(),
            params,
            timeout: EMBED_TIMEOUT_SECS,
        };
        let answer = self.mesh.api(&request).await?;
        if !answer.success {
            let error = answer.error.unwrap_or_else(|| "no reason given".into());
            return Err(format!("the mesh cannot embed: {error}").into());
        }
        let data: EmbedData = answer
            .data_as()
            .map_err(|e| format!("the mesh's embeddings are unreadable: {e}"))?;
        data.embeddings
            .ok_or_else(|| "the mesh answered without embeddings".into())
    }
}
