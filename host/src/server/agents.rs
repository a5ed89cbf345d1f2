//! `/mesh/register`, `/mesh/agents` and the operator's agent management.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use openlegion_protocol::{AgentInfo, RegisterRequest, RegisterResponse};
use serde_json::{Value, json};

use super::AppState;
use super::error::{ApiError, ApiJson, ApiPath, ApiQuery};
use crate::auth::Caller;
use crate::fleet::Fleet;
use crate::mesh::Mesh;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/mesh/register", post(register))
        .route("/mesh/agents", get(list))
        .route("/mesh/agents/{agent}", delete(remove))
        .route("/mesh/agents/{agent}/token", post(token))
        .route("/mesh/http", post(fetch))
}

async fn register(
    State(mesh): State<Arc<Mesh>>,
    caller: Caller,
    ApiJson(req): ApiJson<RegisterRequest>,
) -> Result<Json<RegisterResponse>, ApiError> {
    Ok(Json(mesh.register(&caller, req).await?))
}

async fn list(
    State(mesh): State<Arc<Mesh>>,
    _caller: Caller,
) -> Result<Json<BTreeMap<String, AgentInfo>>, ApiError> {
    Ok(Json(mesh.agents().await?))
}

#[derive(Debug, serde::Deserialize)]
struct RemoveQuery {
    /// Also delete the agent's data (its volume or data directory).
    #[serde(default)]
    purge: bool,
}

async fn remove(
    State(mesh): State<Arc<Mesh>>,
    State(fleet): State<Arc<Fleet>>,
    caller: Caller,
    ApiPath(agent): ApiPath<String>,
    ApiQuery(q): ApiQuery<RemoveQuery>,
) -> Result<Json<Value>, ApiError> {
    if !caller.is_operator() {
        return Err(crate::mesh::MeshError::OperatorOnly {
            action: "remove agents",
        }
        .into());
    }
    fleet
        .stop(&agent, q.purge)
        .await
        .map_err(|e| ApiError::new(axum::http::StatusCode::BAD_GATEWAY, e.to_string()))?;
    mesh.remove_agent(&caller, &agent).await?;
    Ok(Json(
        json!({ "removed": true, "agent_id": agent, "purged": q.purge }),
    ))
}

async fn token(
    State(mesh): State<Arc<Mesh>>,
    caller: Caller,
    ApiPath(agent): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    let token = mesh.mint_token(&caller, &agent).await?;
    Ok(Json(json!({ "agent_id": agent, "token": token })))
}

async fn fetch(
    State(mesh): State<Arc<Mesh>>,
    caller: Caller,
    ApiJson(req): ApiJson<crate::fetch::FetchRequest>,
) -> Result<Json<crate::fetch::FetchResponse>, ApiError> {
    Ok(Json(mesh.fetch(&caller, req).await?))
}
