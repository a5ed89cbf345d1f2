//! Provider deviations the client tolerates instead of failing the call: arguments sent
//! as an object, malformed argument JSON (kept verbatim for the agent to report), and
//! missing response ids, tool-call ids and `created`. Each is checked streamed and not,
//! and a call with a generated id must still be answerable by that id.

use openlegion_llm::{StreamEvent, ToolCall, chat, chat_stream};
use openlegion_mock_llm::{MockLlm, Quirks, Turn};
use serde_json::json;

use crate::*;

/// The one tool call of an answer, streamed or not; for a stream, also checks that the
/// `ToolCall` event and `Done` agree.
async fn only_call(endpoint: &Endpoint, request: &ChatRequest, stream: bool) -> ToolCall {
    let http = http();
    if !stream {
        let answer = chat(&http, endpoint, request).await.unwrap();
        assert_eq!(answer.tool_calls.len(), 1, "{answer:?}");
        return answer.tool_calls[0].clone();
    }
    let items = drain(chat_stream(&http, endpoint, request).await.unwrap()).await;
    match items.as_slice() {
        [Ok(StreamEvent::ToolCall(call)), Ok(StreamEvent::Done(done))] => {
            assert_eq!(done.tool_calls, std::slice::from_ref(call));
            call.clone()
        }
        other => panic!("expected one call then Done, got {other:?}"),
    }
}

fn quirky(quirks: Quirks) -> Turn {
    Turn::tool_call("get_weather", json!({"city": "Paris"})).with_quirks(quirks)
}

fn ask() -> ChatRequest {
    ChatRequest {
        tools: vec![weather_tool()],
        ..request("m", vec![user("Weather in Paris?")])
    }
}

#[tokio::test]
async fn openai_arguments_as_an_object_become_a_string() {
    let mock = MockLlm::start().await;
    for stream in [false, true] {
        mock.push(quirky(Quirks {
            arguments_as_object: true,
            ..Quirks::default()
        }));
        let call = only_call(&openai(&mock), &ask(), stream).await;
        assert_eq!(call.arguments, r#"{"city":"Paris"}"#);
        assert_eq!(call.parsed_arguments().unwrap()["city"], "Paris");
    }
}

#[tokio::test]
async fn malformed_arguments_are_kept_verbatim() {
    let mock = MockLlm::start().await;
    for endpoint in both(&mock) {
        for stream in [false, true] {
            mock.push(quirky(Quirks {
                malformed_arguments: true,
                ..Quirks::default()
            }));
            let call = only_call(&endpoint, &ask(), stream).await;
            assert_eq!(call.name, "get_weather");
            assert_eq!(
                call.arguments, r#"{"city":"Paris""#,
                "{} stream={stream}",
                endpoint.provider
            );
            assert!(call.parsed_arguments().is_err());
        }
    }
}

#[tokio::test]
async fn missing_ids_and_created_are_generated_or_ignored() {
    let mock = MockLlm::start().await;
    let quirks = Quirks {
        omit_id: true,
        omit_tool_call_ids: true,
        omit_created: true,
        ..Quirks::default()
    };
    for endpoint in both(&mock) {
        for stream in [false, true] {
            mock.push(quirky(quirks));
            let call = only_call(&endpoint, &ask(), stream).await;
            assert_eq!(
                call,
                crate::call("call_0", "get_weather", r#"{"city":"Paris"}"#),
                "{} stream={stream}",
                endpoint.provider
            );

            // The generated id is what the tool result answers, and the provider accepts it.
            mock.push(Turn::text("Sunny."));
            let mut follow_up = ask();
            follow_up.messages.push(assistant("", vec![call]));
            follow_up.messages.push(tool_result("call_0", "sunny"));
            let answer = chat(&http(), &endpoint, &follow_up).await.unwrap();
            assert_eq!(answer.content, "Sunny.");
        }
    }
}

#[tokio::test]
async fn openai_all_quirks_at_once_with_text() {
    let mock = MockLlm::start().await;
    let quirks = Quirks {
        arguments_as_object: true,
        omit_id: true,
        omit_tool_call_ids: true,
        omit_created: true,
        ..Quirks::default()
    };
    mock.push(quirky(quirks).with_text("One moment."));
    let answer = chat(&http(), &openai(&mock), &ask()).await.unwrap();
    assert_eq!(answer.content, "One moment.");
    assert_eq!(
        answer.tool_calls,
        [crate::call("call_0", "get_weather", r#"{"city":"Paris"}"#)]
    );
    assert_eq!(answer.stop_reason.as_deref(), Some("tool_calls"));
}
