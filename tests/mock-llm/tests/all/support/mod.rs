//! Shared test helpers: a raw HTTP client, SSE parsing, request bodies.

pub(crate) mod http;
pub(crate) mod sse;

use serde_json::{Value, json};

/// A minimal valid OpenAI chat request.
pub(crate) fn openai_request(model: &str, stream: bool) -> Value {
    json!({
        "model": model,
        "stream": stream,
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Say hello."},
        ],
    })
}

/// A minimal valid Anthropic messages request.
pub(crate) fn anthropic_request(model: &str, stream: bool) -> Value {
    json!({
        "model": model,
        "max_tokens": 256,
        "stream": stream,
        "system": "You are terse.",
        "messages": [{"role": "user", "content": "Say hello."}],
    })
}
