//! OpenAI-compatible Chat Completions and embeddings: `POST {base}/chat/completions` and
//! `POST {base}/embeddings` with an optional bearer key. One module for every server that
//! speaks this dialect (OpenAI, Groq, Ollama, OpenRouter, vLLM, llama.cpp, …); their
//! deviations are tolerated in `response` and `stream` rather than special-cased by name.

mod embed;
mod request;
pub(crate) mod response;
pub(crate) mod stream;

use reqwest::RequestBuilder;

use crate::deadline::Deadline;
use crate::stream::EventStream;
use crate::{ChatRequest, ChatResponse, Endpoint, LlmError, sse, transport};

pub(crate) use embed::embed;

pub(crate) async fn chat(
    http: &reqwest::Client,
    endpoint: &Endpoint,
    req: &ChatRequest,
) -> Result<ChatResponse, LlmError> {
    let provider = &endpoint.provider;
    let request = post(http, endpoint, "chat/completions").json(&request::body(req, false));
    let response = transport::send(request, provider).await?;
    let json = transport::json_body(response, provider).await?;
    response::parse(&json, &req.model, provider)
}

pub(crate) async fn chat_stream(
    http: &reqwest::Client,
    endpoint: &Endpoint,
    req: &ChatRequest,
    deadline: Deadline,
) -> Result<EventStream, LlmError> {
    let provider = &endpoint.provider;
    let request = post(http, endpoint, "chat/completions").json(&request::body(req, true));
    let response = transport::send(request, provider).await?;
    if !transport::is_event_stream(&response) {
        // A server that ignored `stream: true` and sent the whole completion.
        let json = transport::json_body(response, provider).await?;
        let answer = response::parse(&json, &req.model, provider)?;
        return Ok(crate::stream::replay(answer));
    }
    let decoder = stream::Decoder::new(provider, &req.model);
    Ok(crate::stream::decode(
        sse::events(response),
        decoder,
        deadline,
    ))
}

/// A POST to `{base}/{path}`, with the key as a bearer token when there is one (reqwest
/// marks that header sensitive).
fn post(http: &reqwest::Client, endpoint: &Endpoint, path: &str) -> RequestBuilder {
    let url = format!("{}/{path}", endpoint.base_url.trim_end_matches('/'));
    let request = http.post(url);
    match &endpoint.api_key {
        Some(key) => request.bearer_auth(key.expose()),
        None => request,
    }
}
