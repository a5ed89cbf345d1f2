//! `/mesh/health` (unauthenticated liveness), `/mesh/status` and `/mesh/reload` (operator).

use std::sync::Arc;

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::error::ApiError;
use super::{AppState, ReloadHook};
use crate::auth::Caller;
use crate::mesh::{Mesh, MeshError, MeshStatus, Reloaded};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/mesh/health", get(health))
        .route("/mesh/status", get(status))
        .route("/mesh/reload", post(reload))
}

async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

async fn status(
    State(mesh): State<Arc<Mesh>>,
    caller: Caller,
) -> Result<Json<MeshStatus>, ApiError> {
    if !caller.is_operator() {
        return Err(MeshError::OperatorOnly {
            action: "read the mesh status",
        }
        .into());
    }
    Ok(Json(mesh.status().await?))
}

async fn reload(
    State(hook): State<ReloadHook>,
    caller: Caller,
) -> Result<Json<Reloaded>, ApiError> {
    if !caller.is_operator() {
        return Err(MeshError::OperatorOnly {
            action: "reload the configuration",
        }
        .into());
    }
    let reloaded = hook.run().await.inspect_err(
        |e| tracing::warn!(error = %e, "reload refused; keeping the configuration in force"),
    )?;
    tracing::info!(?reloaded, "configuration reloaded");
    Ok(Json(reloaded))
}
