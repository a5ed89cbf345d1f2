//! OpenAI Chat Completions, JSON and streamed: exact shapes, reassembly of
//! text and tool-call argument fragments, usage, and request checks.

use openlegion_mock_llm::{MockLlm, ToolCall, Turn};
use serde_json::{Value, json};

use crate::support::{http, openai_request, sse};

const PATH: &str = "/v1/chat/completions";

fn prompt_tokens(body: &Value) -> u64 {
    let len = serde_json::to_vec(body).unwrap().len() as u64;
    len.div_ceil(4)
}

#[tokio::test]
async fn text_answer_has_the_chat_completion_shape() {
    let mock = MockLlm::start().await;
    mock.push(Turn::text("Hello there, friend."));
    let request = openai_request("gpt-test", false);
    let response = http::post(mock.addr(), PATH, &request).await;
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), Some("application/json"));
    let mut body = response.json();
    let id = body.as_object_mut().unwrap().remove("id").unwrap();
    assert!(id.as_str().unwrap().starts_with("chatcmpl-mock-"), "{id}");
    let created = body.as_object_mut().unwrap().remove("created").unwrap();
    assert!(created.as_u64().unwrap() > 1_700_000_000, "{created}");
    let prompt = prompt_tokens(&request);
    assert_eq!(
        body,
        json!({
            "object": "chat.completion",
            "model": "gpt-test",
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": "Hello there, friend."},
                "logprobs": null,
                "finish_reason": "stop",
            }],
            "usage": {"prompt_tokens": prompt, "completion_tokens": 5, "total_tokens": prompt + 5},
        })
    );
}

#[tokio::test]
async fn tool_calls_carry_arguments_as_json_strings() {
    let mock = MockLlm::start().await;
    let write = json!({"path": "notes/a.txt", "content": "hi \"there\""});
    mock.push(Turn::tool_calls([
        ToolCall::new("write_file", write.clone()).with_id("call_fixed"),
        ToolCall::new("read_file", json!({"path": "b.txt"})),
    ]));
    let response = http::post(mock.addr(), PATH, &openai_request("gpt-test", false)).await;
    assert_eq!(response.status, 200);
    let body = response.json();
    let choice = &body["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert_eq!(choice["message"]["content"], Value::Null);
    let calls = choice["message"]["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0]["id"], "call_fixed");
    assert_eq!(calls[0]["type"], "function");
    assert_eq!(calls[0]["function"]["name"], "write_file");
    let arguments = calls[0]["function"]["arguments"].as_str().unwrap();
    assert_eq!(serde_json::from_str::<Value>(arguments).unwrap(), write);
    assert!(calls[1]["id"].as_str().unwrap().starts_with("call_mock_"));
    assert_eq!(calls[1]["function"]["arguments"], r#"{"path":"b.txt"}"#);
}

#[tokio::test]
async fn streamed_text_arrives_word_by_word() {
    let mock = MockLlm::start().await;
    mock.push(Turn::text("The quick brown fox"));
    let response = http::post(mock.addr(), PATH, &openai_request("gpt-test", true)).await;
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), Some("text/event-stream"));
    assert!(response.complete, "a finished stream ends its chunked body");
    let stream = sse::openai(&response.body);
    assert_eq!(stream.text, "The quick brown fox");
    assert_eq!(stream.text_deltas, 4);
    assert_eq!(stream.finish_reason.as_deref(), Some("stop"));
    assert!(stream.done, "stream ends with [DONE]");
    assert_eq!(
        stream.usage, None,
        "no usage unless include_usage was asked for"
    );
    assert!(
        stream
            .chunks
            .iter()
            .all(|chunk| chunk.get("usage").is_none())
    );
    let first_id = &stream.chunks[0]["id"];
    assert!(stream.chunks.iter().all(|chunk| &chunk["id"] == first_id));
    assert_eq!(stream.chunks[0]["choices"][0]["delta"]["role"], "assistant");
    assert!(response.text().ends_with("data: [DONE]\n\n"));
}

#[tokio::test]
async fn stream_usage_comes_when_asked_and_can_be_scripted() {
    let mock = MockLlm::start().await;
    mock.push(Turn::text("abcdefghi").with_chunks(3).with_usage(11, 7));
    let mut request = openai_request("gpt-test", true);
    request["stream_options"] = json!({"include_usage": true});
    let response = http::post(mock.addr(), PATH, &request).await;
    let stream = sse::openai(&response.body);
    let deltas: Vec<&str> = stream
        .chunks
        .iter()
        .filter_map(|chunk| chunk["choices"][0]["delta"]["content"].as_str())
        .filter(|text| !text.is_empty())
        .collect();
    assert_eq!(deltas, ["abc", "def", "ghi"]);
    assert_eq!(
        stream.usage,
        Some(json!({"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}))
    );
    let last = stream.chunks.last().unwrap();
    assert_eq!(last["choices"], json!([]), "the usage chunk has no choices");
    assert!(stream.done);
}

#[tokio::test]
async fn streamed_tool_calls_reassemble_from_fragments() {
    let mock = MockLlm::start().await;
    let grep = json!({"pattern": "fn main", "paths": ["src", "tests"], "limit": 20});
    mock.push(
        Turn::tool_calls([
            ToolCall::new("grep", grep.clone()).with_id("call_a"),
            ToolCall::new("list_dir", json!({"path": "."})),
        ])
        .with_text("Let me look."),
    );
    let response = http::post(mock.addr(), PATH, &openai_request("gpt-test", true)).await;
    let stream = sse::openai(&response.body);
    assert_eq!(stream.text, "Let me look.");
    assert_eq!(stream.finish_reason.as_deref(), Some("tool_calls"));
    assert!(stream.done);
    assert_eq!(stream.calls.len(), 2);
    let first = &stream.calls[0];
    assert_eq!(
        (first.id.as_deref(), first.name.as_str()),
        (Some("call_a"), "grep")
    );
    assert_eq!(
        first.fragments, 3,
        "arguments are split over several chunks"
    );
    assert_eq!(
        serde_json::from_str::<Value>(&first.arguments).unwrap(),
        grep
    );
    let second = &stream.calls[1];
    assert!(second.id.as_deref().unwrap().starts_with("call_mock_"));
    assert_eq!(second.arguments, r#"{"path":"."}"#);
}

#[tokio::test]
async fn path_without_v1_is_served_too() {
    let mock = MockLlm::start().await;
    mock.push(Turn::text("ok"));
    let response = http::post(
        mock.addr(),
        "/chat/completions",
        &openai_request("m", false),
    )
    .await;
    assert_eq!(response.json()["choices"][0]["message"]["content"], "ok");
}

#[tokio::test]
async fn a_complete_tool_round_trip_is_accepted() {
    let mock = MockLlm::start().await;
    mock.push(Turn::text("The file says hi."));
    let request = json!({
        "model": "gpt-test",
        "tools": [{"type": "function", "function": {
            "name": "read_file", "description": "Read a file",
            "parameters": {"type": "object", "properties": {"path": {"type": "string"}}},
        }}],
        "messages": [
            {"role": "user", "content": "What is in a.txt?"},
            {"role": "assistant", "content": null, "tool_calls": [{
                "id": "call_1", "type": "function",
                "function": {"name": "read_file", "arguments": "{\"path\":\"a.txt\"}"},
            }]},
            {"role": "tool", "tool_call_id": "call_1", "content": "hi"},
        ],
    });
    let response = http::post(mock.addr(), PATH, &request).await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(
        response.json()["choices"][0]["message"]["content"],
        "The file says hi."
    );
}

#[tokio::test]
async fn broken_tool_chains_are_rejected_without_using_a_turn() {
    let mock = MockLlm::start().await;
    mock.push(Turn::text("never sent"));
    let orphan = json!({
        "model": "gpt-test",
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "tool", "tool_call_id": "call_9", "content": "result"},
        ],
    });
    let response = http::post(mock.addr(), PATH, &orphan).await;
    assert_eq!(response.status, 400);
    let error = &response.json()["error"];
    assert_eq!(error["type"], "invalid_request_error");
    assert_eq!(
        error["message"],
        "mock-llm: invalid request: messages[1] (tool) answers tool call `call_9`, which is not \
         an unanswered call of the preceding assistant message"
    );

    let unanswered = json!({
        "model": "gpt-test",
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "tool_calls": [{
                "id": "call_1", "type": "function",
                "function": {"name": "f", "arguments": "{}"},
            }]},
            {"role": "user", "content": "well?"},
        ],
    });
    let response = http::post(mock.addr(), PATH, &unanswered).await;
    assert_eq!(response.status, 400);
    assert_eq!(
        response.json()["error"]["message"],
        "mock-llm: invalid request: tool calls [\"call_1\"] have no `tool` message answering \
         them before messages[2]"
    );

    let object_arguments = json!({
        "model": "gpt-test",
        "messages": [
            {"role": "assistant", "tool_calls": [{
                "id": "call_1", "type": "function",
                "function": {"name": "f", "arguments": {"a": 1}},
            }]},
            {"role": "tool", "tool_call_id": "call_1", "content": "ok"},
        ],
    });
    let response = http::post(mock.addr(), PATH, &object_arguments).await;
    assert_eq!(response.status, 400);
    assert_eq!(
        response.json()["error"]["message"],
        "mock-llm: invalid request: messages[0].tool_calls[0].function.arguments must be a \
         JSON-encoded string"
    );

    let no_model = json!({"messages": [{"role": "user", "content": "hi"}]});
    let response = http::post(mock.addr(), PATH, &no_model).await;
    assert_eq!(response.status, 400);

    assert_eq!(
        mock.pending(),
        1,
        "rejected requests leave the script alone"
    );
    assert_eq!(
        mock.requests().len(),
        4,
        "rejected requests are still recorded"
    );
}
