//! Anthropic Messages: `POST {base}/v1/messages` with `x-api-key` and a pinned
//! `anthropic-version`. Owns the translation between our flat message list and
//! Anthropic's content blocks (`request`), the response (`response`) and its named SSE
//! events (`stream`). Anthropic has no embeddings endpoint.

mod request;
pub(crate) mod response;
pub(crate) mod stream;

use reqwest::RequestBuilder;
use reqwest::header::HeaderValue;

use crate::deadline::Deadline;
use crate::stream::EventStream;
use crate::{ChatRequest, ChatResponse, Endpoint, LlmError, sse, transport};

/// The API version every request pins; the shapes in this module are this version's.
const API_VERSION: &str = "2023-06-01";

pub(crate) async fn chat(
    http: &reqwest::Client,
    endpoint: &Endpoint,
    req: &ChatRequest,
) -> Result<ChatResponse, LlmError> {
    let provider = &endpoint.provider;
    let request = post(http, endpoint)?.json(&request::body(req, false));
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
    let request = post(http, endpoint)?.json(&request::body(req, true));
    let response = transport::send(request, provider).await?;
    if !transport::is_event_stream(&response) {
        // A gateway that ignored `stream: true` and sent the whole message.
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

/// A POST to `{base}/v1/messages` with the version header and, when there is one, the
/// key, marked sensitive so it is never printed with the request.
fn post(http: &reqwest::Client, endpoint: &Endpoint) -> Result<RequestBuilder, LlmError> {
    let url = format!("{}/v1/messages", endpoint.base_url.trim_end_matches('/'));
    let request = http.post(url).header("anthropic-version", API_VERSION);
    let Some(key) = &endpoint.api_key else {
        return Ok(request);
    };
    let mut value = HeaderValue::from_str(key.expose()).map_err(|_invalid| LlmError::Config {
        message: format!(
            "the API key for {} contains characters that cannot go in a header",
            endpoint.provider
        ),
    })?;
    value.set_sensitive(true);
    Ok(request.header("x-api-key", value))
}
