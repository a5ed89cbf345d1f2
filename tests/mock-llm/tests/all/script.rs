//! The script itself: per-model queues, exhaustion, the JSON form of turns,
//! and the request log.

use std::time::{SystemTime, UNIX_EPOCH};

use openlegion_mock_llm::{Api, MockLlm, Quirks, Script, ToolCall, Turn, Usage};
use serde_json::json;

use crate::support::{anthropic_request, http, openai_request};

const OPENAI: &str = "/v1/chat/completions";

async fn ask(mock: &MockLlm, model: &str) -> http::Response {
    http::post(mock.addr(), OPENAI, &openai_request(model, false)).await
}

fn content(response: &http::Response) -> String {
    response.json()["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn models_with_their_own_queue_never_use_the_default_one() {
    let mock = MockLlm::start().await;
    mock.push(Turn::text("default one"));
    mock.push(Turn::text("default two"));
    mock.push_for("small", Turn::text("small one"));
    assert_eq!(content(&ask(&mock, "small").await), "small one");
    assert_eq!(content(&ask(&mock, "big").await), "default one");
    let exhausted = ask(&mock, "small").await;
    assert_eq!(exhausted.status, 500);
    assert_eq!(
        exhausted.json(),
        json!({"error": {
            "message": "mock-llm: script exhausted for model `small` (its own queue is empty)",
            "type": "mock_script_exhausted",
            "param": null,
            "code": null,
        }})
    );
    assert_eq!(content(&ask(&mock, "other").await), "default two");
    assert_eq!(mock.pending(), 0);
}

#[tokio::test]
async fn an_empty_script_says_so_for_the_model_asked() {
    let mock = MockLlm::start().await;
    let response = ask(&mock, "gpt-x").await;
    assert_eq!(response.status, 500);
    assert_eq!(
        response.json()["error"]["message"],
        "mock-llm: script exhausted for model `gpt-x` (it has no queue of its own and the \
         default queue is empty)"
    );
    let response = http::post(
        mock.addr(),
        "/v1/messages",
        &anthropic_request("claude-x", false),
    )
    .await;
    assert_eq!(response.status, 500);
    assert_eq!(response.json()["type"], "error");
    assert_eq!(response.json()["error"]["type"], "mock_script_exhausted");
}

#[tokio::test]
async fn script_and_load_queue_several_turns() {
    let mock = MockLlm::start().await;
    mock.script(Some("a"), [Turn::text("a1"), Turn::text("a2")]);
    mock.load(Script {
        model: None,
        turns: vec![Turn::text("d1")],
    });
    assert_eq!(mock.pending(), 3);
    assert_eq!(content(&ask(&mock, "a").await), "a1");
    assert_eq!(content(&ask(&mock, "a").await), "a2");
    assert_eq!(content(&ask(&mock, "z").await), "d1");
}

#[tokio::test]
async fn every_request_is_recorded() {
    let mock = MockLlm::start().await;
    mock.push(Turn::text("one"));
    mock.push(Turn::text("two"));
    let before = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let request = openai_request("gpt-a", false);
    let auth = [("Authorization", "Bearer sk-test-123")];
    http::post_with(mock.addr(), OPENAI, &auth, &request).await;
    http::post(mock.addr(), OPENAI, &openai_request("gpt-b", true)).await;

    let all = mock.requests();
    assert_eq!(all.len(), 2);
    let first = &all[0];
    assert_eq!(first.api, Api::OpenAi);
    assert_eq!(
        (first.method.as_str(), first.path.as_str()),
        ("POST", OPENAI)
    );
    assert_eq!(first.header("authorization"), Some("Bearer sk-test-123"));
    assert_eq!(
        first.headers.get("content-type").map(String::as_str),
        Some("application/json")
    );
    assert_eq!(first.model.as_deref(), Some("gpt-a"));
    assert!(!first.stream);
    assert_eq!(first.body, request);
    assert!(first.received_at_ms >= before);
    assert!(all[1].stream);

    let only_b = mock.requests_for("gpt-b");
    assert_eq!(only_b.len(), 1);
    assert_eq!(only_b[0].model.as_deref(), Some("gpt-b"));

    mock.clear();
    assert!(mock.requests().is_empty());
}

#[tokio::test]
async fn reset_forgets_turns_and_requests() {
    let mock = MockLlm::start().await;
    mock.push(Turn::text("x"));
    mock.push_for("m", Turn::text("y"));
    ask(&mock, "q").await;
    mock.reset();
    assert_eq!((mock.pending(), mock.requests().len()), (0, 0));
    assert_eq!(ask(&mock, "m").await.status, 500);
}

#[tokio::test]
async fn bodies_that_are_not_json_are_rejected_and_recorded() {
    let mock = MockLlm::start().await;
    let raw = http::exchange(mock.addr(), "POST", OPENAI, &[], Some(b"{nope")).await;
    let response = http::parse(&raw).unwrap();
    assert_eq!(response.status, 400);
    let message = response.json()["error"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        message.starts_with("mock-llm: invalid request: body is not JSON"),
        "{message}"
    );
    assert_eq!(mock.requests()[0].body, serde_json::Value::Null);
}

#[tokio::test]
async fn unknown_routes_say_which_route() {
    let mock = MockLlm::start().await;
    let response = http::post(mock.addr(), "/v2/chat", &json!({})).await;
    assert_eq!(response.status, 404);
    assert_eq!(
        response.json()["error"]["message"],
        "mock-llm: no route for POST /v2/chat"
    );
}

#[test]
fn turns_have_a_tagged_json_form() {
    let turns: Vec<Turn> = serde_json::from_value(json!([
        {"type": "text", "text": "hi"},
        {"type": "text", "text": "hi", "chunks": 2, "usage": {"prompt_tokens": 3}},
        {"type": "tool_calls", "text": "pre", "calls": [
            {"id": "c1", "name": "f", "arguments": {"x": [1, 2]}},
        ]},
        {"type": "error", "status": 429, "headers": {"retry-after": "1"}},
        {"type": "error", "status": 500, "body": "plain"},
        {"type": "delay", "ms": 250, "then": {"type": "hang"}},
        {"type": "stream_cut", "text": "a b c", "after_deltas": 2},
        {"type": "raw", "status": 502, "content_type": "text/html", "body": "<p>x</p>"},
    ]))
    .unwrap();
    let expected = vec![
        Turn::text("hi"),
        Turn::Text {
            text: "hi".into(),
            chunks: Some(2),
            usage: Usage {
                prompt_tokens: Some(3),
                completion_tokens: None,
            },
            quirks: Quirks::default(),
        },
        Turn::tool_calls([ToolCall::new("f", json!({"x": [1, 2]})).with_id("c1")]).with_text("pre"),
        Turn::error(429).with_header("retry-after", "1"),
        Turn::error(500).with_body(json!("plain")),
        Turn::hang().delayed(std::time::Duration::from_millis(250)),
        Turn::stream_cut("a b c", 2),
        Turn::raw(502, "text/html", "<p>x</p>"),
    ];
    assert_eq!(turns, expected);
    assert_eq!(
        serde_json::to_value(Turn::text("hi")).unwrap(),
        json!({"type": "text", "text": "hi"})
    );
    assert_eq!(
        serde_json::to_value(Turn::tool_call("f", json!({}))).unwrap(),
        json!({"type": "tool_calls", "calls": [{"name": "f", "arguments": {}}]})
    );
}

#[test]
#[should_panic(expected = "with_header applies to error turns")]
fn modifiers_that_do_not_fit_the_turn_panic() {
    let _ = Turn::text("hi").with_header("retry-after", "1");
}

#[test]
fn answer_modifiers_reach_through_delays() {
    let turn = Turn::text("hi")
        .delayed(std::time::Duration::from_millis(5))
        .with_chunks(2);
    assert_eq!(
        serde_json::to_value(turn).unwrap(),
        json!({"type": "delay", "ms": 5, "then": {"type": "text", "text": "hi", "chunks": 2}})
    );
}
