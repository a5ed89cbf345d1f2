//! `/mesh/message` and `/mesh/inbox`.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use openlegion_protocol::AgentMessage;
use serde::Deserialize;

use super::AppState;
use super::error::{ApiError, ApiJson, ApiQuery};
use crate::auth::Caller;
use crate::mesh::{InboxPage, Inboxes, MeshError, Messages, Routed};

/// Most messages one pull returns.
const MAX_PULL: u32 = 500;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/mesh/message", post(route))
        .route("/mesh/inbox", get(pull))
}

async fn route(
    State(messages): State<Arc<Messages>>,
    caller: Caller,
    ApiJson(message): ApiJson<AgentMessage>,
) -> Result<Json<Routed>, ApiError> {
    Ok(Json(messages.route(&caller, message).await?))
}

#[derive(Debug, Deserialize)]
struct PullQuery {
    /// Acknowledge everything up to this sequence number, then return what follows.
    #[serde(default)]
    after: i64,
    #[serde(default = "default_pull")]
    limit: u32,
}

fn default_pull() -> u32 {
    100
}

async fn pull(
    State(inboxes): State<Arc<Inboxes>>,
    caller: Caller,
    ApiQuery(q): ApiQuery<PullQuery>,
) -> Result<Json<InboxPage>, ApiError> {
    let Caller::Agent(agent) = &caller else {
        return Err(MeshError::NoInbox {
            action: "pulling messages",
        }
        .into());
    };
    Ok(Json(
        inboxes
            .pull(agent.as_str(), q.after, q.limit.clamp(1, MAX_PULL))
            .await?,
    ))
}
