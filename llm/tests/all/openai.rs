//! OpenAI-compatible Chat Completions: the tool-call round trip, streamed and not, with
//! the exact request bodies the provider receives.

use openlegion_llm::{ChatResponse, StreamEvent, Usage, chat, chat_stream};
use openlegion_mock_llm::{MockLlm, ToolCall as MockCall, Turn};
use serde_json::{Map, Value, json};

use crate::*;

const MODEL: &str = "gpt-test";

/// The request of both turns, before and after the tool ran.
fn conversation(tool_calls: Option<(&str, &str)>) -> ChatRequest {
    let mut messages = vec![system("You are terse."), user("Weather in Paris?")];
    if let Some((id, result)) = tool_calls {
        messages.push(assistant(
            "",
            vec![call(id, "get_weather", r#"{"city":"Paris"}"#)],
        ));
        messages.push(tool_result(id, result));
    }
    let mut extra = Map::new();
    extra.insert("seed".into(), json!(42));
    ChatRequest {
        tools: vec![weather_tool()],
        max_tokens: Some(200),
        temperature: Some(0.0),
        extra,
        ..request(MODEL, messages)
    }
}

fn expected_tools() -> Value {
    json!([{
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather in a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }])
}

fn expected_history(with_result: bool) -> Value {
    let mut messages = vec![
        json!({"role": "system", "content": "You are terse."}),
        json!({"role": "user", "content": "Weather in Paris?"}),
    ];
    if with_result {
        messages.push(json!({
            "role": "assistant",
            "content": null,
            "tool_calls": [{
                "id": "call_w1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"},
            }],
        }));
        messages.push(json!({"role": "tool", "tool_call_id": "call_w1", "content": "sunny, 24C"}));
    }
    Value::Array(messages)
}

fn script(mock: &MockLlm) {
    let weather = MockCall::new("get_weather", json!({"city": "Paris"})).with_id("call_w1");
    mock.push_for(MODEL, Turn::tool_calls([weather]).with_usage(30, 9));
    mock.push_for(MODEL, Turn::text("Sunny, 24C.").with_usage(45, 4));
}

#[tokio::test]
async fn tool_call_round_trip() {
    let mock = MockLlm::start().await;
    script(&mock);
    let http = http();
    let endpoint = openai(&mock);

    let first = chat(&http, &endpoint, &conversation(None)).await.unwrap();
    assert_eq!(
        first,
        ChatResponse {
            content: String::new(),
            tool_calls: vec![call("call_w1", "get_weather", r#"{"city":"Paris"}"#)],
            usage: Usage {
                input_tokens: 30,
                output_tokens: 9
            },
            model: MODEL.into(),
            stop_reason: Some("tool_calls".into()),
        }
    );
    let second = chat(
        &http,
        &endpoint,
        &conversation(Some(("call_w1", "sunny, 24C"))),
    )
    .await
    .unwrap();
    assert_eq!(
        second,
        ChatResponse {
            content: "Sunny, 24C.".into(),
            tool_calls: Vec::new(),
            usage: Usage {
                input_tokens: 45,
                output_tokens: 4
            },
            model: MODEL.into(),
            stop_reason: Some("stop".into()),
        }
    );

    let requests = mock.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].path, "/v1/chat/completions");
    assert_eq!(
        requests[0].header("authorization"),
        Some(format!("Bearer {OPENAI_KEY}").as_str())
    );
    for (recorded, with_result) in requests.iter().zip([false, true]) {
        assert_eq!(
            recorded.body,
            json!({
                "model": MODEL,
                "messages": expected_history(with_result),
                "tools": expected_tools(),
                "max_tokens": 200,
                "temperature": 0.0,
                "seed": 42,
            })
        );
    }
}

#[tokio::test]
async fn tool_call_round_trip_streamed() {
    let mock = MockLlm::start().await;
    script(&mock);
    let http = http();
    let endpoint = openai(&mock);
    let weather = call("call_w1", "get_weather", r#"{"city":"Paris"}"#);

    let stream = chat_stream(&http, &endpoint, &conversation(None))
        .await
        .unwrap();
    assert_eq!(
        drain(stream).await,
        [
            Ok(StreamEvent::ToolCall(weather.clone())),
            Ok(StreamEvent::Done(ChatResponse {
                content: String::new(),
                tool_calls: vec![weather],
                usage: Usage {
                    input_tokens: 30,
                    output_tokens: 9
                },
                model: MODEL.into(),
                stop_reason: Some("tool_calls".into()),
            })),
        ]
    );
    let request = conversation(Some(("call_w1", "sunny, 24C")));
    let items = drain(chat_stream(&http, &endpoint, &request).await.unwrap()).await;
    assert_eq!(deltas(&items), ["Sunny, ", "24C."]);
    assert_eq!(
        items.last(),
        Some(&Ok(StreamEvent::Done(ChatResponse {
            content: "Sunny, 24C.".into(),
            tool_calls: Vec::new(),
            usage: Usage {
                input_tokens: 45,
                output_tokens: 4
            },
            model: MODEL.into(),
            stop_reason: Some("stop".into()),
        })))
    );
    assert_eq!(items.len(), 3);

    let requests = mock.requests();
    assert_eq!(requests.len(), 2);
    for (recorded, with_result) in requests.iter().zip([false, true]) {
        assert_eq!(
            recorded.body,
            json!({
                "model": MODEL,
                "messages": expected_history(with_result),
                "tools": expected_tools(),
                "max_tokens": 200,
                "temperature": 0.0,
                "seed": 42,
                "stream": true,
                "stream_options": {"include_usage": true},
            })
        );
    }
}

#[tokio::test]
async fn text_before_tool_calls_and_several_calls() {
    let mock = MockLlm::start().await;
    let calls = [
        MockCall::new("get_weather", json!({"city": "Paris"})).with_id("c1"),
        MockCall::new("get_weather", json!({"city": "Rome"})).with_id("c2"),
    ];
    mock.push_for(
        MODEL,
        Turn::tool_calls(calls.clone()).with_text("Checking both."),
    );
    mock.push_for(MODEL, Turn::tool_calls(calls).with_text("Checking both."));
    let http = http();
    let endpoint = openai(&mock);
    let expected = vec![
        call("c1", "get_weather", r#"{"city":"Paris"}"#),
        call("c2", "get_weather", r#"{"city":"Rome"}"#),
    ];

    let plain = chat(&http, &endpoint, &conversation(None)).await.unwrap();
    assert_eq!(plain.content, "Checking both.");
    assert_eq!(plain.tool_calls, expected);

    let items = drain(
        chat_stream(&http, &endpoint, &conversation(None))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(deltas(&items), ["Checking ", "both."]);
    assert_eq!(items[2], Ok(StreamEvent::ToolCall(expected[0].clone())));
    assert_eq!(items[3], Ok(StreamEvent::ToolCall(expected[1].clone())));
    match &items[4] {
        Ok(StreamEvent::Done(done)) => {
            assert_eq!(done.content, "Checking both.");
            assert_eq!(done.tool_calls, expected);
        }
        other => panic!("expected Done, got {other:?}"),
    }
    assert_eq!(items.len(), 5);
}

#[tokio::test]
async fn keyless_endpoints_send_no_authorization() {
    let mock = MockLlm::start().await;
    mock.push(Turn::text("hi"));
    let endpoint = Endpoint {
        api_key: None,
        ..openai(&mock)
    };
    let answer = chat(&http(), &endpoint, &request("llama3", vec![user("hello")]))
        .await
        .unwrap();
    assert_eq!(answer.content, "hi");
    assert_eq!(mock.requests()[0].header("authorization"), None);
}
