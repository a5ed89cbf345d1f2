//! The lanes over HTTP (operator only): `GET /mesh/lanes` (depth, age, refusals of each
//! lane), `POST /mesh/lanes/{agent}` (queue a chat message or a task with its origin: 202
//! with the item's id, 429 with `Retry-After` when the lane is full), `GET
//! /mesh/lanes/items/{id}` (`?wait=SECONDS` waits for the outcome) and `DELETE
//! /mesh/lanes/items/{id}` (cancel).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use openlegion_protocol::{AgentId, Origin};
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::error::{ApiError, ApiJson, ApiPath, ApiQuery};
use crate::auth::Caller;
use crate::lanes::{LaneError, Submission, Work};
use crate::mesh::{Mesh, MeshError};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/mesh/lanes", get(status))
        .route("/mesh/lanes/{agent}", post(submit))
        .route("/mesh/lanes/items/{id}", get(item).delete(cancel))
}

fn operator(caller: &Caller) -> Result<(), ApiError> {
    match caller.is_operator() {
        true => Ok(()),
        false => Err(MeshError::OperatorOnly {
            action: "use the lanes",
        }
        .into()),
    }
}

/// A full lane as 429 with a `Retry-After` of one second (items usually take longer, but
/// a retry costs one lookup).
pub(super) fn refusal(e: LaneError) -> Response {
    let full = matches!(e, LaneError::Full { .. });
    let mut resp = ApiError::from(MeshError::from(e)).into_response();
    if full {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    resp
}

async fn status(State(mesh): State<Arc<Mesh>>, caller: Caller) -> Result<Response, ApiError> {
    operator(&caller)?;
    let lanes = mesh.lanes.status().await.map_err(MeshError::from)?;
    Ok(axum::Json(json!({ "lanes": lanes })).into_response())
}

/// `POST /mesh/lanes/{agent}`: `{"kind": "chat", "message": …}` or `{"kind": "task",
/// "task": {…}}`, with an optional `origin` (default: the operator).
/// (serde cannot deny unknown fields beside a flattened, tagged enum.)
#[derive(Debug, Deserialize)]
struct SubmitBody {
    #[serde(flatten)]
    work: Work,
    #[serde(default)]
    origin: Option<Origin>,
}

async fn submit(
    State(mesh): State<Arc<Mesh>>,
    caller: Caller,
    ApiPath(agent): ApiPath<String>,
    ApiJson(body): ApiJson<SubmitBody>,
) -> Result<Response, ApiError> {
    operator(&caller)?;
    if !mesh.registry.exists(&agent) {
        return Err(MeshError::UnknownAgent { agent }.into());
    }
    let agent = AgentId::parse(&agent).map_err(MeshError::from)?;
    let sub = Submission {
        agent,
        work: body.work,
        origin: body.origin.unwrap_or_default(),
    };
    match mesh.lanes.submit(sub).await {
        Ok(ticket) => Ok((
            StatusCode::ACCEPTED,
            axum::Json(json!({"id": ticket.id, "status": "queued"})),
        )
            .into_response()),
        Err(e) => Ok(refusal(e)),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ItemQuery {
    /// Seconds to wait for the outcome (at most 300).
    #[serde(default)]
    wait: Option<u64>,
}

async fn item(
    State(mesh): State<Arc<Mesh>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<ItemQuery>,
) -> Result<Response, ApiError> {
    operator(&caller)?;
    let ticket = mesh.lanes.ticket(&id).await.map_err(MeshError::from)?;
    let wait = Duration::from_secs(q.wait.unwrap_or(0).min(300));
    let outcome = tokio::time::timeout(wait, ticket.outcome()).await.ok();
    Ok(match outcome {
        Some(outcome) => axum::Json(json!({"id": id, "finished": true, "outcome": outcome})),
        None => axum::Json(json!({"id": id, "finished": false})),
    }
    .into_response())
}

async fn cancel(
    State(mesh): State<Arc<Mesh>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, ApiError> {
    operator(&caller)?;
    mesh.lanes.cancel(&id).await.map_err(MeshError::from)?;
    Ok(axum::Json(json!({"id": id, "cancelling": true})).into_response())
}
