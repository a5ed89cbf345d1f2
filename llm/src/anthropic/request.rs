//! Our [`ChatRequest`] as a Messages body. The shapes differ more than OpenAI's:
//! - system messages leave the list and become the top-level `system`, joined by blank lines;
//! - an assistant's tool calls are `tool_use` content blocks after its text;
//! - tool results are `tool_result` blocks of a *user* message, and consecutive tool
//!   messages (the answers to one assistant turn) share one user message, because Anthropic
//!   wants every `tool_use` answered in the very next message. A user message right after
//!   them joins that message as a text block rather than making two user turns in a row;
//! - `max_tokens` is required.
//!
//! Of `extra`, only the parameters Messages has are sent (OpenAI-only ones like `seed` or
//! `response_format` would be rejected): `top_p`, `top_k`, `metadata`, and `stop` renamed
//! to `stop_sequences`.

use serde_json::{Map, Value, json};

use crate::{ChatRequest, Message, Role, ToolSpec};

/// `max_tokens` when the request sets none: Anthropic requires one, and this is enough for
/// an agent turn on every current model.
const DEFAULT_MAX_TOKENS: u32 = 4096;

/// Keys of `extra` passed through as they are.
const PASSED_THROUGH: [&str; 3] = ["top_p", "top_k", "metadata"];

pub(super) fn body(req: &ChatRequest, stream: bool) -> Value {
    let mut body = Map::new();
    body.insert("model".into(), json!(req.model));
    body.insert(
        "max_tokens".into(),
        json!(req.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS)),
    );
    let system: Vec<&str> = req
        .messages
        .iter()
        .filter(|message| message.role == Role::System)
        .map(|message| message.content.as_str())
        .collect();
    if !system.is_empty() {
        body.insert("system".into(), json!(system.join("\n\n")));
    }
    body.insert("messages".into(), Value::Array(messages(&req.messages)));
    if !req.tools.is_empty() {
        body.insert("tools".into(), req.tools.iter().map(tool).collect());
    }
    if let Some(temperature) = req.temperature {
        body.insert("temperature".into(), json!(temperature));
    }
    for key in PASSED_THROUGH {
        if let Some(value) = req.extra.get(key) {
            body.insert(key.into(), value.clone());
        }
    }
    match req.extra.get("stop") {
        Some(Value::String(stop)) => {
            body.insert("stop_sequences".into(), json!([stop]));
        }
        Some(stops @ Value::Array(_)) => {
            body.insert("stop_sequences".into(), stops.clone());
        }
        _ => {}
    }
    if stream {
        body.insert("stream".into(), json!(true));
    }
    Value::Object(body)
}

fn messages(messages: &[Message]) -> Vec<Value> {
    let mut out = Vec::new();
    // `tool_result` blocks waiting for the user message that carries them.
    let mut results: Vec<Value> = Vec::new();
    for message in messages {
        match message.role {
            Role::System => {}
            Role::Tool => results.push(json!({
                "type": "tool_result",
                "tool_use_id": message.tool_call_id.as_deref().unwrap_or_default(),
                "content": message.content,
            })),
            Role::User if results.is_empty() => {
                out.push(json!({"role": "user", "content": message.content}));
            }
            Role::User => {
                let mut blocks = std::mem::take(&mut results);
                if !message.content.is_empty() {
                    blocks.push(json!({"type": "text", "text": message.content}));
                }
                out.push(json!({"role": "user", "content": blocks}));
            }
            Role::Assistant => {
                flush(&mut results, &mut out);
                out.push(assistant(message));
            }
        }
    }
    flush(&mut results, &mut out);
    out
}

fn flush(results: &mut Vec<Value>, out: &mut Vec<Value>) {
    if !results.is_empty() {
        out.push(json!({"role": "user", "content": std::mem::take(results)}));
    }
}

fn assistant(message: &Message) -> Value {
    if message.tool_calls.is_empty() {
        return json!({"role": "assistant", "content": message.content});
    }
    let mut blocks = Vec::new();
    if !message.content.is_empty() {
        blocks.push(json!({"type": "text", "text": message.content}));
    }
    for call in &message.tool_calls {
        // `input` must be an object; arguments that do not parse were already refused to
        // the model as the tool's result, so `{}` loses nothing.
        let input = call
            .parsed_arguments()
            .map_or_else(|_| json!({}), Value::Object);
        blocks.push(json!({"type": "tool_use", "id": call.id, "name": call.name, "input": input}));
    }
    json!({"role": "assistant", "content": blocks})
}

fn tool(tool: &ToolSpec) -> Value {
    json!({
        "name": tool.name,
        "description": tool.description,
        "input_schema": tool.parameters,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ToolCall;

    fn message(role: Role, content: &str) -> Message {
        Message {
            role,
            content: content.into(),
            tool_calls: Vec::new(),
            tool_call_id: None,
        }
    }

    fn result(id: &str, content: &str) -> Message {
        Message {
            tool_call_id: Some(id.into()),
            ..message(Role::Tool, content)
        }
    }

    #[test]
    fn tool_results_share_one_user_message_with_the_next_text() {
        let call = |id: &str, arguments: &str| ToolCall {
            id: id.into(),
            name: "f".into(),
            arguments: arguments.into(),
        };
        let assistant = Message {
            tool_calls: vec![call("a", "{\"x\":1}"), call("b", "{bad")],
            ..message(Role::Assistant, "")
        };
        let history = [
            message(Role::System, "one"),
            message(Role::User, "go"),
            assistant,
            result("a", "ra"),
            result("b", "rb"),
            message(Role::User, "and?"),
            message(Role::System, "two"),
        ];
        let req = ChatRequest {
            model: "m".into(),
            messages: history.to_vec(),
            ..ChatRequest::default()
        };
        let body = body(&req, false);
        assert_eq!(body["system"], "one\n\ntwo");
        assert_eq!(body["max_tokens"], 4096);
        assert_eq!(
            body["messages"],
            json!([
                {"role": "user", "content": "go"},
                {"role": "assistant", "content": [
                    {"type": "tool_use", "id": "a", "name": "f", "input": {"x": 1}},
                    {"type": "tool_use", "id": "b", "name": "f", "input": {}},
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "a", "content": "ra"},
                    {"type": "tool_result", "tool_use_id": "b", "content": "rb"},
                    {"type": "text", "text": "and?"},
                ]},
            ])
        );
    }

    #[test]
    fn only_messages_parameters_pass_from_extra() {
        let mut extra = Map::new();
        extra.insert("top_p".into(), json!(0.5));
        extra.insert("seed".into(), json!(1));
        extra.insert("stop".into(), json!("END"));
        let req = ChatRequest {
            model: "m".into(),
            max_tokens: Some(10),
            extra,
            ..ChatRequest::default()
        };
        assert_eq!(
            body(&req, true),
            json!({"model": "m", "max_tokens": 10, "messages": [], "top_p": 0.5,
                   "stop_sequences": ["END"], "stream": true})
        );
    }
}
