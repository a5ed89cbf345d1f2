//! OpenAI Chat Completions: `POST /v1/chat/completions` (and the bare
//! `/chat/completions` some clients build from a base URL without `/v1`).
//! Owns the OpenAI request checks and response shapes; the turn queue and
//! timing are shared with Anthropic through `exchange`.

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
        .route("/v1/chat/completions", post(chat))
        .route("/chat/completions", post(chat))
}

async fn chat(
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
    exchange::handle::<OpenAi>(&shared, received).await
}

#[derive(Debug)]
struct OpenAi;

impl Protocol for OpenAi {
    const API: Api = Api::OpenAi;

    fn validate(body: &Value) -> Result<(), Invalid> {
        validate::request(body)
    }

    fn render(shared: &Shared, request: &ChatRequest, answer: &Answer) -> Response {
        render::response(shared, request, answer)
    }
}
