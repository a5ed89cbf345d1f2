//! Messages SSE events as [`StreamEvent`]s. Anthropic names its events: `message_start`
//! (model, input tokens), then per content block `content_block_start` /
//! `content_block_delta` (`text_delta` text goes out at once; `input_json_delta`
//! fragments are joined) / `content_block_stop` (a finished `tool_use` goes out as a
//! call), then `message_delta` (stop reason, output tokens) and `message_stop`, the only
//! proper end. An `error` event ends the stream with that error.

use std::collections::BTreeMap;

use eventsource_stream::Event;
use serde_json::Value;

use super::response;
use crate::sse::SseError;
use crate::stream::{self, Flow};
use crate::transport::{self, invalid};
use crate::{ChatResponse, LlmError, StreamEvent, ToolCall, Usage, lenient};

#[derive(Debug)]
pub(crate) struct Decoder {
    provider: String,
    model: String,
    content: String,
    calls: Vec<ToolCall>,
    /// Open `tool_use` blocks by block index; text blocks need no state.
    open: BTreeMap<u64, OpenCall>,
    /// Calls started so far, for generated ids.
    started: usize,
    usage: Usage,
    stop_reason: Option<String>,
}

#[derive(Debug)]
struct OpenCall {
    call: ToolCall,
    /// Whether any `input_json_delta` arrived; if none did, `call.arguments` holds the
    /// `input` of `content_block_start`.
    streamed: bool,
}

impl Decoder {
    pub(crate) fn new(provider: &str, requested_model: &str) -> Self {
        Self {
            provider: provider.to_owned(),
            model: requested_model.to_owned(),
            content: String::new(),
            calls: Vec::new(),
            open: BTreeMap::new(),
            started: 0,
            usage: Usage::default(),
            stop_reason: None,
        }
    }

    fn message_start(&mut self, data: &Value) {
        let message = data.get("message").unwrap_or(&Value::Null);
        if let Some(model) = lenient::string(message.get("model")) {
            self.model = model;
        }
        self.usage = response::usage(message.get("usage"));
    }

    fn block_start(&mut self, index: u64, data: &Value, out: &mut Vec<StreamEvent>) {
        let block = data.get("content_block").unwrap_or(&Value::Null);
        match block.get("type").and_then(Value::as_str) {
            Some("text") => self.text(lenient::text(block.get("text")), out),
            Some("tool_use") => {
                // The start carries `input: {}`; the real input follows as deltas.
                let input = block
                    .get("input")
                    .filter(|input| !matches!(input, Value::Object(map) if map.is_empty()));
                let call = response::tool_call(block, input, self.started);
                self.started += 1;
                self.open.insert(
                    index,
                    OpenCall {
                        call,
                        streamed: false,
                    },
                );
            }
            _ => {}
        }
    }

    fn block_delta(&mut self, index: u64, data: &Value, out: &mut Vec<StreamEvent>) {
        let delta = data.get("delta").unwrap_or(&Value::Null);
        match delta.get("type").and_then(Value::as_str) {
            Some("text_delta") => self.text(lenient::text(delta.get("text")), out),
            Some("input_json_delta") => {
                if let Some(open) = self.open.get_mut(&index) {
                    if !open.streamed {
                        open.call.arguments.clear();
                        open.streamed = true;
                    }
                    let piece = delta.get("partial_json").and_then(Value::as_str);
                    open.call.arguments.push_str(piece.unwrap_or(""));
                }
            }
            _ => {}
        }
    }

    fn block_stop(&mut self, index: u64, out: &mut Vec<StreamEvent>) {
        if let Some(OpenCall { mut call, .. }) = self.open.remove(&index) {
            if call.arguments.trim().is_empty() {
                call.arguments = "{}".to_owned();
            }
            out.push(StreamEvent::ToolCall(call.clone()));
            self.calls.push(call);
        }
    }

    fn message_delta(&mut self, data: &Value) {
        if let Some(reason) = lenient::string(data.pointer("/delta/stop_reason")) {
            self.stop_reason = Some(reason);
        }
        let usage = data.get("usage");
        // Output tokens are cumulative; newer API versions repeat the input count here.
        if let Some(output) = usage
            .and_then(|u| u.get("output_tokens"))
            .and_then(Value::as_u64)
        {
            self.usage.output_tokens = output;
        }
        if let Some(input) = usage
            .and_then(|u| u.get("input_tokens"))
            .and_then(Value::as_u64)
        {
            self.usage.input_tokens = input;
        }
    }

    fn text(&mut self, text: String, out: &mut Vec<StreamEvent>) {
        if !text.is_empty() {
            self.content.push_str(&text);
            out.push(StreamEvent::TextDelta(text));
        }
    }

    /// Pushes `Done`, closing any `tool_use` block the stream left open.
    fn finish(&mut self, out: &mut Vec<StreamEvent>) {
        let open: Vec<u64> = self.open.keys().copied().collect();
        open.into_iter()
            .for_each(|index| self.block_stop(index, out));
        out.push(StreamEvent::Done(ChatResponse {
            content: std::mem::take(&mut self.content),
            tool_calls: std::mem::take(&mut self.calls),
            usage: self.usage,
            model: self.model.clone(),
            stop_reason: self.stop_reason.clone(),
        }));
    }

    /// An `error` event as the status error the same failure gets before the stream starts,
    /// so failover treats `overloaded_error` mid-stream like a 529.
    fn error(&self, data: &Value) -> LlmError {
        let status = match data.pointer("/error/type").and_then(Value::as_str) {
            Some("invalid_request_error") => 400,
            Some("authentication_error") => 401,
            Some("permission_error") => 403,
            Some("not_found_error") => 404,
            Some("request_too_large") => 413,
            Some("rate_limit_error") => 429,
            Some("overloaded_error") => 529,
            _ => 500,
        };
        LlmError::Status {
            provider: self.provider.clone(),
            status,
            message: transport::provider_message(data).unwrap_or_else(|| transport::quote(data)),
            retry_after: None,
        }
    }
}

impl stream::Decoder for Decoder {
    fn event(&mut self, event: &Event, out: &mut Vec<StreamEvent>) -> Result<Flow, LlmError> {
        if event.data.trim().is_empty() {
            return Ok(Flow::Continue);
        }
        let data: Value = serde_json::from_str(&event.data).map_err(|e| {
            let data = Value::String(event.data.clone());
            invalid(
                &self.provider,
                format!(
                    "event `{}` is not JSON ({e}): {}",
                    event.event,
                    transport::quote(&data)
                ),
            )
        })?;
        // The event name, or the `type` inside for servers that send only `data:` lines.
        let name = match event.event.as_str() {
            "" | "message" => data.get("type").and_then(Value::as_str).unwrap_or(""),
            name => name,
        };
        let index = data.get("index").and_then(Value::as_u64).unwrap_or(0);
        match name {
            "message_start" => self.message_start(&data),
            "content_block_start" => self.block_start(index, &data, out),
            "content_block_delta" => self.block_delta(index, &data, out),
            "content_block_stop" => self.block_stop(index, out),
            "message_delta" => self.message_delta(&data),
            "message_stop" => {
                self.finish(out);
                return Ok(Flow::Finished);
            }
            "error" => return Err(self.error(&data)),
            // `ping`, and event types added after this client was written.
            _ => {}
        }
        Ok(Flow::Continue)
    }

    fn end(
        &mut self,
        broken: Option<SseError>,
        _out: &mut Vec<StreamEvent>,
    ) -> Result<(), LlmError> {
        Err(stream::cut(&self.provider, broken, "message_stop"))
    }
}
