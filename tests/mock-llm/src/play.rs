//! Playing a turn out: the parts that are the same for every protocol.
//!
//! Delays, hangs, scripted errors and raw responses are handled here. What is
//! left is an [`Answer`] (text and tool calls, possibly to be cut short) that
//! the protocol module renders in its own wire format.

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use std::time::Duration;

use crate::api_error;
use crate::recording::Api;
use crate::script::{Quirks, ToolCall, Turn, Usage};
use crate::shared::Shared;
use crate::split;
use crate::sse;

/// Text and tool calls for a protocol module to render.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) text: String,
    pub(crate) calls: Vec<ToolCall>,
    pub(crate) chunks: Option<usize>,
    pub(crate) usage: Usage,
    pub(crate) quirks: Quirks,
    /// `Some(n)`: a stream cut after `n` text deltas (no response at all when
    /// not streamed).
    pub(crate) cut_after: Option<usize>,
}

/// How a turn turned out.
#[derive(Debug)]
pub(crate) enum Played {
    Answer(Answer),
    Done(Response),
}

/// Waits out delays and answers everything that is not text or tool calls.
pub(crate) async fn play(shared: &Shared, api: Api, mut turn: Turn) -> Played {
    loop {
        turn = match turn {
            Turn::Delay { ms, then } => {
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(ms)) => *then,
                    () = shared.stopped() => return Played::Done(sse::cut_connection()),
                }
            }
            Turn::Hang => {
                shared.stopped().await;
                return Played::Done(sse::cut_connection());
            }
            Turn::Error {
                status,
                body,
                headers,
            } => return Played::Done(scripted_error(api, status, body, &headers)),
            Turn::Raw {
                status,
                content_type,
                body,
            } => return Played::Done(raw(status, &content_type, body)),
            Turn::Text {
                text,
                chunks,
                usage,
                quirks,
            } => return Played::Answer(Answer::new(text, Vec::new(), chunks, usage, quirks)),
            Turn::ToolCalls {
                calls,
                text,
                chunks,
                usage,
                quirks,
            } => {
                let text = text.unwrap_or_default();
                return Played::Answer(Answer::new(text, calls, chunks, usage, quirks));
            }
            Turn::StreamCut { text, after_deltas } => {
                let mut answer =
                    Answer::new(text, Vec::new(), None, Usage::default(), Quirks::default());
                answer.cut_after = Some(after_deltas);
                return Played::Answer(answer);
            }
        };
    }
}

impl Answer {
    fn new(
        text: String,
        calls: Vec<ToolCall>,
        chunks: Option<usize>,
        usage: Usage,
        quirks: Quirks,
    ) -> Self {
        Self {
            text,
            calls,
            chunks,
            usage,
            quirks,
            cut_after: None,
        }
    }

    /// The streamed text deltas, already shortened for a stream cut.
    pub(crate) fn text_pieces(&self) -> Vec<String> {
        let mut pieces = split::text_pieces(&self.text, self.chunks);
        if let Some(keep) = self.cut_after {
            pieces.truncate(keep);
        }
        pieces
    }

    /// A call's arguments as a JSON string, truncated when malformed on purpose.
    pub(crate) fn arguments(&self, call: &ToolCall) -> String {
        let mut arguments = match &call.arguments {
            Value::Null => "{}".to_owned(),
            other => other.to_string(),
        };
        if self.quirks.malformed_arguments {
            arguments.pop();
        }
        arguments
    }

    /// Each call's id: scripted, generated as `{prefix}{n}`, or left out.
    pub(crate) fn call_ids(&self, shared: &Shared, prefix: &str) -> Vec<Option<String>> {
        self.calls
            .iter()
            .map(|call| {
                if self.quirks.omit_tool_call_ids {
                    None
                } else {
                    Some(
                        call.id
                            .clone()
                            .unwrap_or_else(|| format!("{prefix}{}", shared.next_id())),
                    )
                }
            })
            .collect()
    }

    pub(crate) fn prompt_tokens(&self, request_len: usize) -> u64 {
        self.usage
            .prompt_tokens
            .unwrap_or_else(|| split::estimate_tokens(request_len))
    }

    pub(crate) fn completion_tokens(&self) -> u64 {
        self.usage.completion_tokens.unwrap_or_else(|| {
            let arguments: usize = self
                .calls
                .iter()
                .map(|call| self.arguments(call).len())
                .sum();
            split::estimate_tokens(self.text.chars().count() + arguments)
        })
    }
}

fn scripted_error(
    api: Api,
    status: u16,
    body: Option<Value>,
    headers: &std::collections::BTreeMap<String, String>,
) -> Response {
    let status = status_code(status);
    let mut response = match body {
        None => {
            let message = format!("mock-llm: scripted error {}", status.as_u16());
            let json = api_error::body(api, api_error::kind_for(api, status), &message);
            (status, axum::Json(json)).into_response()
        }
        Some(Value::String(text)) => (
            status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            text,
        )
            .into_response(),
        Some(json) => (status, axum::Json(json)).into_response(),
    };
    for (name, value) in headers {
        match (
            HeaderName::try_from(name.as_str()),
            HeaderValue::try_from(value.as_str()),
        ) {
            (Ok(name), Ok(value)) => {
                response.headers_mut().insert(name, value);
            }
            _ => tracing::warn!(%name, %value, "skipping a scripted header that is not valid HTTP"),
        }
    }
    response
}

fn raw(status: u16, content_type: &str, body: String) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status_code(status);
    match HeaderValue::try_from(content_type) {
        Ok(value) => {
            response.headers_mut().insert(header::CONTENT_TYPE, value);
        }
        Err(_) => {
            tracing::warn!(%content_type, "skipping a scripted content type that is not valid HTTP")
        }
    }
    response
}

/// The scripted status, or 500 when the number is not a valid HTTP status.
fn status_code(status: u16) -> StatusCode {
    StatusCode::from_u16(status).unwrap_or_else(|_| {
        tracing::warn!(status, "scripted status is not valid HTTP; sending 500");
        StatusCode::INTERNAL_SERVER_ERROR
    })
}
