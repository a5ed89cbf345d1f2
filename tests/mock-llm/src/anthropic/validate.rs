//! The request checks Anthropic itself makes and a client most easily gets
//! wrong: `max_tokens` is required, content is a string or typed blocks, and
//! every `tool_use` is answered by a `tool_result` in the very next user
//! message (and no `tool_result` answers anything else). Fields the mock does
//! not use are not checked.

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
        .get("max_tokens")
        .and_then(Value::as_u64)
        .is_none_or(|max| max == 0)
    {
        return Err(Invalid::new("`max_tokens` must be a positive integer"));
    }
    if body
        .get("stream")
        .is_some_and(|stream| !stream.is_boolean())
    {
        return Err(Invalid::new("`stream` must be a boolean"));
    }
    if let Some(system) = body.get("system")
        && !system.is_string()
    {
        blocks(system, "system")?;
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
        if tool
            .get("name")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            return Err(Invalid::new(format!("tools[{index}] needs a `name`")));
        }
        // Server tools (`web_search_...`) carry a `type` instead of a schema.
        let custom = tool.get("type").is_none_or(|kind| kind == "custom");
        if custom && !tool.get("input_schema").is_some_and(Value::is_object) {
            return Err(Invalid::new(format!(
                "tools[{index}] needs an object `input_schema`"
            )));
        }
    }
    Ok(())
}

fn messages_list(messages: &[Value]) -> Result<(), Invalid> {
    // `tool_use` ids of the previous assistant message, which the next
    // message must answer in full.
    let mut open: BTreeSet<String> = BTreeSet::new();
    for (index, message) in messages.iter().enumerate() {
        let at = format!("messages[{index}]");
        let content = message.get("content").unwrap_or(&Value::Null);
        let blocks = if content.is_string() {
            &[][..]
        } else {
            blocks(content, &at)?
        };
        match message.get("role").and_then(Value::as_str) {
            Some("assistant") => {
                if !open.is_empty() {
                    return Err(unanswered(&open, &at));
                }
                open = tool_uses(blocks, &at)?;
            }
            Some("user") => {
                for (block_index, block) in blocks.iter().enumerate() {
                    if block["type"] != "tool_result" {
                        continue;
                    }
                    let Some(id) = block.get("tool_use_id").and_then(Value::as_str) else {
                        return Err(Invalid::new(format!(
                            "{at}.content[{block_index}] (tool_result) needs a string `tool_use_id`"
                        )));
                    };
                    if !open.remove(id) {
                        return Err(Invalid::new(format!(
                            "{at}.content[{block_index}] answers tool_use `{id}`, which is not an \
                             unanswered tool_use of the preceding assistant message"
                        )));
                    }
                }
                if !open.is_empty() {
                    return Err(unanswered(&open, &at));
                }
            }
            _ => {
                return Err(Invalid::new(format!(
                    "{at} needs `role` \"user\" or \"assistant\""
                )));
            }
        }
    }
    if open.is_empty() {
        Ok(())
    } else {
        Err(unanswered(&open, "the end"))
    }
}

/// Checks that `content` is a non-empty array of objects with a `type`.
fn blocks<'a>(content: &'a Value, at: &str) -> Result<&'a [Value], Invalid> {
    let blocks = match content.as_array() {
        Some(blocks) if !blocks.is_empty() => blocks,
        _ => {
            return Err(Invalid::new(format!(
                "{at} content must be a string or a non-empty array of blocks"
            )));
        }
    };
    for (index, block) in blocks.iter().enumerate() {
        if !block.get("type").is_some_and(Value::is_string) {
            return Err(Invalid::new(format!(
                "{at} content[{index}] needs a string `type`"
            )));
        }
    }
    Ok(blocks)
}

/// Checks the `tool_use` blocks of an assistant message and returns their ids.
fn tool_uses(blocks: &[Value], at: &str) -> Result<BTreeSet<String>, Invalid> {
    let mut ids = BTreeSet::new();
    for (index, block) in blocks.iter().enumerate() {
        if block["type"] != "tool_use" {
            continue;
        }
        let id = block.get("id").and_then(Value::as_str);
        let named = block.get("name").is_some_and(Value::is_string);
        let input = block.get("input").is_some_and(Value::is_object);
        match id {
            Some(id) if named && input => {
                ids.insert(id.to_owned());
            }
            _ => {
                return Err(Invalid::new(format!(
                    "{at}.content[{index}] (tool_use) needs a string `id`, a string `name` and \
                     an object `input`"
                )));
            }
        }
    }
    Ok(ids)
}

fn unanswered(open: &BTreeSet<String>, before: &str) -> Invalid {
    let ids: Vec<&str> = open.iter().map(String::as_str).collect();
    Invalid::new(format!(
        "tool_use ids {ids:?} have no tool_result in the user message right after them (at {before})"
    ))
}
