//! Reading provider JSON leniently. Providers and the servers that imitate them leave out
//! fields, send `null` for empty text, send tool arguments as an object instead of a JSON
//! string, or drop tool-call ids. Strict serde types turn each of those into a failed call
//! (`async-openai` rejects a completion without `created`), so responses are read as
//! [`Value`]s through these helpers, which take what is there and default the rest.
//! Only a missing core (no `choices`, no `content`) is an error, and that is the
//! protocol module's call.

use serde_json::Value;

use crate::Usage;

/// A string field; `None` when absent, not a string, or empty.
pub(crate) fn string(value: Option<&Value>) -> Option<String> {
    value
        .and_then(Value::as_str)
        .filter(|text| !text.is_empty())
        .map(str::to_owned)
}

/// Message text: a string, `null` (""), or an array of parts whose `text` fields are
/// joined (OpenAI-compatible servers that return content parts).
pub(crate) fn text(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|part| part.get("text").and_then(Value::as_str))
            .collect(),
        _ => String::new(),
    }
}

/// Tool arguments as JSON text: a string is kept verbatim, even when it is not valid JSON
/// (`ToolCall::parsed_arguments` reports that to the model later); an object or other
/// value is serialised; absent or `null` is "".
pub(crate) fn arguments(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    }
}

/// A tool call's id, or `call_{position}` when the provider sent none, so every call can
/// still be answered by id. `position` counts the calls of one response from 0.
pub(crate) fn call_id(value: Option<&Value>, position: usize) -> String {
    string(value).unwrap_or_else(|| format!("call_{position}"))
}

/// A token count; 0 when absent.
pub(crate) fn tokens(value: Option<&Value>) -> u64 {
    value.and_then(Value::as_u64).unwrap_or(0)
}

/// The model a response names, else the one that was asked for.
pub(crate) fn model(json: &Value, requested: &str) -> String {
    string(json.get("model")).unwrap_or_else(|| requested.to_owned())
}

/// Usage from two token-count fields of `usage`, whichever names the protocol uses.
pub(crate) fn usage(usage: Option<&Value>, input: &str, output: &str) -> Usage {
    let field = |name: &str| tokens(usage.and_then(|usage| usage.get(name)));
    Usage {
        input_tokens: field(input),
        output_tokens: field(output),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn arguments_keep_strings_and_serialise_objects() {
        assert_eq!(arguments(Some(&json!("{\"a\":1"))), "{\"a\":1");
        assert_eq!(arguments(Some(&json!({"a": 1}))), "{\"a\":1}");
        assert_eq!(arguments(Some(&Value::Null)), "");
        assert_eq!(arguments(None), "");
    }

    #[test]
    fn text_takes_null_and_parts() {
        assert_eq!(text(Some(&Value::Null)), "");
        assert_eq!(
            text(Some(&json!([{"type": "text", "text": "a"}, {"text": "b"}]))),
            "ab"
        );
        assert_eq!(text(Some(&json!("hi"))), "hi");
    }

    #[test]
    fn missing_or_empty_ids_are_generated() {
        assert_eq!(call_id(None, 2), "call_2");
        assert_eq!(call_id(Some(&json!("")), 0), "call_0");
        assert_eq!(call_id(Some(&json!("x")), 0), "x");
    }
}
