//! Parsing SSE bodies and reassembling streamed answers, written from the
//! providers' documentation rather than from the mock's code, so the tests
//! check the wire format and not just the mock's own idea of it.

use std::collections::BTreeMap;

use serde_json::Value;

/// One server-sent event.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Event {
    pub(crate) name: Option<String>,
    pub(crate) data: String,
}

impl Event {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.data)
            .unwrap_or_else(|error| panic!("event data is not JSON ({error}): {}", self.data))
    }
}

/// Every complete event in `body`; a trailing partial event is ignored.
pub(crate) fn events(body: &[u8]) -> Vec<Event> {
    let text = std::str::from_utf8(body).expect("SSE is UTF-8");
    let mut events = Vec::new();
    let mut rest = text;
    while let Some(end) = rest.find("\n\n") {
        let block = &rest[..end];
        rest = &rest[end + 2..];
        let mut name = None;
        let mut data = Vec::new();
        for line in block.lines() {
            if let Some(value) = line.strip_prefix("event:") {
                name = Some(value.trim().to_owned());
            } else if let Some(value) = line.strip_prefix("data:") {
                data.push(value.strip_prefix(' ').unwrap_or(value));
            }
        }
        events.push(Event {
            name,
            data: data.join("\n"),
        });
    }
    events
}

/// A streamed tool call after reassembly.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Call {
    pub(crate) id: Option<String>,
    pub(crate) name: String,
    /// The argument fragments joined, as text.
    pub(crate) arguments: String,
    /// How many fragments carried argument text.
    pub(crate) fragments: usize,
}

/// An OpenAI stream after reassembly.
#[derive(Debug, Default)]
pub(crate) struct OpenAiStream {
    pub(crate) text: String,
    pub(crate) text_deltas: usize,
    pub(crate) calls: Vec<Call>,
    pub(crate) finish_reason: Option<String>,
    pub(crate) usage: Option<Value>,
    pub(crate) done: bool,
    pub(crate) chunks: Vec<Value>,
}

pub(crate) fn openai(body: &[u8]) -> OpenAiStream {
    let mut stream = OpenAiStream::default();
    let mut calls: BTreeMap<u64, Call> = BTreeMap::new();
    for event in events(body) {
        assert!(!stream.done, "event after [DONE]: {event:?}");
        if event.data == "[DONE]" {
            stream.done = true;
            continue;
        }
        let chunk = event.json();
        assert_eq!(chunk["object"], "chat.completion.chunk");
        if let Some(usage) = chunk.get("usage").filter(|usage| !usage.is_null()) {
            stream.usage = Some(usage.clone());
        }
        let choices = chunk["choices"].as_array().expect("choices array");
        if let Some(choice) = choices.first() {
            let delta = &choice["delta"];
            if let Some(text) = delta["content"].as_str().filter(|text| !text.is_empty()) {
                stream.text.push_str(text);
                stream.text_deltas += 1;
            }
            for call in delta["tool_calls"].as_array().into_iter().flatten() {
                let index = call["index"].as_u64().expect("tool call index");
                let entry = calls.entry(index).or_default();
                if let Some(id) = call["id"].as_str() {
                    entry.id = Some(id.to_owned());
                }
                if let Some(name) = call["function"]["name"].as_str() {
                    entry.name = name.to_owned();
                }
                match &call["function"]["arguments"] {
                    Value::String(piece) if !piece.is_empty() => {
                        entry.arguments.push_str(piece);
                        entry.fragments += 1;
                    }
                    Value::Object(_) => {
                        entry.arguments = call["function"]["arguments"].to_string();
                        entry.fragments += 1;
                    }
                    _ => {}
                }
            }
            if let Some(reason) = choice["finish_reason"].as_str() {
                stream.finish_reason = Some(reason.to_owned());
            }
        }
        stream.chunks.push(chunk);
    }
    stream.calls = calls.into_values().collect();
    stream
}

/// An Anthropic stream after reassembly.
#[derive(Debug, Default)]
pub(crate) struct AnthropicStream {
    pub(crate) names: Vec<String>,
    pub(crate) text: String,
    pub(crate) text_deltas: usize,
    pub(crate) calls: Vec<Call>,
    pub(crate) stop_reason: Option<String>,
    pub(crate) input_tokens: Option<u64>,
    pub(crate) output_tokens: Option<u64>,
    pub(crate) message_id: Option<String>,
}

pub(crate) fn anthropic(body: &[u8]) -> AnthropicStream {
    let mut stream = AnthropicStream::default();
    let mut blocks: BTreeMap<u64, Call> = BTreeMap::new();
    for event in events(body) {
        let name = event.name.clone().expect("Anthropic events are named");
        let data = event.json();
        assert_eq!(data["type"], name.as_str(), "event name matches data type");
        match name.as_str() {
            "message_start" => {
                stream.message_id = data["message"]["id"].as_str().map(str::to_owned);
                stream.input_tokens = data["message"]["usage"]["input_tokens"].as_u64();
            }
            "content_block_start" => {
                let block = &data["content_block"];
                if block["type"] == "tool_use" {
                    let index = data["index"].as_u64().expect("block index");
                    blocks.insert(
                        index,
                        Call {
                            id: block["id"].as_str().map(str::to_owned),
                            name: block["name"].as_str().expect("tool name").to_owned(),
                            ..Call::default()
                        },
                    );
                }
            }
            "content_block_delta" => {
                let delta = &data["delta"];
                match delta["type"].as_str() {
                    Some("text_delta") => {
                        stream.text.push_str(delta["text"].as_str().expect("text"));
                        stream.text_deltas += 1;
                    }
                    Some("input_json_delta") => {
                        let index = data["index"].as_u64().expect("block index");
                        let call = blocks
                            .get_mut(&index)
                            .expect("delta for a started tool block");
                        call.arguments
                            .push_str(delta["partial_json"].as_str().expect("partial"));
                        call.fragments += 1;
                    }
                    other => panic!("unexpected delta type {other:?}"),
                }
            }
            "message_delta" => {
                stream.stop_reason = data["delta"]["stop_reason"].as_str().map(str::to_owned);
                stream.output_tokens = data["usage"]["output_tokens"].as_u64();
            }
            _ => {}
        }
        stream.names.push(name);
    }
    stream.calls = blocks.into_values().collect();
    stream
}
