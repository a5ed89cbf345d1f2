//! The agent's HTTP API, served on a Unix socket (and optionally TCP): the routes of the
//! original (`/task`, `/chat`, `/chat/stream`, `/chat/reset`, `/status`, `/result`,
//! `/capabilities`, `/message`, `/history`, `/cancel`), `GET /files?dir=…` (the listing
//! the mesh's file watchers poll) and `PUT /inbox/{name}` (files the mesh passes on).
//!
//! Every route but `GET /status` needs the agent's bearer token, which only the mesh holds:
//! nothing else may drive the agent (the original learnt this the hard way, when agents
//! could call each other's tools).

mod inbox;
mod routes;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::agent::Agent;

/// Largest request body (the original's 8 MiB).
const MAX_BODY: usize = 8 << 20;

pub fn app(agent: Arc<Agent>) -> Router {
    routes::routes()
        .layer(middleware::from_fn_with_state(
            Arc::clone(&agent),
            require_token,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .with_state(agent)
}

/// Constant-time comparison, so the token cannot be guessed byte by byte from timings.
fn same(a: &[u8], b: &[u8]) -> bool {
    bool::from(subtle::ConstantTimeEq::ct_eq(a, b))
}

async fn require_token(State(agent): State<Arc<Agent>>, request: Request, next: Next) -> Response {
    if request.uri().path() == "/status" {
        return next.run(request).await;
    }
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim);
    match presented {
        Some(token) if same(token.as_bytes(), agent.config().token.as_bytes()) => {
            next.run(request).await
        }
        Some(_) => unauthorized("Invalid authentication token"),
        None => unauthorized("Missing authentication token"),
    }
}

fn unauthorized(detail: &str) -> Response {
    (
        StatusCode::UNAUTHORIZED,
        axum::Json(json!({ "detail": detail })),
    )
        .into_response()
}
