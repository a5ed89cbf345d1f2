//! A Messages response body as our [`ChatResponse`]: `text` blocks joined into the
//! content, `tool_use` blocks as calls (their `input` object serialised; an `input` that
//! is already a string kept verbatim), `thinking` and other blocks skipped. Only
//! `content` is required.

use serde_json::Value;

use crate::transport::{invalid, provider_message, quote};
use crate::{ChatResponse, LlmError, ToolCall, Usage, lenient};

pub(crate) fn parse(
    json: &Value,
    requested_model: &str,
    provider: &str,
) -> Result<ChatResponse, LlmError> {
    let Some(blocks) = json.get("content").and_then(Value::as_array) else {
        let message = match provider_message(json) {
            Some(error) => format!("an error instead of a message: {error}"),
            None => format!("no `content` array in {}", quote(json)),
        };
        return Err(invalid(provider, message));
    };
    let mut content = String::new();
    let mut tool_calls = Vec::new();
    for block in blocks {
        match block.get("type").and_then(Value::as_str) {
            Some("text") => {
                content.push_str(block.get("text").and_then(Value::as_str).unwrap_or(""))
            }
            Some("tool_use") => {
                let call = tool_call(block, block.get("input"), tool_calls.len());
                tool_calls.push(call);
            }
            _ => {}
        }
    }
    Ok(ChatResponse {
        content,
        tool_calls,
        usage: usage(json.get("usage")),
        model: lenient::model(json, requested_model),
        stop_reason: lenient::string(json.get("stop_reason")),
    })
}

pub(super) fn usage(usage: Option<&Value>) -> Usage {
    lenient::usage(usage, "input_tokens", "output_tokens")
}

/// A `tool_use` block (from a response, or a stream's `content_block_start`) as a call.
pub(super) fn tool_call(block: &Value, input: Option<&Value>, position: usize) -> ToolCall {
    ToolCall {
        id: lenient::call_id(block.get("id"), position),
        name: lenient::string(block.get("name")).unwrap_or_default(),
        arguments: lenient::arguments(input),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn text_blocks_join_and_string_input_stays_verbatim() {
        let json = json!({
            "content": [
                {"type": "text", "text": "a"},
                {"type": "thinking", "thinking": "hm"},
                {"type": "tool_use", "name": "f", "input": "{\"x\""},
                {"type": "text", "text": "b"},
            ],
            "usage": {"input_tokens": 5, "output_tokens": 2},
            "stop_reason": "tool_use",
        });
        let response = parse(&json, "m", "p").unwrap();
        assert_eq!(response.content, "ab");
        assert_eq!(
            response.tool_calls,
            [ToolCall {
                id: "call_0".into(),
                name: "f".into(),
                arguments: "{\"x\"".into()
            }]
        );
        assert_eq!(
            response.usage,
            Usage {
                input_tokens: 5,
                output_tokens: 2
            }
        );
        assert_eq!(response.stop_reason.as_deref(), Some("tool_use"));
    }
}
