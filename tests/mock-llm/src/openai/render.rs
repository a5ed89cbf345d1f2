//! OpenAI response shapes: one `chat.completion` object, or a stream of
//! `chat.completion.chunk` events ending in `data: [DONE]`. Streams send the
//! role, then text deltas, then each tool call (a header chunk with id and
//! name, then its arguments in pieces), then the finish reason, then usage
//! when the request asked for it with `stream_options.include_usage`.

use std::time::{SystemTime, UNIX_EPOCH};

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
        sse::response(reply.chunks(), answer.cut_after.is_some())
    } else {
        Json(reply.completion()).into_response()
    }
}

/// One answer plus the values every object of its response repeats.
struct Reply<'a> {
    answer: &'a Answer,
    id: Option<String>,
    created: Option<u64>,
    model: &'a str,
    call_ids: Vec<Option<String>>,
    prompt_tokens: u64,
    include_usage: bool,
}

impl<'a> Reply<'a> {
    fn new(shared: &Shared, request: &'a ChatRequest, answer: &'a Answer) -> Self {
        let quirks = answer.quirks;
        let created = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs());
        Self {
            answer,
            id: (!quirks.omit_id).then(|| format!("chatcmpl-mock-{}", shared.next_id())),
            created: (!quirks.omit_created).then_some(created),
            model: &request.model,
            call_ids: answer.call_ids(shared, "call_mock_"),
            prompt_tokens: answer.prompt_tokens(request.len),
            include_usage: request
                .body
                .pointer("/stream_options/include_usage")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        }
    }

    fn finish_reason(&self) -> &'static str {
        if self.answer.calls.is_empty() {
            "stop"
        } else {
            "tool_calls"
        }
    }

    fn usage(&self) -> Value {
        let completion = self.answer.completion_tokens();
        json!({
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": self.prompt_tokens + completion,
        })
    }

    /// `id`, `object`, `created` and `model`, minus what the quirks leave out.
    fn envelope(&self, object: &str) -> Map<String, Value> {
        let mut envelope = Map::new();
        if let Some(id) = &self.id {
            envelope.insert("id".into(), json!(id));
        }
        envelope.insert("object".into(), json!(object));
        if let Some(created) = self.created {
            envelope.insert("created".into(), json!(created));
        }
        envelope.insert("model".into(), json!(self.model));
        envelope
    }

    /// The arguments as sent: a JSON string, or the object itself as a quirk.
    fn arguments(&self, index: usize) -> Value {
        let call = &self.answer.calls[index];
        if self.answer.quirks.arguments_as_object {
            match &call.arguments {
                Value::Null => json!({}),
                other => other.clone(),
            }
        } else {
            json!(self.answer.arguments(call))
        }
    }

    /// The start of one tool call: `{index?, id?, type, function: {name, arguments}}`.
    fn call_head(&self, index: usize, arguments: Value) -> Map<String, Value> {
        let mut head = Map::new();
        if let Some(id) = &self.call_ids[index] {
            head.insert("id".into(), json!(id));
        }
        head.insert("type".into(), json!("function"));
        head.insert(
            "function".into(),
            json!({"name": self.answer.calls[index].name, "arguments": arguments}),
        );
        head
    }

    fn completion(&self) -> Value {
        let mut message = Map::new();
        message.insert("role".into(), json!("assistant"));
        let content = if self.answer.calls.is_empty() || !self.answer.text.is_empty() {
            json!(self.answer.text)
        } else {
            Value::Null
        };
        message.insert("content".into(), content);
        if !self.answer.calls.is_empty() {
            let calls: Vec<Value> = (0..self.answer.calls.len())
                .map(|index| Value::Object(self.call_head(index, self.arguments(index))))
                .collect();
            message.insert("tool_calls".into(), Value::Array(calls));
        }
        let mut completion = self.envelope("chat.completion");
        completion.insert(
            "choices".into(),
            json!([{
                "index": 0,
                "message": message,
                "logprobs": null,
                "finish_reason": self.finish_reason(),
            }]),
        );
        completion.insert("usage".into(), self.usage());
        Value::Object(completion)
    }

    fn chunk(&self, delta: Value, finish_reason: Option<&str>) -> Bytes {
        let mut chunk = self.envelope("chat.completion.chunk");
        chunk.insert(
            "choices".into(),
            json!([{
                "index": 0,
                "delta": delta,
                "logprobs": null,
                "finish_reason": finish_reason,
            }]),
        );
        if self.include_usage {
            chunk.insert("usage".into(), Value::Null);
        }
        sse::data(&Value::Object(chunk))
    }

    fn chunks(&self) -> Vec<Bytes> {
        let mut frames = vec![self.chunk(json!({"role": "assistant", "content": ""}), None)];
        for piece in self.answer.text_pieces() {
            frames.push(self.chunk(json!({"content": piece}), None));
        }
        if self.answer.cut_after.is_some() {
            return frames;
        }
        for index in 0..self.answer.calls.len() {
            let whole = self.arguments(index);
            let pieces = match &whole {
                Value::String(arguments) => split::even(arguments, split::ARGUMENT_PIECES),
                _ => Vec::new(),
            };
            let first = if pieces.is_empty() { whole } else { json!("") };
            let mut head = self.call_head(index, first);
            head.insert("index".into(), json!(index));
            frames.push(self.chunk(json!({"tool_calls": [head]}), None));
            for piece in pieces {
                let delta = json!({"index": index, "function": {"arguments": piece}});
                frames.push(self.chunk(json!({"tool_calls": [delta]}), None));
            }
        }
        frames.push(self.chunk(json!({}), Some(self.finish_reason())));
        if self.include_usage {
            let mut usage = self.envelope("chat.completion.chunk");
            usage.insert("choices".into(), json!([]));
            usage.insert("usage".into(), self.usage());
            frames.push(sse::data(&Value::Object(usage)));
        }
        frames.push(sse::done());
        frames
    }
}
