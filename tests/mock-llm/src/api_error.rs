//! Error responses in each provider's own JSON shape: OpenAI's
//! `{"error": {"message", "type", ...}}` and Anthropic's
//! `{"type": "error", "error": {"type", "message"}}`. Scripted errors without a
//! body, rejected requests and an exhausted script all go through here, so a
//! client under test parses them with the same code as real provider errors.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::recording::Api;

/// A request the real provider would reject with 400; holds the reason.
#[derive(Debug)]
pub(crate) struct Invalid(pub(crate) String);

impl Invalid {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

/// The error `type` a provider uses for `status`.
pub(crate) fn kind_for(api: Api, status: StatusCode) -> &'static str {
    match (api, status.as_u16()) {
        (_, 400 | 404 | 422) => "invalid_request_error",
        (_, 401) => "authentication_error",
        (_, 403) => "permission_error",
        (_, 429) => "rate_limit_error",
        (Api::Anthropic, 529) => "overloaded_error",
        (Api::Anthropic, _) => "api_error",
        (_, _) => "server_error",
    }
}

/// The error body `api` sends.
pub(crate) fn body(api: Api, kind: &str, message: &str) -> Value {
    match api {
        Api::Anthropic => json!({
            "type": "error",
            "error": {"type": kind, "message": message},
        }),
        Api::OpenAi | Api::Embeddings => json!({
            "error": {"message": message, "type": kind, "param": null, "code": null},
        }),
    }
}

/// A complete error response.
pub(crate) fn respond(api: Api, status: StatusCode, kind: &str, message: &str) -> Response {
    (status, Json(body(api, kind, message))).into_response()
}

/// The 400 for a request that failed validation.
pub(crate) fn rejected(api: Api, invalid: &Invalid) -> Response {
    let message = format!("mock-llm: invalid request: {}", invalid.0);
    tracing::warn!(?api, %message, "rejecting request");
    respond(
        api,
        StatusCode::BAD_REQUEST,
        "invalid_request_error",
        &message,
    )
}

/// The 500 for a request that found no scripted turn.
pub(crate) fn exhausted(api: Api, model: &str, own_queue: bool) -> Response {
    let which = if own_queue {
        "its own queue is empty"
    } else {
        "it has no queue of its own and the default queue is empty"
    };
    let message = format!("mock-llm: script exhausted for model `{model}` ({which})");
    tracing::warn!(%message, "no scripted turn left");
    respond(
        api,
        StatusCode::INTERNAL_SERVER_ERROR,
        "mock_script_exhausted",
        &message,
    )
}
