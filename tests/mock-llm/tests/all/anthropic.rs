//! Anthropic Messages, JSON and streamed: exact shapes, the named event
//! sequence, reassembly of `input_json_delta` fragments, and request checks.

use openlegion_mock_llm::{MockLlm, ToolCall, Turn};
use serde_json::{Value, json};

use crate::support::{anthropic_request, http, sse};

const PATH: &str = "/v1/messages";

fn input_tokens(body: &Value) -> u64 {
    (serde_json::to_vec(body).unwrap().len() as u64).div_ceil(4)
}

#[tokio::test]
async fn text_answer_has_the_message_shape() {
    let mock = MockLlm::start().await;
    mock.push(Turn::text("Hi there"));
    let request = anthropic_request("claude-test", false);
    let response = http::post(mock.addr(), PATH, &request).await;
    assert_eq!(response.status, 200);
    let mut body = response.json();
    let id = body.as_object_mut().unwrap().remove("id").unwrap();
    assert!(id.as_str().unwrap().starts_with("msg_mock_"), "{id}");
    assert_eq!(
        body,
        json!({
            "type": "message",
            "role": "assistant",
            "model": "claude-test",
            "content": [{"type": "text", "text": "Hi there"}],
            "stop_reason": "end_turn",
            "stop_sequence": null,
            "usage": {"input_tokens": input_tokens(&request), "output_tokens": 2},
        })
    );
}

#[tokio::test]
async fn tool_use_blocks_follow_the_preamble() {
    let mock = MockLlm::start().await;
    let input = json!({"path": "a.txt", "content": "x"});
    mock.push(
        Turn::tool_calls([
            ToolCall::new("write_file", input.clone()).with_id("toolu_fixed"),
            ToolCall::new("noop", Value::Null),
        ])
        .with_text("Writing it."),
    );
    let response = http::post(mock.addr(), PATH, &anthropic_request("claude-test", false)).await;
    let body = response.json();
    assert_eq!(body["stop_reason"], "tool_use");
    let content = body["content"].as_array().unwrap();
    assert_eq!(content.len(), 3);
    assert_eq!(content[0], json!({"type": "text", "text": "Writing it."}));
    assert_eq!(
        content[1],
        json!({"type": "tool_use", "id": "toolu_fixed", "name": "write_file", "input": input})
    );
    assert!(
        content[2]["id"]
            .as_str()
            .unwrap()
            .starts_with("toolu_mock_")
    );
    assert_eq!(
        content[2]["input"],
        json!({}),
        "missing arguments become {{}}"
    );
}

#[tokio::test]
async fn streamed_text_uses_the_named_event_sequence() {
    let mock = MockLlm::start().await;
    mock.push(Turn::text("One two three"));
    let request = anthropic_request("claude-test", true);
    let response = http::post(mock.addr(), PATH, &request).await;
    assert_eq!(response.header("content-type"), Some("text/event-stream"));
    assert!(response.complete);
    let stream = sse::anthropic(&response.body);
    assert_eq!(
        stream.names,
        [
            "message_start",
            "ping",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop",
        ]
    );
    assert_eq!(stream.text, "One two three");
    assert_eq!(stream.text_deltas, 3);
    assert_eq!(stream.stop_reason.as_deref(), Some("end_turn"));
    assert_eq!(stream.input_tokens, Some(input_tokens(&request)));
    assert_eq!(stream.output_tokens, Some(4));
    assert!(stream.message_id.unwrap().starts_with("msg_mock_"));
    assert!(response.text().starts_with("event: message_start\ndata: {"));
}

#[tokio::test]
async fn streamed_tool_input_reassembles_from_partial_json() {
    let mock = MockLlm::start().await;
    let first = json!({"query": "rust sse parser", "max_results": 5});
    mock.push(
        Turn::tool_calls([
            ToolCall::new("web_search", first.clone()).with_id("toolu_a"),
            ToolCall::new("read_file", json!({"path": "README.md"})),
        ])
        .with_text("Searching.")
        .with_usage(40, 9),
    );
    let response = http::post(mock.addr(), PATH, &anthropic_request("claude-test", true)).await;
    let stream = sse::anthropic(&response.body);
    assert_eq!(stream.text, "Searching.");
    assert_eq!(stream.stop_reason.as_deref(), Some("tool_use"));
    assert_eq!(
        (stream.input_tokens, stream.output_tokens),
        (Some(40), Some(9))
    );
    assert_eq!(stream.calls.len(), 2);
    assert_eq!(stream.calls[0].id.as_deref(), Some("toolu_a"));
    assert_eq!(stream.calls[0].name, "web_search");
    assert_eq!(stream.calls[0].fragments, 3);
    assert_eq!(
        serde_json::from_str::<Value>(&stream.calls[0].arguments).unwrap(),
        first
    );
    assert_eq!(stream.calls[1].arguments, r#"{"path":"README.md"}"#);
    let starts = stream
        .names
        .iter()
        .filter(|name| *name == "content_block_start")
        .count();
    let stops = stream
        .names
        .iter()
        .filter(|name| *name == "content_block_stop")
        .count();
    assert_eq!(
        (starts, stops),
        (3, 3),
        "one text block and two tool blocks"
    );
    assert_eq!(
        stream.names.last().map(String::as_str),
        Some("message_stop")
    );
}

#[tokio::test]
async fn tool_results_must_answer_the_previous_tool_use() {
    let mock = MockLlm::start().await;
    mock.push(Turn::text("Done."));
    let mut request = anthropic_request("claude-test", false);
    request["tools"] = json!([{
        "name": "read_file",
        "description": "Read a file",
        "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}},
    }]);
    request["system"] = json!([{"type": "text", "text": "Be brief."}]);
    request["messages"] = json!([
        {"role": "user", "content": "Read a.txt"},
        {"role": "assistant", "content": [
            {"type": "text", "text": "Reading."},
            {"type": "tool_use", "id": "toolu_1", "name": "read_file", "input": {"path": "a.txt"}},
        ]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "hello"},
        ]},
    ]);
    let response = http::post(mock.addr(), PATH, &request).await;
    assert_eq!(response.status, 200, "{}", response.text());

    request["messages"][2]["content"][0]["tool_use_id"] = json!("toolu_other");
    let response = http::post(mock.addr(), PATH, &request).await;
    assert_eq!(response.status, 400);
    assert_eq!(
        response.json(),
        json!({"type": "error", "error": {
            "type": "invalid_request_error",
            "message": "mock-llm: invalid request: messages[2].content[0] answers tool_use \
                        `toolu_other`, which is not an unanswered tool_use of the preceding \
                        assistant message",
        }})
    );
}

#[tokio::test]
async fn max_tokens_is_required() {
    let mock = MockLlm::start().await;
    mock.push(Turn::text("unused"));
    let mut request = anthropic_request("claude-test", false);
    request.as_object_mut().unwrap().remove("max_tokens");
    let response = http::post(mock.addr(), PATH, &request).await;
    assert_eq!(response.status, 400);
    assert_eq!(
        response.json()["error"]["message"],
        "mock-llm: invalid request: `max_tokens` must be a positive integer"
    );
    assert_eq!(mock.pending(), 1);
}

#[tokio::test]
async fn api_key_and_version_headers_are_recorded() {
    let mock = MockLlm::start().await;
    mock.push(Turn::text("ok"));
    let headers = [
        ("x-api-key", "sk-ant-test"),
        ("anthropic-version", "2023-06-01"),
    ];
    let request = anthropic_request("claude-test", true);
    let response = http::post_with(mock.addr(), PATH, &headers, &request).await;
    assert_eq!(response.status, 200);
    let recorded = mock.requests();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].header("X-Api-Key"), Some("sk-ant-test"));
    assert_eq!(recorded[0].header("anthropic-version"), Some("2023-06-01"));
    assert!(recorded[0].stream);
    assert_eq!(recorded[0].body, request);
    assert_eq!(recorded[0].path, PATH);
}
