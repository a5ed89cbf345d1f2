//! Artifacts: the deliverables agents save in `artifacts/` of their workspace, registered
//! on the blackboard so others can find and fetch them.
//!
//! - `POST /mesh/artifacts` (an agent): registers one of its own files as
//!   `artifacts/<agent>/<name>` with its path, size, sha256 and MIME type. The mesh writes
//!   that key for the agent whatever its write ACL says (the key is always its own), as
//!   the original does.
//! - `GET /mesh/artifacts/{agent}/{name}`: the file itself, for the operator or an agent
//!   that may read that key. The bytes stay in the owner's data directory (a container's
//!   volume, or a directory): the mesh asks the owner's API for them and checks them
//!   against the registered digest, so the owner must be running. `?as=json` answers
//!   `{"agent", "name", "mime", "size", "sha256", "content"}` (text, cut at 1 MiB) or
//!   `"base64"` for binary files, for the `read_artifact` tool.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRef, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use openlegion_protocol::{ArtifactMeta, BlackboardEntry};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use sha2::Digest;

use crate::auth::{Caller, Tokens};
use crate::mesh::Mesh;
use crate::server::{ApiError, ApiJson, ApiPath, ApiQuery};

/// Largest artifact the mesh relays.
const MAX_RELAY_BYTES: usize = 32 * 1024 * 1024;
/// Largest text handed to a model in `?as=json`.
const MAX_TEXT_BYTES: usize = 1024 * 1024;

#[derive(Debug, Clone, FromRef)]
struct ArtifactState {
    tokens: Arc<Tokens>,
    mesh: Arc<Mesh>,
}

/// The routes, with their own state, to merge into the mesh's app.
pub fn routes(mesh: Arc<Mesh>) -> Router {
    Router::new()
        .route("/mesh/artifacts", post(register))
        .route("/mesh/artifacts/{agent}/{name}", get(fetch))
        .with_state(ArtifactState {
            tokens: Arc::clone(&mesh.tokens),
            mesh,
        })
}

async fn register(
    State(mesh): State<Arc<Mesh>>,
    caller: Caller,
    ApiJson(meta): ApiJson<ArtifactMeta>,
) -> Result<Json<BlackboardEntry>, ApiError> {
    let Caller::Agent(agent) = &caller else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "Only agents register artifacts (of their own workspace)",
        ));
    };
    meta.check()
        .map_err(|p| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, p))?;
    let key = format!("artifacts/{agent}/{}", meta.name);
    let value = match serde_json::to_value(&meta) {
        Ok(Value::Object(mut map)) => {
            map.insert("agent".into(), Value::String(agent.to_string()));
            map
        }
        _ => Map::new(),
    };
    Ok(Json(mesh.blackboard.put_for(&caller, key, value).await?))
}

#[derive(Debug, Deserialize)]
struct FetchQuery {
    #[serde(rename = "as", default)]
    format: Option<String>,
}

async fn fetch(
    State(mesh): State<Arc<Mesh>>,
    caller: Caller,
    ApiPath((agent, name)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<FetchQuery>,
) -> Result<Response, ApiError> {
    let key = format!("artifacts/{agent}/{name}");
    let entry = mesh.blackboard.get(&caller, key).await?;
    let registered = |field: &str| entry.value.get(field).cloned().unwrap_or(Value::Null);
    let sha256 = registered("sha256").as_str().unwrap_or_default().to_owned();
    let mime = registered("mime")
        .as_str()
        .unwrap_or("application/octet-stream")
        .to_owned();
    let url = mesh.registry.url(&agent).ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("Agent {agent} is not running; its artifacts are kept with it"),
        )
    })?;
    let unavailable = |why: String| {
        ApiError::new(
            StatusCode::BAD_GATEWAY,
            format!("cannot fetch {name} from agent {agent}: {why}"),
        )
    };
    let mut resp = mesh
        .links
        .link(&agent, &url)
        .request(reqwest::Method::GET, &format!("/artifacts/{name}"))
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .map_err(|e| unavailable(e.to_string()))?;
    if !resp.status().is_success() {
        return Err(unavailable(format!("it answered {}", resp.status())));
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| unavailable(e.to_string()))? {
        if bytes.len() + chunk.len() > MAX_RELAY_BYTES {
            return Err(unavailable(format!(
                "it is larger than the {MAX_RELAY_BYTES} bytes the mesh relays"
            )));
        }
        bytes.extend_from_slice(&chunk);
    }
    let digest = hex::encode(sha2::Sha256::digest(&bytes));
    if digest != sha256 {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "{name} of agent {agent} changed since it was registered (sha256 {digest}, \
                 registered {sha256}); ask {agent} to save it again"
            ),
        ));
    }
    if query.format.as_deref() != Some("json") {
        return Ok(([(header::CONTENT_TYPE, mime)], bytes).into_response());
    }
    let mut answer = json!({
        "agent": agent, "name": name, "mime": mime, "size": bytes.len(), "sha256": digest,
    });
    match String::from_utf8(bytes) {
        Ok(mut text) => {
            let truncated = text.len() > MAX_TEXT_BYTES;
            if truncated {
                text.truncate(text.floor_char_boundary(MAX_TEXT_BYTES));
            }
            answer["content"] = Value::String(text);
            answer["truncated"] = Value::Bool(truncated);
        }
        Err(binary) => {
            let bytes = binary.into_bytes();
            let truncated = bytes.len() > MAX_TEXT_BYTES;
            let shown = &bytes[..bytes.len().min(MAX_TEXT_BYTES)];
            answer["base64"] =
                Value::String(base64::engine::general_purpose::STANDARD.encode(shown));
            answer["truncated"] = Value::Bool(truncated);
        }
    }
    Ok(Json(answer).into_response())
}
