//! Our [`ChatRequest`] as a Chat Completions body.
//!
//! `extra` is merged at the top level after the fields the request sets itself, and
//! cannot replace them: `model`, `messages`, `tools`, `max_tokens` and `temperature` come
//! from the request's own fields, and `stream`/`stream_options` belong to this client,
//! which must know whether it is reading SSE.

use serde_json::{Map, Value, json};

use crate::{ChatRequest, Message, Role, ToolSpec};

/// Keys of `extra` that are never sent, whatever the request says.
const OWNED_BY_CLIENT: [&str; 2] = ["stream", "stream_options"];

pub(super) fn body(req: &ChatRequest, stream: bool) -> Value {
    let mut body = Map::new();
    body.insert("model".into(), json!(req.model));
    body.insert(
        "messages".into(),
        req.messages.iter().map(message).collect(),
    );
    if !req.tools.is_empty() {
        body.insert("tools".into(), req.tools.iter().map(tool).collect());
    }
    if let Some(max_tokens) = req.max_tokens {
        body.insert("max_tokens".into(), json!(max_tokens));
    }
    if let Some(temperature) = req.temperature {
        body.insert("temperature".into(), json!(temperature));
    }
    for (key, value) in &req.extra {
        if !OWNED_BY_CLIENT.contains(&key.as_str()) {
            body.entry(key.as_str()).or_insert_with(|| value.clone());
        }
    }
    if stream {
        body.insert("stream".into(), json!(true));
        body.insert("stream_options".into(), json!({"include_usage": true}));
    }
    Value::Object(body)
}

fn message(message: &Message) -> Value {
    match message.role {
        Role::System => json!({"role": "system", "content": message.content}),
        Role::User => json!({"role": "user", "content": message.content}),
        Role::Tool => json!({
            "role": "tool",
            "tool_call_id": message.tool_call_id.as_deref().unwrap_or_default(),
            "content": message.content,
        }),
        Role::Assistant if message.tool_calls.is_empty() => {
            json!({"role": "assistant", "content": message.content})
        }
        Role::Assistant => {
            // OpenAI's own shape for a call without text is `content: null`.
            let content = if message.content.is_empty() {
                Value::Null
            } else {
                json!(message.content)
            };
            let calls: Vec<Value> = message
                .tool_calls
                .iter()
                .map(|call| {
                    // Sent back verbatim (even if invalid, it is what the model said), but
                    // never empty: servers that parse it reject "".
                    let arguments = if call.arguments.trim().is_empty() {
                        "{}"
                    } else {
                        call.arguments.as_str()
                    };
                    json!({
                        "id": call.id,
                        "type": "function",
                        "function": {"name": call.name, "arguments": arguments},
                    })
                })
                .collect();
            json!({"role": "assistant", "content": content, "tool_calls": calls})
        }
    }
}

fn tool(tool: &ToolSpec) -> Value {
    json!({
        "type": "function",
        "function": {
            "name": tool.name,
            "description": tool.description,
            "parameters": tool.parameters,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_cannot_replace_own_fields_or_streaming() {
        let mut extra = Map::new();
        extra.insert("model".into(), json!("other"));
        extra.insert("seed".into(), json!(7));
        extra.insert("stream".into(), json!(true));
        let req = ChatRequest {
            model: "m".into(),
            extra,
            ..ChatRequest::default()
        };
        let body = body(&req, false);
        assert_eq!(body, json!({"model": "m", "messages": [], "seed": 7}));
    }
}
