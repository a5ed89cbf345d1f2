//! `GET /mesh/watchers` (operator): each watcher's state, its first scan, the files it has
//! handled and is waiting on, and its last error.

use std::sync::Arc;

use axum::extract::{FromRef, State};
use axum::routing::get;
use axum::{Json, Router};

use super::{WatcherStatus, Watchers};
use crate::auth::{Caller, Tokens};
use crate::mesh::MeshError;
use crate::server::ApiError;

#[derive(Debug, Clone, FromRef)]
struct RouteState {
    watchers: Arc<Watchers>,
    tokens: Arc<Tokens>,
}

/// The watcher routes, with their own state, to merge into the mesh's app.
pub fn routes(watchers: Arc<Watchers>, tokens: Arc<Tokens>) -> Router {
    Router::new()
        .route("/mesh/watchers", get(list))
        .with_state(RouteState { watchers, tokens })
}

async fn list(
    State(watchers): State<Arc<Watchers>>,
    caller: Caller,
) -> Result<Json<Vec<WatcherStatus>>, ApiError> {
    if !caller.is_operator() {
        return Err(MeshError::OperatorOnly {
            action: "read the file watchers",
        }
        .into());
    }
    Ok(Json(watchers.status()))
}
