//! The middleware that applies [`Limits`](super::Limits) to the mesh's app: it finds the
//! calling agent (its socket, else its bearer token), and answers 429 before the handler
//! runs when the call is over a limit.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, RETRY_AFTER};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{Limit, Limits};
use crate::auth::{Caller, Tokens};
use crate::fleet::SocketPeer;

#[derive(Debug, Clone)]
struct Gate {
    limits: Arc<Limits>,
    tokens: Arc<Tokens>,
}

/// Wraps `app` so agents' calls are checked against `limits`.
pub fn layer(app: Router, limits: Arc<Limits>, tokens: Arc<Tokens>) -> Router {
    app.layer(middleware::from_fn_with_state(
        Gate { limits, tokens },
        check,
    ))
}

/// The agent behind a request, if an agent sends it. A missing or unknown token is left to
/// the handler, which refuses it with 401.
fn agent_of(gate: &Gate, request: &Request) -> Option<String> {
    if let Some(SocketPeer(owner)) = request.extensions().get::<SocketPeer>() {
        return Some(owner.to_string());
    }
    let token = request
        .headers()
        .get(AUTHORIZATION)?
        .to_str()
        .ok()?
        .split_once(' ')?
        .1
        .trim();
    match gate.tokens.caller(token)? {
        Caller::Agent(agent) => Some(agent.to_string()),
        _ => None,
    }
}

async fn check(State(gate): State<Gate>, request: Request, next: Next) -> Response {
    let Some(limit) = Limit::of(request.method(), request.uri().path()) else {
        return next.run(request).await;
    };
    let Some(agent) = agent_of(&gate, &request) else {
        return next.run(request).await;
    };
    match gate.limits.check(&agent, limit) {
        Ok(()) => next.run(request).await,
        Err(refusal) => {
            tracing::info!(%agent, limit = limit.name(), "rate limited");
            let body = json!({
                "detail": refusal.to_string(),
                "limit": limit.name(),
                "agent": agent,
                "per_minute": refusal.per_minute,
                "retry_after_secs": refusal.retry_after_secs,
            });
            let mut response = (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(refusal.retry_after_secs));
            response
        }
    }
}
