//! Deliberately broken shapes for tolerant-parser tests: object arguments,
//! missing ids and `created`, truncated argument JSON.

use openlegion_mock_llm::{MockLlm, Quirks, ToolCall, Turn};
use serde_json::{Value, json};

use crate::support::{anthropic_request, http, openai_request, sse};

const OPENAI: &str = "/v1/chat/completions";
const ANTHROPIC: &str = "/v1/messages";

fn call_with(quirks: Quirks) -> Turn {
    Turn::tool_call("calc", json!({"a": 1})).with_quirks(quirks)
}

#[tokio::test]
async fn arguments_can_arrive_as_an_object() {
    let mock = MockLlm::start().await;
    let quirks = Quirks {
        arguments_as_object: true,
        ..Quirks::default()
    };
    mock.push(call_with(quirks));
    mock.push(call_with(quirks));
    let body = http::post(mock.addr(), OPENAI, &openai_request("m", false))
        .await
        .json();
    let function = &body["choices"][0]["message"]["tool_calls"][0]["function"];
    assert_eq!(function["arguments"], json!({"a": 1}));

    let response = http::post(mock.addr(), OPENAI, &openai_request("m", true)).await;
    let stream = sse::openai(&response.body);
    let heads: Vec<&Value> = stream
        .chunks
        .iter()
        .filter_map(|chunk| chunk["choices"][0]["delta"]["tool_calls"].get(0))
        .collect();
    assert_eq!(heads.len(), 1, "the whole object goes out in one chunk");
    assert_eq!(heads[0]["function"]["arguments"], json!({"a": 1}));
    assert!(stream.done);
}

#[tokio::test]
async fn ids_and_created_can_be_missing() {
    let mock = MockLlm::start().await;
    let quirks = Quirks {
        omit_id: true,
        omit_created: true,
        omit_tool_call_ids: true,
        ..Quirks::default()
    };
    mock.push(call_with(quirks));
    mock.push(call_with(quirks));
    mock.push(call_with(quirks));
    let body = http::post(mock.addr(), OPENAI, &openai_request("m", false))
        .await
        .json();
    assert_eq!(body.get("id"), None);
    assert_eq!(body.get("created"), None);
    assert_eq!(body["object"], "chat.completion");
    let call = &body["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(call.get("id"), None);
    assert_eq!(call["function"]["name"], "calc");

    let response = http::post(mock.addr(), OPENAI, &openai_request("m", true)).await;
    let stream = sse::openai(&response.body);
    assert!(
        stream
            .chunks
            .iter()
            .all(|c| c.get("id").is_none() && c.get("created").is_none())
    );
    assert_eq!(stream.calls[0].id, None);
    assert_eq!(stream.calls[0].arguments, r#"{"a":1}"#);

    let body = http::post(mock.addr(), ANTHROPIC, &anthropic_request("m", false))
        .await
        .json();
    assert_eq!(body.get("id"), None);
    assert_eq!(
        body["content"][0],
        json!({"type": "tool_use", "name": "calc", "input": {"a": 1}})
    );
}

#[tokio::test]
async fn argument_json_can_be_truncated() {
    let mock = MockLlm::start().await;
    let quirks = Quirks {
        malformed_arguments: true,
        ..Quirks::default()
    };
    for _ in 0..4 {
        mock.push(call_with(quirks));
    }
    let body = http::post(mock.addr(), OPENAI, &openai_request("m", false))
        .await
        .json();
    let arguments = &body["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"];
    assert_eq!(arguments, r#"{"a":1"#);
    assert!(serde_json::from_str::<Value>(arguments.as_str().unwrap()).is_err());

    let response = http::post(mock.addr(), OPENAI, &openai_request("m", true)).await;
    assert_eq!(sse::openai(&response.body).calls[0].arguments, r#"{"a":1"#);

    let body = http::post(mock.addr(), ANTHROPIC, &anthropic_request("m", false))
        .await
        .json();
    assert_eq!(
        body["content"][0]["input"], r#"{"a":1"#,
        "input becomes the broken text"
    );

    let response = http::post(mock.addr(), ANTHROPIC, &anthropic_request("m", true)).await;
    let stream = sse::anthropic(&response.body);
    assert_eq!(stream.calls[0].arguments, r#"{"a":1"#);
    assert_eq!(
        stream.names.last().map(String::as_str),
        Some("message_stop")
    );
}

#[test]
fn quirks_are_plain_json_options() {
    let turn: Turn = serde_json::from_value(json!({
        "type": "tool_calls",
        "calls": [{"name": "calc", "arguments": {"a": 1}}],
        "quirks": {"omit_created": true},
    }))
    .unwrap();
    let expected = Turn::tool_calls([ToolCall::new("calc", json!({"a": 1}))]).with_quirks(Quirks {
        omit_created: true,
        ..Quirks::default()
    });
    assert_eq!(turn, expected);
}
