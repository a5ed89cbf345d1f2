//! The control API under `/_mock/`, for driving the `mock-llm` binary from
//! another process (the in-process API in `server` does the same through
//! method calls):
//!
//! - `POST /_mock/script` with a [`Script`] appends turns; answers
//!   `{"queued": n}`, the length of that queue afterwards;
//! - `GET /_mock/script` answers how many turns are still queued;
//! - `GET /_mock/requests` (optionally `?model=...`) answers the request log;
//! - `POST /_mock/reset` empties every queue and the log.
//!
//! These calls are not recorded in the request log.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::recording::RecordedRequest;
use crate::script::Script;
use crate::shared::Shared;

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_mock/script", post(push_script).get(pending))
        .route("/_mock/requests", get(requests))
        .route("/_mock/reset", post(reset))
}

async fn push_script(State(shared): State<Arc<Shared>>, Json(script): Json<Script>) -> Response {
    let queued = shared.queues().push(script.model.as_deref(), script.turns);
    Json(json!({"queued": queued})).into_response()
}

async fn pending(State(shared): State<Arc<Shared>>) -> Response {
    let pending = shared.queues().pending();
    Json(json!({
        "default": pending.default,
        "models": pending.models,
        "total": pending.total(),
    }))
    .into_response()
}

#[derive(Debug, Deserialize)]
struct RequestFilter {
    model: Option<String>,
}

async fn requests(
    State(shared): State<Arc<Shared>>,
    Query(filter): Query<RequestFilter>,
) -> Json<Vec<RecordedRequest>> {
    Json(match filter.model {
        Some(model) => shared.log.for_model(&model),
        None => shared.log.all(),
    })
}

async fn reset(State(shared): State<Arc<Shared>>) -> Response {
    shared.queues().clear();
    shared.log.clear();
    Json(json!({"reset": true})).into_response()
}
