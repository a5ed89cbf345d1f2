//! Anthropic Messages: `POST /v1/messages`. Owns the Anthropic request checks
//! and response shapes (content blocks, named SSE events); the turn queue and
//! timing are shared with OpenAI through `exchange`.

mod render;
mod validate;

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use axum::routing::post;
use serde_json::Value;

use crate::api_error::Invalid;
use crate::exchange::{self, ChatRequest, Protocol, Received};
use crate::play::Answer;
use crate::recording::Api;
use crate::shared::Shared;

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/v1/messages", post(messages))
        .route("/messages", post(messages))
}

async fn messages(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    let received = Received {
        method,
        uri,
        headers,
        bytes,
    };
    exchange::handle::<Anthropic>(&shared, received).await
}

#[derive(Debug)]
struct Anthropic;

impl Protocol for Anthropic {
    const API: Api = Api::Anthropic;

    fn validate(body: &Value) -> Result<(), Invalid> {
        validate::request(body)
    }

    fn render(shared: &Shared, request: &ChatRequest, answer: &Answer) -> Response {
        render::response(shared, request, answer)
    }
}
