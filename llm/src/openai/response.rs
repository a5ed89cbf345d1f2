//! A Chat Completions response body as our [`ChatResponse`], read leniently: only
//! `choices[0]` is required. `id`, `object`, `created` and `usage` may be missing, `content`
//! may be `null`, tool-call arguments may be an object, and tool-call ids may be missing.

use serde_json::Value;

use crate::transport::{invalid, provider_message, quote};
use crate::{ChatResponse, LlmError, ToolCall, Usage, lenient};

pub(crate) fn parse(
    json: &Value,
    requested_model: &str,
    provider: &str,
) -> Result<ChatResponse, LlmError> {
    let Some(choice) = json.pointer("/choices/0") else {
        let message = match provider_message(json) {
            Some(error) => format!("an error instead of a completion: {error}"),
            None => format!("no `choices[0]` in {}", quote(json)),
        };
        return Err(invalid(provider, message));
    };
    let message = choice.get("message").unwrap_or(&Value::Null);
    let tool_calls = match message.get("tool_calls") {
        Some(Value::Array(calls)) => calls.iter().enumerate().map(tool_call).collect(),
        _ => Vec::new(),
    };
    Ok(ChatResponse {
        content: lenient::text(message.get("content")),
        tool_calls,
        usage: usage(json.get("usage")),
        model: lenient::model(json, requested_model),
        stop_reason: lenient::string(choice.get("finish_reason")),
    })
}

/// OpenAI's usage object; Groq streams put it under `x_groq.usage` instead.
pub(super) fn usage(usage: Option<&Value>) -> Usage {
    lenient::usage(usage, "prompt_tokens", "completion_tokens")
}

fn tool_call((position, call): (usize, &Value)) -> ToolCall {
    let function = call.get("function");
    ToolCall {
        id: lenient::call_id(call.get("id"), position),
        name: lenient::string(function.and_then(|f| f.get("name"))).unwrap_or_default(),
        arguments: lenient::arguments(function.and_then(|f| f.get("arguments"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_bare_completion_is_enough() {
        let json = json!({"choices": [{"message": {"content": null, "tool_calls": [
            {"function": {"name": "f", "arguments": {"a": 1}}},
            {"id": "x", "function": {"name": "g", "arguments": "{\"b\""}},
        ]}}]});
        let response = parse(&json, "asked", "p").unwrap();
        assert_eq!(response.content, "");
        assert_eq!(response.model, "asked");
        assert_eq!(response.usage, Usage::default());
        assert_eq!(response.stop_reason, None);
        assert_eq!(
            response.tool_calls,
            [
                ToolCall {
                    id: "call_0".into(),
                    name: "f".into(),
                    arguments: "{\"a\":1}".into()
                },
                ToolCall {
                    id: "x".into(),
                    name: "g".into(),
                    arguments: "{\"b\"".into()
                },
            ]
        );
    }

    #[test]
    fn an_error_body_with_200_names_the_error() {
        let error = parse(&json!({"error": {"message": "nope"}}), "m", "p").unwrap_err();
        assert_eq!(
            error,
            LlmError::InvalidResponse {
                provider: "p".into(),
                message: "an error instead of a completion: nope".into()
            }
        );
    }
}
