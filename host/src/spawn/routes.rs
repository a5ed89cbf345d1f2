//! `POST /mesh/spawn` (an agent starts a sub-agent), `GET /mesh/spawn` (the operator sees
//! every sub-agent, an agent its own) and `GET /mesh/spawn/{agent}` (one, for the operator
//! or its parent).

use std::sync::Arc;

use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use openlegion_protocol::{SpawnRequest, SpawnedAgent};

use super::Spawner;
use crate::auth::{Caller, Tokens};
use crate::server::{ApiError, ApiJson, ApiPath};

#[derive(Debug, Clone, FromRef)]
struct SpawnState {
    tokens: Arc<Tokens>,
    spawner: Arc<Spawner>,
}

/// The routes, with their own state, to merge into the mesh's app.
pub fn routes(tokens: Arc<Tokens>, spawner: Arc<Spawner>) -> Router {
    Router::new()
        .route("/mesh/spawn", post(spawn).get(list))
        .route("/mesh/spawn/{agent}", get(one))
        .with_state(SpawnState { tokens, spawner })
}

async fn spawn(
    State(spawner): State<Arc<Spawner>>,
    caller: Caller,
    ApiJson(request): ApiJson<SpawnRequest>,
) -> Result<Json<SpawnedAgent>, ApiError> {
    let Caller::Agent(parent) = caller else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "Only agents spawn sub-agents (the operator adds agents to agents.yaml)",
        ));
    };
    Ok(Json(spawner.spawn(&parent, request).await?))
}

async fn list(State(spawner): State<Arc<Spawner>>, caller: Caller) -> Json<Vec<SpawnedAgent>> {
    let only = (!caller.is_operator()).then(|| caller.id().to_owned());
    Json(spawner.list(only.as_deref()))
}

async fn one(
    State(spawner): State<Arc<Spawner>>,
    caller: Caller,
    ApiPath(agent): ApiPath<String>,
) -> Result<Json<SpawnedAgent>, ApiError> {
    let not_found = || ApiError::new(StatusCode::NOT_FOUND, format!("No sub-agent {agent}"));
    let info = spawner.get(&agent).ok_or_else(not_found)?;
    if caller.is_operator() || info.parent == caller.id() {
        Ok(Json(info))
    } else {
        Err(not_found())
    }
}
