//! Chat Completions SSE chunks as [`StreamEvent`]s.
//!
//! Text deltas go out as they arrive. Tool calls arrive in pieces keyed by `index` (id
//! and name first, then `function.arguments` fragments, or the whole arguments object
//! at once from some servers) and go out whole, in order, when the stream finishes. The
//! stream is over at `data: [DONE]`, or at the end of the body once a `finish_reason` has
//! been seen (the usage chunk may come between the two); a body that ends before either
//! is a cut.

use eventsource_stream::Event;
use serde_json::Value;

use crate::sse::SseError;
use crate::stream::{self, Flow};
use crate::transport::{self, invalid};
use crate::{ChatResponse, LlmError, StreamEvent, ToolCall, Usage, lenient};

/// An error reported inside a 200 stream has no HTTP status of its own; this one stands in
/// when the error carries no usable `code`, so failover treats it as a server failure.
const STREAM_ERROR_STATUS: u16 = 500;

#[derive(Debug)]
pub(crate) struct Decoder {
    provider: String,
    model: String,
    content: String,
    calls: Vec<PartialCall>,
    usage: Usage,
    stop_reason: Option<String>,
}

/// A tool call being assembled from deltas.
#[derive(Debug)]
struct PartialCall {
    index: Option<u64>,
    id: Option<String>,
    name: String,
    arguments: String,
}

impl Decoder {
    pub(crate) fn new(provider: &str, requested_model: &str) -> Self {
        Self {
            provider: provider.to_owned(),
            model: requested_model.to_owned(),
            content: String::new(),
            calls: Vec::new(),
            usage: Usage::default(),
            stop_reason: None,
        }
    }

    fn chunk(&mut self, chunk: &Value, out: &mut Vec<StreamEvent>) -> Result<(), LlmError> {
        if let Some(error) = chunk.get("error") {
            return Err(self.stream_error(error, chunk));
        }
        if let Some(model) = lenient::string(chunk.get("model")) {
            self.model = model;
        }
        let usage = chunk
            .get("usage")
            .or_else(|| chunk.pointer("/x_groq/usage"));
        if usage.is_some_and(Value::is_object) {
            self.usage = super::response::usage(usage);
        }
        let choices = chunk.get("choices").and_then(Value::as_array);
        // Only the first choice: we never ask for `n > 1`.
        let first = choices
            .into_iter()
            .flatten()
            .find(|choice| choice.get("index").and_then(Value::as_u64).unwrap_or(0) == 0);
        let Some(choice) = first else {
            return Ok(());
        };
        if let Some(delta) = choice.get("delta") {
            let text = lenient::text(delta.get("content"));
            if !text.is_empty() {
                self.content.push_str(&text);
                out.push(StreamEvent::TextDelta(text));
            }
            if let Some(Value::Array(calls)) = delta.get("tool_calls") {
                calls.iter().for_each(|call| self.tool_delta(call));
            }
        }
        if let Some(reason) = lenient::string(choice.get("finish_reason")) {
            self.stop_reason = Some(reason);
        }
        Ok(())
    }

    fn tool_delta(&mut self, delta: &Value) {
        let index = delta.get("index").and_then(Value::as_u64);
        let id = lenient::string(delta.get("id"));
        let slot = match index {
            Some(index) => self.calls.iter().position(|call| call.index == Some(index)),
            // No index (some servers): a new id starts a new call, else it continues the last.
            None => match (&id, self.calls.last()) {
                (Some(id), Some(last)) if last.id.as_ref() != Some(id) => None,
                (_, Some(_)) => Some(self.calls.len() - 1),
                (_, None) => None,
            },
        };
        let slot = slot.unwrap_or_else(|| {
            self.calls.push(PartialCall {
                index,
                id: None,
                name: String::new(),
                arguments: String::new(),
            });
            self.calls.len() - 1
        });
        let call = &mut self.calls[slot];
        if call.id.is_none() {
            call.id = id;
        }
        let function = delta.get("function");
        if call.name.is_empty()
            && let Some(name) = lenient::string(function.and_then(|f| f.get("name")))
        {
            call.name = name;
        }
        call.arguments.push_str(&lenient::arguments(
            function.and_then(|f| f.get("arguments")),
        ));
    }

    /// Pushes every call, then `Done`.
    fn finish(&mut self, out: &mut Vec<StreamEvent>) {
        let calls: Vec<ToolCall> = std::mem::take(&mut self.calls)
            .into_iter()
            .enumerate()
            .map(|(position, call)| ToolCall {
                id: call.id.unwrap_or_else(|| format!("call_{position}")),
                name: call.name,
                arguments: call.arguments,
            })
            .collect();
        out.extend(calls.iter().cloned().map(StreamEvent::ToolCall));
        out.push(StreamEvent::Done(ChatResponse {
            content: std::mem::take(&mut self.content),
            tool_calls: calls,
            usage: self.usage,
            model: self.model.clone(),
            stop_reason: self.stop_reason.clone(),
        }));
    }

    fn stream_error(&self, error: &Value, chunk: &Value) -> LlmError {
        let status = error
            .get("code")
            .and_then(|code| code.as_u64().or_else(|| code.as_str()?.parse().ok()))
            .and_then(|code| u16::try_from(code).ok())
            .filter(|code| (400..600).contains(code))
            .unwrap_or(STREAM_ERROR_STATUS);
        LlmError::Status {
            provider: self.provider.clone(),
            status,
            message: transport::provider_message(chunk).unwrap_or_else(|| transport::quote(error)),
            retry_after: None,
        }
    }
}

impl stream::Decoder for Decoder {
    fn event(&mut self, event: &Event, out: &mut Vec<StreamEvent>) -> Result<Flow, LlmError> {
        let data = event.data.trim();
        if data.is_empty() {
            return Ok(Flow::Continue);
        }
        if data == "[DONE]" {
            self.finish(out);
            return Ok(Flow::Finished);
        }
        let chunk: Value = serde_json::from_str(data).map_err(|e| {
            invalid(
                &self.provider,
                format!(
                    "a stream chunk is not JSON ({e}): {}",
                    transport::quote(&Value::String(data.to_owned()))
                ),
            )
        })?;
        self.chunk(&chunk, out)?;
        Ok(Flow::Continue)
    }

    fn end(
        &mut self,
        broken: Option<SseError>,
        out: &mut Vec<StreamEvent>,
    ) -> Result<(), LlmError> {
        if self.stop_reason.is_some() {
            if let Some(broken) = broken {
                tracing::warn!(provider = %self.provider, %broken, "stream broke after its finish_reason; keeping the answer");
            }
            self.finish(out);
            return Ok(());
        }
        Err(stream::cut(
            &self.provider,
            broken,
            "a finish_reason or [DONE]",
        ))
    }
}
