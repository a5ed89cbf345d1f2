//! Anthropic Messages: the tool-call round trip, streamed and not, with the exact request
//! bodies (system lifted out, `tool_use` / `tool_result` blocks, `max_tokens` always set,
//! only Messages parameters from `extra`) and headers the provider receives.

use openlegion_llm::{ChatResponse, StreamEvent, Usage, chat, chat_stream};
use openlegion_mock_llm::{MockLlm, ToolCall as MockCall, Turn};
use serde_json::{Map, Value, json};

use crate::*;

const MODEL: &str = "claude-test";

fn conversation(tool_calls: Option<(&str, &str)>) -> ChatRequest {
    let mut messages = vec![
        system("You are terse."),
        user("Weather in Paris?"),
        system("Answer in English."),
    ];
    if let Some((id, result)) = tool_calls {
        messages.push(assistant(
            "Let me check.",
            vec![call(id, "get_weather", r#"{"city":"Paris"}"#)],
        ));
        messages.push(tool_result(id, result));
    }
    let mut extra = Map::new();
    extra.insert("top_p".into(), json!(0.9));
    extra.insert("seed".into(), json!(42));
    extra.insert("stop".into(), json!(["END"]));
    ChatRequest {
        tools: vec![weather_tool()],
        temperature: Some(0.0),
        extra,
        ..request(MODEL, messages)
    }
}

fn expected_body(with_result: bool, stream: bool) -> Value {
    let mut messages = vec![json!({"role": "user", "content": "Weather in Paris?"})];
    if with_result {
        messages.push(json!({"role": "assistant", "content": [
            {"type": "text", "text": "Let me check."},
            {"type": "tool_use", "id": "toolu_w1", "name": "get_weather", "input": {"city": "Paris"}},
        ]}));
        messages.push(json!({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_w1", "content": "sunny, 24C"},
        ]}));
    }
    let mut body = json!({
        "model": MODEL,
        "max_tokens": 4096,
        "system": "You are terse.\n\nAnswer in English.",
        "messages": messages,
        "tools": [{
            "name": "get_weather",
            "description": "Current weather in a city",
            "input_schema": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        }],
        "temperature": 0.0,
        "top_p": 0.9,
        "stop_sequences": ["END"],
    });
    if stream {
        body["stream"] = json!(true);
    }
    body
}

fn script(mock: &MockLlm) {
    let weather = MockCall::new("get_weather", json!({"city": "Paris"})).with_id("toolu_w1");
    mock.push_for(
        MODEL,
        Turn::tool_calls([weather])
            .with_text("Let me check.")
            .with_usage(30, 9),
    );
    mock.push_for(MODEL, Turn::text("Sunny, 24C.").with_usage(45, 4));
}

fn weather() -> openlegion_llm::ToolCall {
    call("toolu_w1", "get_weather", r#"{"city":"Paris"}"#)
}

fn first_answer() -> ChatResponse {
    ChatResponse {
        content: "Let me check.".into(),
        tool_calls: vec![weather()],
        usage: Usage {
            input_tokens: 30,
            output_tokens: 9,
        },
        model: MODEL.into(),
        stop_reason: Some("tool_use".into()),
    }
}

fn final_answer() -> ChatResponse {
    ChatResponse {
        content: "Sunny, 24C.".into(),
        tool_calls: Vec::new(),
        usage: Usage {
            input_tokens: 45,
            output_tokens: 4,
        },
        model: MODEL.into(),
        stop_reason: Some("end_turn".into()),
    }
}

#[tokio::test]
async fn tool_call_round_trip() {
    let mock = MockLlm::start().await;
    script(&mock);
    let http = http();
    let endpoint = anthropic(&mock);

    let first = chat(&http, &endpoint, &conversation(None)).await.unwrap();
    assert_eq!(first, first_answer());
    let request = conversation(Some(("toolu_w1", "sunny, 24C")));
    assert_eq!(
        chat(&http, &endpoint, &request).await.unwrap(),
        final_answer()
    );

    let requests = mock.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].path, "/v1/messages");
    assert_eq!(requests[0].header("x-api-key"), Some(ANTHROPIC_KEY));
    assert_eq!(requests[0].header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(requests[0].header("authorization"), None);
    assert_eq!(requests[0].body, expected_body(false, false));
    assert_eq!(requests[1].body, expected_body(true, false));
}

#[tokio::test]
async fn tool_call_round_trip_streamed() {
    let mock = MockLlm::start().await;
    script(&mock);
    let http = http();
    let endpoint = anthropic(&mock);

    let items = drain(
        chat_stream(&http, &endpoint, &conversation(None))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        items,
        [
            Ok(StreamEvent::TextDelta("Let ".into())),
            Ok(StreamEvent::TextDelta("me ".into())),
            Ok(StreamEvent::TextDelta("check.".into())),
            Ok(StreamEvent::ToolCall(weather())),
            Ok(StreamEvent::Done(first_answer())),
        ]
    );
    let request = conversation(Some(("toolu_w1", "sunny, 24C")));
    let items = drain(chat_stream(&http, &endpoint, &request).await.unwrap()).await;
    assert_eq!(
        items,
        [
            Ok(StreamEvent::TextDelta("Sunny, ".into())),
            Ok(StreamEvent::TextDelta("24C.".into())),
            Ok(StreamEvent::Done(final_answer())),
        ]
    );

    let requests = mock.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].body, expected_body(false, true));
    assert_eq!(requests[1].body, expected_body(true, true));
}

#[tokio::test]
async fn parallel_tool_results_go_back_in_one_user_message() {
    let mock = MockLlm::start().await;
    let calls = [
        MockCall::new("get_weather", json!({"city": "Paris"})).with_id("t1"),
        MockCall::new("get_weather", json!({"city": "Rome"})).with_id("t2"),
    ];
    mock.push_for(MODEL, Turn::tool_calls(calls));
    mock.push_for(MODEL, Turn::text("Both sunny."));
    let http = http();
    let endpoint = anthropic(&mock);

    let mut history = vec![user("Paris and Rome?")];
    let first = chat(&http, &endpoint, &request(MODEL, history.clone()))
        .await
        .unwrap();
    assert_eq!(first.content, "");
    assert_eq!(
        first.tool_calls,
        [
            call("t1", "get_weather", r#"{"city":"Paris"}"#),
            call("t2", "get_weather", r#"{"city":"Rome"}"#),
        ]
    );
    history.push(assistant("", first.tool_calls));
    history.push(tool_result("t1", "sunny"));
    history.push(tool_result("t2", "sunny too"));
    let second = chat(&http, &endpoint, &request(MODEL, history))
        .await
        .unwrap();
    assert_eq!(second.content, "Both sunny.");

    let body = &mock.requests()[1].body;
    assert_eq!(
        body["messages"],
        json!([
            {"role": "user", "content": "Paris and Rome?"},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "t1", "name": "get_weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "t2", "name": "get_weather", "input": {"city": "Rome"}},
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "t1", "content": "sunny"},
                {"type": "tool_result", "tool_use_id": "t2", "content": "sunny too"},
            ]},
        ])
    );
    assert_eq!(body.get("tools"), None);
    assert_eq!(body.get("system"), None);
}
