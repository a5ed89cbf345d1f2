//! One chat request from arrival to response, the same for both protocols:
//! record it, check it, take the next turn for its model, play the turn, and
//! let the protocol render the answer. The protocol-specific parts are the
//! three items of [`Protocol`].

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use serde_json::Value;

use crate::api_error::{self, Invalid};
use crate::play::{self, Answer, Played};
use crate::recording::{Api, RecordedRequest};
use crate::shared::Shared;
use crate::sse;

/// A chat request that passed validation.
#[derive(Debug)]
pub(crate) struct ChatRequest {
    pub(crate) body: Value,
    pub(crate) model: String,
    pub(crate) stream: bool,
    /// Body size in bytes, for the prompt token estimate.
    pub(crate) len: usize,
}

/// What a chat wire protocol adds to the shared pipeline.
pub(crate) trait Protocol {
    const API: Api;

    /// Rejects what the real provider would reject with a 400.
    fn validate(body: &Value) -> Result<(), Invalid>;

    /// The answer in this protocol's format, streamed or not. A cut answer is
    /// only ever rendered when streamed.
    fn render(shared: &Shared, request: &ChatRequest, answer: &Answer) -> Response;
}

/// Parts of the HTTP request every handler passes on.
#[derive(Debug)]
pub(crate) struct Received {
    pub(crate) method: Method,
    pub(crate) uri: Uri,
    pub(crate) headers: HeaderMap,
    pub(crate) bytes: Bytes,
}

impl Received {
    /// Parses the body and records the request; `Err` when not JSON.
    pub(crate) fn record(self, shared: &Shared, api: Api) -> Result<(Value, usize), Invalid> {
        let parsed = serde_json::from_slice::<Value>(&self.bytes);
        let body = parsed.as_ref().map_or(Value::Null, Clone::clone);
        shared.log.record(RecordedRequest::new(
            api,
            &self.method,
            &self.uri,
            &self.headers,
            body,
        ));
        match parsed {
            Ok(body) => Ok((body, self.bytes.len())),
            Err(error) => Err(Invalid::new(format!("body is not JSON: {error}"))),
        }
    }
}

pub(crate) async fn handle<P: Protocol>(shared: &Shared, received: Received) -> Response {
    let (body, len) = match received.record(shared, P::API) {
        Ok(parsed) => parsed,
        Err(invalid) => return api_error::rejected(P::API, &invalid),
    };
    if let Err(invalid) = P::validate(&body) {
        return api_error::rejected(P::API, &invalid);
    }
    let request = ChatRequest {
        model: body
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        stream: body.get("stream").and_then(Value::as_bool).unwrap_or(false),
        body,
        len,
    };
    let turn = {
        let mut queues = shared.queues();
        match queues.next_for(&request.model) {
            Some(turn) => turn,
            None => {
                let own = queues.has_own(&request.model);
                return api_error::exhausted(P::API, &request.model, own);
            }
        }
    };
    match play::play(shared, P::API, turn).await {
        Played::Done(response) => response,
        Played::Answer(answer) if answer.cut_after.is_some() && !request.stream => {
            sse::cut_connection()
        }
        Played::Answer(answer) => P::render(shared, &request, &answer),
    }
}
