//! The request checks OpenAI itself makes and a client most easily gets
//! wrong: the basic shape, the tool-call id chain (every `tool` message
//! answers a call of the assistant message before it, and every call gets an
//! answer), and argument strings. Fields the mock does not use are not checked.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::api_error::Invalid;

pub(super) fn request(body: &Value) -> Result<(), Invalid> {
    let Some(body) = body.as_object() else {
        return Err(Invalid::new("the body must be a JSON object"));
    };
    match body.get("model").and_then(Value::as_str) {
        Some(model) if !model.is_empty() => {}
        _ => return Err(Invalid::new("`model` must be a non-empty string")),
    }
    if body
        .get("stream")
        .is_some_and(|stream| !stream.is_boolean())
    {
        return Err(Invalid::new("`stream` must be a boolean"));
    }
    if let Some(tools) = body.get("tools") {
        tools_list(tools)?;
    }
    match body.get("messages").and_then(Value::as_array) {
        Some(messages) if !messages.is_empty() => messages_list(messages),
        _ => Err(Invalid::new("`messages` must be a non-empty array")),
    }
}

fn tools_list(tools: &Value) -> Result<(), Invalid> {
    let Some(tools) = tools.as_array() else {
        return Err(Invalid::new("`tools` must be an array"));
    };
    for (index, tool) in tools.iter().enumerate() {
        let named = tool
            .pointer("/function/name")
            .and_then(Value::as_str)
            .is_some_and(|name| !name.is_empty());
        if tool.get("type").and_then(Value::as_str) != Some("function") || !named {
            return Err(Invalid::new(format!(
                "tools[{index}] must be {{\"type\": \"function\", \"function\": {{\"name\": ...}}}}"
            )));
        }
    }
    Ok(())
}

fn messages_list(messages: &[Value]) -> Result<(), Invalid> {
    // Ids of the last assistant message's tool calls that no `tool` message
    // has answered yet.
    let mut open: BTreeSet<String> = BTreeSet::new();
    for (index, message) in messages.iter().enumerate() {
        let role = message.get("role").and_then(Value::as_str).unwrap_or("");
        if role != "tool" && !open.is_empty() {
            return Err(unanswered(&open, Some(index)));
        }
        match role {
            "system" | "developer" | "user" => {
                if !message.get("content").is_some_and(is_content) {
                    return Err(Invalid::new(format!(
                        "messages[{index}] ({role}) needs `content` as a string or an array of parts"
                    )));
                }
            }
            "assistant" => open = assistant_calls(message, index)?,
            "tool" => {
                let Some(id) = message.get("tool_call_id").and_then(Value::as_str) else {
                    return Err(Invalid::new(format!(
                        "messages[{index}] (tool) needs a string `tool_call_id`"
                    )));
                };
                if !open.remove(id) {
                    return Err(Invalid::new(format!(
                        "messages[{index}] (tool) answers tool call `{id}`, which is not an unanswered \
                         call of the preceding assistant message"
                    )));
                }
            }
            "function" => {}
            other => {
                return Err(Invalid::new(format!(
                    "messages[{index}] has unknown role `{other}`"
                )));
            }
        }
    }
    if open.is_empty() {
        Ok(())
    } else {
        Err(unanswered(&open, None))
    }
}

/// Checks an assistant message and returns the ids of its tool calls.
fn assistant_calls(message: &Value, index: usize) -> Result<BTreeSet<String>, Invalid> {
    let mut ids = BTreeSet::new();
    let calls = match message.get("tool_calls") {
        None | Some(Value::Null) => &[][..],
        Some(Value::Array(calls)) => calls.as_slice(),
        Some(_) => {
            return Err(Invalid::new(format!(
                "messages[{index}].tool_calls must be an array"
            )));
        }
    };
    let has_content = message
        .get("content")
        .is_some_and(|content| !content.is_null());
    if calls.is_empty() && !has_content {
        return Err(Invalid::new(format!(
            "messages[{index}] (assistant) needs `content` or `tool_calls`"
        )));
    }
    for (call_index, call) in calls.iter().enumerate() {
        let at = format!("messages[{index}].tool_calls[{call_index}]");
        let Some(id) = call.get("id").and_then(Value::as_str) else {
            return Err(Invalid::new(format!("{at} needs a string `id`")));
        };
        if call
            .pointer("/function/name")
            .and_then(Value::as_str)
            .is_none()
        {
            return Err(Invalid::new(format!("{at} needs a string `function.name`")));
        }
        if !call
            .pointer("/function/arguments")
            .is_some_and(Value::is_string)
        {
            return Err(Invalid::new(format!(
                "{at}.function.arguments must be a JSON-encoded string"
            )));
        }
        ids.insert(id.to_owned());
    }
    Ok(ids)
}

fn is_content(content: &Value) -> bool {
    content.is_string() || content.is_array()
}

fn unanswered(open: &BTreeSet<String>, before: Option<usize>) -> Invalid {
    let ids: Vec<&str> = open.iter().map(String::as_str).collect();
    let place = before.map_or_else(
        || "the end".to_owned(),
        |index| format!("messages[{index}]"),
    );
    Invalid::new(format!(
        "tool calls {ids:?} have no `tool` message answering them before {place}"
    ))
}
