//! Anthropic response shapes: one `message` object, or the named event
//! sequence Anthropic streams: `message_start`, `ping`, then per content block
//! `content_block_start` / `content_block_delta` (`text_delta` or
//! `input_json_delta`) / `content_block_stop`, then `message_delta` with the
//! stop reason and output tokens, then `message_stop`.

use axum::Json;
use axum::body::Bytes;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::exchange::ChatRequest;
use crate::play::Answer;
use crate::shared::Shared;
use crate::split;
use crate::sse;

pub(super) fn response(shared: &Shared, request: &ChatRequest, answer: &Answer) -> Response {
    let reply = Reply::new(shared, request, answer);
    if request.stream {
        sse::response(reply.events(), answer.cut_after.is_some())
    } else {
        Json(reply.message()).into_response()
    }
}

/// One answer plus the values its response repeats.
struct Reply<'a> {
    answer: &'a Answer,
    id: Option<String>,
    model: &'a str,
    call_ids: Vec<Option<String>>,
    input_tokens: u64,
}

impl<'a> Reply<'a> {
    fn new(shared: &Shared, request: &'a ChatRequest, answer: &'a Answer) -> Self {
        Self {
            answer,
            id: (!answer.quirks.omit_id).then(|| format!("msg_mock_{}", shared.next_id())),
            model: &request.model,
            call_ids: answer.call_ids(shared, "toolu_mock_"),
            input_tokens: answer.prompt_tokens(request.len),
        }
    }

    fn stop_reason(&self) -> &'static str {
        if self.answer.calls.is_empty() {
            "end_turn"
        } else {
            "tool_use"
        }
    }

    /// A text block comes first unless the answer is tool calls without text.
    fn has_text_block(&self) -> bool {
        self.answer.calls.is_empty() || !self.answer.text.is_empty()
    }

    /// The message object; `content` and `usage` as given.
    fn envelope(&self, content: Value, stop_reason: Value, usage: Value) -> Value {
        let mut message = Map::new();
        if let Some(id) = &self.id {
            message.insert("id".into(), json!(id));
        }
        message.insert("type".into(), json!("message"));
        message.insert("role".into(), json!("assistant"));
        message.insert("model".into(), json!(self.model));
        message.insert("content".into(), content);
        message.insert("stop_reason".into(), stop_reason);
        message.insert("stop_sequence".into(), Value::Null);
        message.insert("usage".into(), usage);
        Value::Object(message)
    }

    /// A `tool_use` block with `input` as given.
    fn tool_use(&self, index: usize, input: Value) -> Value {
        let mut block = Map::new();
        block.insert("type".into(), json!("tool_use"));
        if let Some(id) = &self.call_ids[index] {
            block.insert("id".into(), json!(id));
        }
        block.insert("name".into(), json!(self.answer.calls[index].name));
        block.insert("input".into(), input);
        Value::Object(block)
    }

    fn message(&self) -> Value {
        let mut content = Vec::new();
        if self.has_text_block() {
            content.push(json!({"type": "text", "text": self.answer.text}));
        }
        for (index, call) in self.answer.calls.iter().enumerate() {
            let input = if self.answer.quirks.malformed_arguments {
                json!(self.answer.arguments(call))
            } else {
                match &call.arguments {
                    Value::Null => json!({}),
                    other => other.clone(),
                }
            };
            content.push(self.tool_use(index, input));
        }
        let usage = json!({
            "input_tokens": self.input_tokens,
            "output_tokens": self.answer.completion_tokens(),
        });
        self.envelope(json!(content), json!(self.stop_reason()), usage)
    }

    fn events(&self) -> Vec<Bytes> {
        let usage = json!({"input_tokens": self.input_tokens, "output_tokens": 1});
        let start = self.envelope(json!([]), Value::Null, usage);
        let mut frames = vec![
            sse::event(
                "message_start",
                &json!({"type": "message_start", "message": start}),
            ),
            sse::event("ping", &json!({"type": "ping"})),
        ];
        let mut block = 0;
        if self.has_text_block() {
            frames.push(block_start(block, &json!({"type": "text", "text": ""})));
            for piece in self.answer.text_pieces() {
                frames.push(block_delta(
                    block,
                    &json!({"type": "text_delta", "text": piece}),
                ));
            }
            if self.answer.cut_after.is_some() {
                return frames;
            }
            frames.push(block_stop(block));
            block += 1;
        }
        for (index, call) in self.answer.calls.iter().enumerate() {
            frames.push(block_start(block, &self.tool_use(index, json!({}))));
            let arguments = self.answer.arguments(call);
            for piece in split::even(&arguments, split::ARGUMENT_PIECES) {
                let delta = json!({"type": "input_json_delta", "partial_json": piece});
                frames.push(block_delta(block, &delta));
            }
            frames.push(block_stop(block));
            block += 1;
        }
        frames.push(sse::event(
            "message_delta",
            &json!({
                "type": "message_delta",
                "delta": {"stop_reason": self.stop_reason(), "stop_sequence": null},
                "usage": {"output_tokens": self.answer.completion_tokens()},
            }),
        ));
        frames.push(sse::event("message_stop", &json!({"type": "message_stop"})));
        frames
    }
}

fn block_start(index: usize, block: &Value) -> Bytes {
    sse::event(
        "content_block_start",
        &json!({"type": "content_block_start", "index": index, "content_block": block}),
    )
}

fn block_delta(index: usize, delta: &Value) -> Bytes {
    sse::event(
        "content_block_delta",
        &json!({"type": "content_block_delta", "index": index, "delta": delta}),
    )
}

fn block_stop(index: usize) -> Bytes {
    sse::event(
        "content_block_stop",
        &json!({"type": "content_block_stop", "index": index}),
    )
}
