//! `POST /webhook/hook/{id}` on the mesh's TCP port, with no operator token: 202 with the
//! lane item as soon as the payload is queued, 200 for a replayed delivery id, 404 for an
//! unknown id, 401 for a bad signature, 413 above [`MAX_BODY`], 429 (with `Retry-After`)
//! over the hook's rate limit or when the agent's lane is full.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;

use super::{Accepted, Delivery, WebhookError, Webhooks};
use crate::lanes::LaneError;
use crate::server::ApiError;

/// The largest body a hook accepts: 1 MiB.
pub const MAX_BODY: usize = 1024 * 1024;

/// The headers a sender's delivery id may come in, first present wins.
const DELIVERY_HEADERS: [&str; 3] = ["x-github-delivery", "x-webhook-delivery", "idempotency-key"];

/// The webhook routes, with their own state and body limit, to merge into the mesh's app.
pub fn routes(webhooks: Arc<Webhooks>) -> Router {
    Router::new()
        .route("/webhook/hook/{id}", post(deliver))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(webhooks)
}

async fn deliver(
    State(webhooks): State<Arc<Webhooks>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(e) => return ApiError::new(e.status(), e.body_text()).into_response(),
    };
    let delivery = Delivery {
        hook_id: &id,
        body: &body,
        signature: headers
            .get(super::signature::HEADER)
            .map(HeaderValue::as_bytes),
        delivery_id: delivery_id(&headers),
    };
    let response = match webhooks.deliver(delivery).await {
        Ok(Accepted::Queued { hook, item }) => (
            StatusCode::ACCEPTED,
            axum::Json(json!({"status": "queued", "hook": hook, "item": item})),
        )
            .into_response(),
        Ok(Accepted::Duplicate { hook }) => (
            StatusCode::OK,
            axum::Json(json!({"status": "duplicate", "hook": hook})),
        )
            .into_response(),
        Err(e) => refusal(e),
    };
    crate::counters::webhook_delivery(
        webhooks.name_of(&id).as_deref().unwrap_or("unknown"),
        response.status().as_u16(),
    );
    response
}

/// The sender's delivery id: the first of [`DELIVERY_HEADERS`] present (at most 200
/// bytes).
pub fn delivery_id(headers: &HeaderMap) -> Option<&str> {
    DELIVERY_HEADERS
        .iter()
        .find_map(|h| headers.get(*h))
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty() && v.len() <= 200)
}

/// The answer to a refused delivery: its status (with `Retry-After` where waiting helps)
/// and a short reason; what the sender need not know is only logged.
pub fn refusal(e: WebhookError) -> Response {
    let (status, retry_after) = match &e {
        WebhookError::UnknownHook => (StatusCode::NOT_FOUND, None),
        WebhookError::Signature(_) => (StatusCode::UNAUTHORIZED, None),
        WebhookError::NoSecret { .. } | WebhookError::NoAgent { .. } => {
            tracing::error!(error = %e, "webhook delivery refused");
            (StatusCode::SERVICE_UNAVAILABLE, None)
        }
        WebhookError::RateLimited {
            retry_after_secs, ..
        } => (StatusCode::TOO_MANY_REQUESTS, Some(*retry_after_secs)),
        WebhookError::Lane(LaneError::Full { .. }) => (StatusCode::TOO_MANY_REQUESTS, Some(1)),
        WebhookError::Lane(_) | WebhookError::Store(_) => {
            tracing::error!(error = %e, "webhook delivery failed");
            return ApiError::failed(&e).into_response();
        }
    };
    let detail = match status {
        // The sender learns that the hook is unavailable, not why (that is in the mesh log).
        StatusCode::SERVICE_UNAVAILABLE => "Webhook unavailable".to_owned(),
        _ => e.to_string(),
    };
    let mut resp = (status, axum::Json(json!({ "detail": detail }))).into_response();
    if let Some(secs) = retry_after {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    resp
}
