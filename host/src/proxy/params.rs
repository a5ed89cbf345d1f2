//! Reading `params` of an `llm` proxy request: the OpenAI-style body agents send, read
//! leniently (content as text or parts, tool calls flat or nested, arguments as text or
//! object) into our own [`ChatRequest`] pieces, with unknown provider parameters dropped.

use openlegion_llm::{Message, Role, ToolCall, ToolSpec};
use serde_json::{Map, Value};

/// Provider parameters an agent may pass through; anything else is dropped (as in the
/// original), so an agent cannot reach provider features the mesh does not account for.
const ALLOWED_EXTRA: &[&str] = &[
    "top_p",
    "top_k",
    "stop",
    "seed",
    "tool_choice",
    "response_format",
    "presence_penalty",
    "frequency_penalty",
    "logit_bias",
    "logprobs",
    "top_logprobs",
    "user",
    "reasoning_effort",
    "metadata",
];

/// Keys read into their own fields rather than passed through.
const OWN: &[&str] = &[
    "model",
    "messages",
    "tools",
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "stream",
    "text",
    "input",
];

/// A chat request as the agent asked for it, before a model is chosen.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct ChatParams {
    pub(super) model: Option<String>,
    pub(super) messages: Vec<Message>,
    pub(super) tools: Vec<ToolSpec>,
    pub(super) max_tokens: Option<u32>,
    pub(super) temperature: Option<f64>,
    pub(super) extra: Map<String, Value>,
}

/// What is wrong with the params, naming the field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("params.{field}: {problem}")]
pub(super) struct ParamsError {
    pub(super) field: String,
    pub(super) problem: String,
}

fn bad(field: impl Into<String>, problem: impl Into<String>) -> ParamsError {
    ParamsError {
        field: field.into(),
        problem: problem.into(),
    }
}

fn text(value: &Value, field: &str) -> Result<String, ParamsError> {
    match value {
        Value::Null => Ok(String::new()),
        Value::String(s) => Ok(s.clone()),
        // Content parts: keep the text ones.
        Value::Array(parts) => Ok(parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str).or_else(|| p.as_str()))
            .collect::<Vec<_>>()
            .join("")),
        other => Err(bad(field, format!("expected text, got {other}"))),
    }
}

fn role(value: &Value, field: &str) -> Result<Role, ParamsError> {
    match value.as_str() {
        Some("system" | "developer") => Ok(Role::System),
        Some("user") => Ok(Role::User),
        Some("assistant") => Ok(Role::Assistant),
        Some("tool") => Ok(Role::Tool),
        _ => Err(bad(field, format!("unknown role {value}"))),
    }
}

fn tool_call(value: &Value, field: &str, index: usize) -> Result<ToolCall, ParamsError> {
    let function = value.get("function").unwrap_or(value);
    let name = function
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| bad(format!("{field}.name"), "missing"))?
        .to_owned();
    let arguments = match function.get("arguments").or_else(|| function.get("input")) {
        None | Some(Value::Null) => "{}".to_owned(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    let id = value
        .get("id")
        .and_then(Value::as_str)
        .map_or_else(|| format!("call_{index}"), str::to_owned);
    Ok(ToolCall {
        id,
        name,
        arguments,
    })
}

fn message(value: &Value, field: &str) -> Result<Message, ParamsError> {
    let role = role(
        value.get("role").unwrap_or(&Value::Null),
        &format!("{field}.role"),
    )?;
    let content = text(
        value.get("content").unwrap_or(&Value::Null),
        &format!("{field}.content"),
    )?;
    let tool_calls = match value.get("tool_calls") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(calls)) => calls
            .iter()
            .enumerate()
            .map(|(i, c)| tool_call(c, &format!("{field}.tool_calls[{i}]"), i))
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(bad(
                format!("{field}.tool_calls"),
                format!("expected a list, got {other}"),
            ));
        }
    };
    let tool_call_id = value
        .get("tool_call_id")
        .and_then(Value::as_str)
        .map(str::to_owned);
    if role == Role::Tool && tool_call_id.is_none() {
        return Err(bad(
            format!("{field}.tool_call_id"),
            "a tool message must name the call it answers",
        ));
    }
    Ok(Message {
        role,
        content,
        tool_calls,
        tool_call_id,
    })
}

fn tool(value: &Value, field: &str) -> Result<ToolSpec, ParamsError> {
    let function = value.get("function").unwrap_or(value);
    let name = function
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| bad(format!("{field}.name"), "missing"))?;
    let parameters = function
        .get("parameters")
        .or_else(|| function.get("input_schema"))
        .cloned()
        .unwrap_or_else(|| serde_json::json!({"type": "object", "properties": {}}));
    if !parameters.is_object() {
        return Err(bad(
            format!("{field}.parameters"),
            "must be a JSON Schema object",
        ));
    }
    Ok(ToolSpec {
        name: name.to_owned(),
        description: function
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        parameters,
    })
}

fn number<T: TryFrom<u64>>(
    params: &Map<String, Value>,
    key: &str,
) -> Result<Option<T>, ParamsError> {
    match params.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .and_then(|n| T::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| bad(key, format!("expected a positive integer, got {v}"))),
    }
}

pub(super) fn chat(params: &Map<String, Value>) -> Result<ChatParams, ParamsError> {
    let model = match params.get("model") {
        None | Some(Value::Null) => None,
        Some(Value::String(m)) if !m.trim().is_empty() => Some(m.trim().to_owned()),
        Some(other) => return Err(bad("model", format!("expected a model id, got {other}"))),
    };
    let messages = match params.get("messages") {
        Some(Value::Array(list)) if !list.is_empty() => list
            .iter()
            .enumerate()
            .map(|(i, m)| message(m, &format!("messages[{i}]")))
            .collect::<Result<Vec<_>, _>>()?,
        Some(Value::Array(_)) => return Err(bad("messages", "is empty")),
        Some(other) => return Err(bad("messages", format!("expected a list, got {other}"))),
        None => return Err(bad("messages", "missing")),
    };
    let tools = match params.get("tools") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(list)) => list
            .iter()
            .enumerate()
            .map(|(i, t)| tool(t, &format!("tools[{i}]")))
            .collect::<Result<_, _>>()?,
        Some(other) => return Err(bad("tools", format!("expected a list, got {other}"))),
    };
    let max_tokens = match number(params, "max_tokens")? {
        Some(n) => Some(n),
        None => number(params, "max_completion_tokens")?,
    };
    let temperature = match params.get("temperature") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_f64()
                .filter(|t| (0.0..=2.0).contains(t))
                .ok_or_else(|| {
                    bad(
                        "temperature",
                        format!("expected a number between 0 and 2, got {v}"),
                    )
                })?,
        ),
    };
    let extra = params
        .iter()
        .filter(|(k, _)| !OWN.contains(&k.as_str()))
        .filter(|(k, _)| {
            let allowed = ALLOWED_EXTRA.contains(&k.as_str());
            if !allowed {
                tracing::debug!(param = %k, "dropping an LLM parameter outside the allowlist");
            }
            allowed
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Ok(ChatParams {
        model,
        messages,
        tools,
        max_tokens,
        temperature,
        extra,
    })
}

/// `embed` params: `{model?, text}` or `{model?, input: text | [text]}`.
pub(super) fn embed(
    params: &Map<String, Value>,
) -> Result<(Option<String>, Vec<String>, bool), ParamsError> {
    let model = params
        .get("model")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let (inputs, single) = match params.get("text").or_else(|| params.get("input")) {
        Some(Value::String(s)) => (vec![s.clone()], true),
        Some(Value::Array(list)) => (
            list.iter()
                .enumerate()
                .map(|(i, v)| {
                    v.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| bad(format!("input[{i}]"), "expected text"))
                })
                .collect::<Result<Vec<_>, _>>()?,
            false,
        ),
        Some(other) => return Err(bad("text", format!("expected text, got {other}"))),
        None => return Err(bad("text", "missing")),
    };
    if inputs.is_empty() {
        return Err(bad("input", "is empty"));
    }
    Ok((model, inputs, single))
}

/// A deliberately high estimate of a request's prompt tokens (a token is rarely under three
/// characters), so a budget reservation rarely falls short of the real cost.
pub(super) fn prompt_token_estimate(params: &ChatParams) -> u64 {
    let chars: usize = params
        .messages
        .iter()
        .map(|m| {
            m.content.len()
                + m.tool_calls
                    .iter()
                    .map(|c| c.name.len() + c.arguments.len())
                    .sum::<usize>()
                + 8
        })
        .sum::<usize>()
        + params
            .tools
            .iter()
            .map(|t| t.name.len() + t.description.len() + t.parameters.to_string().len())
            .sum::<usize>();
    (chars as u64).div_ceil(3)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn reads_the_openai_shape_leniently() {
        let p = chat(&map(json!({
            "model": "openai/gpt-4o-mini",
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": [{"type": "text", "text": "hi "}, {"type": "text", "text": "there"}]},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "read_file", "arguments": "{\"path\":\"a\"}"}},
                    {"name": "flat", "arguments": {"x": 1}}
                ]},
                {"role": "tool", "tool_call_id": "c1", "content": "file text"}
            ],
            "tools": [{"type": "function", "function": {"name": "read_file", "parameters": {"type": "object"}}},
                      {"name": "search", "input_schema": {"type": "object"}}],
            "max_tokens": 100, "temperature": 0.2, "top_p": 0.9, "api_key": "sneaky", "stream": true
        })))
        .unwrap();
        assert_eq!(p.messages[1].content, "hi there");
        assert_eq!(p.messages[2].tool_calls[1].arguments, r#"{"x":1}"#);
        assert_eq!(p.messages[2].tool_calls[1].id, "call_1");
        assert_eq!(p.tools[1].name, "search");
        assert_eq!(
            p.extra.keys().collect::<Vec<_>>(),
            ["top_p"],
            "api_key and stream are not passed on"
        );
    }

    #[test]
    fn names_the_bad_field() {
        let err = |v: Value| chat(&map(v)).unwrap_err().to_string();
        assert_eq!(err(json!({})), "params.messages: missing");
        assert_eq!(
            err(json!({"messages": [{"role": "robot"}]})),
            "params.messages[0].role: unknown role \"robot\""
        );
        assert_eq!(
            err(json!({"messages": [{"role": "tool", "content": "x"}]})),
            "params.messages[0].tool_call_id: a tool message must name the call it answers"
        );
        assert!(
            err(json!({"messages": [{"role": "user"}], "max_tokens": -1}))
                .starts_with("params.max_tokens")
        );
        assert!(
            err(json!({"messages": [{"role": "user"}], "temperature": 9}))
                .starts_with("params.temperature")
        );
    }

    #[test]
    fn embed_inputs() {
        assert_eq!(
            embed(&map(json!({"text": "a"}))).unwrap(),
            (None, vec!["a".to_owned()], true)
        );
        assert_eq!(
            embed(&map(json!({"model": "m", "input": ["a", "b"]})))
                .unwrap()
                .1
                .len(),
            2
        );
        assert!(embed(&map(json!({"input": [1]}))).is_err());
    }
}
