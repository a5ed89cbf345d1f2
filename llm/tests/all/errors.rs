//! How failures come back, for both protocols, streamed and not: error statuses with the
//! provider's own message and `retry-after`, a success status with a body that is not the
//! protocol's JSON, the whole-call timeout, and an unreachable server. No error may quote
//! the endpoint's key.

use std::time::{Duration, Instant};

use openlegion_llm::{FailureKind, LlmError, chat, chat_stream};
use openlegion_mock_llm::{MockLlm, Turn};
use serde_json::json;

use crate::*;

/// The call's error, streamed or not (a streaming call fails before its stream starts),
/// after checking that no key leaked into it.
async fn failure(endpoint: &Endpoint, request: &ChatRequest, stream: bool) -> LlmError {
    let http = http();
    let error = if stream {
        chat_stream(&http, endpoint, request).await.err()
    } else {
        chat(&http, endpoint, request).await.err()
    };
    let error = error.expect("the call fails");
    for text in [format!("{error}"), format!("{error:?}")] {
        assert!(
            !text.contains(OPENAI_KEY) && !text.contains(ANTHROPIC_KEY),
            "{text}"
        );
    }
    error
}

fn hello() -> ChatRequest {
    request("m", vec![user("hello")])
}

fn status(provider: &str, status: u16, message: &str, retry_after: Option<u64>) -> LlmError {
    LlmError::Status {
        provider: provider.into(),
        status,
        message: message.into(),
        retry_after: retry_after.map(Duration::from_secs),
    }
}

#[tokio::test]
async fn service_unavailable_carries_retry_after() {
    let mock = MockLlm::start().await;
    for endpoint in both(&mock) {
        for stream in [false, true] {
            mock.push(Turn::error(503).with_header("retry-after", "7"));
            let error = failure(&endpoint, &hello(), stream).await;
            assert_eq!(
                error,
                status(
                    &endpoint.provider,
                    503,
                    "mock-llm: scripted error 503",
                    Some(7)
                )
            );
            assert_eq!(error.kind(), FailureKind::Transient);
        }
    }
}

#[tokio::test]
async fn bad_request_carries_the_providers_message() {
    let mock = MockLlm::start().await;
    let message = "max_tokens: 999999 > 8192, the maximum for this model";
    let bodies = [
        json!({"error": {"message": message, "type": "invalid_request_error", "param": null}}),
        json!({"type": "error", "error": {"type": "invalid_request_error", "message": message}}),
    ];
    for (endpoint, body) in both(&mock).into_iter().zip(bodies) {
        for stream in [false, true] {
            mock.push(Turn::error(400).with_body(body.clone()));
            let error = failure(&endpoint, &hello(), stream).await;
            assert_eq!(error, status(&endpoint.provider, 400, message, None));
            assert_eq!(error.kind(), FailureKind::Permanent);
        }
    }
}

#[tokio::test]
async fn unauthorized_is_an_auth_failure() {
    let mock = MockLlm::start().await;
    for endpoint in both(&mock) {
        for stream in [false, true] {
            mock.push(Turn::error(401));
            let error = failure(&endpoint, &hello(), stream).await;
            assert_eq!(
                error,
                status(
                    &endpoint.provider,
                    401,
                    "mock-llm: scripted error 401",
                    None
                )
            );
            assert_eq!(error.kind(), FailureKind::Auth);
        }
    }
}

#[tokio::test]
async fn a_request_the_provider_rejects_names_the_problem() {
    let mock = MockLlm::start().await;
    // A tool result that answers no call: both providers refuse it.
    let request = request("m", vec![user("hello"), tool_result("nope", "42")]);
    let expected = [
        "mock-llm: invalid request: messages[1] (tool) answers tool call `nope`, which is not an \
         unanswered call of the preceding assistant message",
        "mock-llm: invalid request: messages[1].content[0] answers tool_use `nope`, which is not \
         an unanswered tool_use of the preceding assistant message",
    ];
    for (endpoint, message) in both(&mock).into_iter().zip(expected) {
        let error = failure(&endpoint, &request, false).await;
        assert_eq!(error, status(&endpoint.provider, 400, message, None));
    }
    assert_eq!(mock.pending(), 0);
}

#[tokio::test]
async fn a_plain_text_error_body_is_quoted_up_to_300_characters() {
    let mock = MockLlm::start().await;
    let body = "upstream connect error or disconnect/reset before headers. ".repeat(10);
    for endpoint in both(&mock) {
        mock.push(Turn::error(502).with_body(json!(body)));
        let error = failure(&endpoint, &hello(), false).await;
        let expected: String = body.chars().take(300).collect();
        assert_eq!(error, status(&endpoint.provider, 502, &expected, None));
    }
}

#[tokio::test]
async fn an_html_page_with_200_is_an_invalid_response() {
    let mock = MockLlm::start().await;
    let page = "<!DOCTYPE html>\n<html><body><h1>Welcome to nginx!</h1></body></html>";
    for endpoint in both(&mock) {
        for stream in [false, true] {
            mock.push(Turn::html(200, page));
            let error = failure(&endpoint, &hello(), stream).await;
            assert_eq!(
                error,
                LlmError::InvalidResponse {
                    provider: endpoint.provider.clone(),
                    message: "expected JSON, got content type `text/html; charset=utf-8` \
                              (expected value at line 1 column 1): <!DOCTYPE html> <html><body>\
                              <h1>Welcome to nginx!</h1></body></html>"
                        .into(),
                }
            );
        }
    }
}

#[tokio::test]
async fn a_hang_times_out_at_the_requests_timeout() {
    let mock = MockLlm::start().await;
    let request = ChatRequest {
        timeout: Duration::from_millis(300),
        ..hello()
    };
    for endpoint in both(&mock) {
        mock.push(Turn::hang());
        let started = Instant::now();
        let error = failure(&endpoint, &request, false).await;
        let elapsed = started.elapsed();
        assert_eq!(
            error,
            LlmError::Timeout {
                provider: endpoint.provider.clone(),
                after: Duration::from_millis(300),
            }
        );
        assert!(
            elapsed >= Duration::from_millis(300) && elapsed < Duration::from_secs(3),
            "{elapsed:?}"
        );
        assert_eq!(error.kind(), FailureKind::Transient);
    }
}

#[tokio::test]
async fn the_timeout_covers_a_slow_answer_not_just_the_connection() {
    let mock = MockLlm::start().await;
    let request = ChatRequest {
        timeout: Duration::from_millis(300),
        ..hello()
    };
    mock.push(Turn::text("late").delayed(Duration::from_secs(2)));
    let error = failure(&openai(&mock), &request, false).await;
    assert!(matches!(error, LlmError::Timeout { .. }), "{error:?}");
}

#[tokio::test]
async fn a_dropped_connection_is_a_network_error() {
    let mock = MockLlm::start().await;
    for endpoint in both(&mock) {
        // Not streamed, a cut turn drops the connection before any response.
        mock.push(Turn::stream_cut("lost", 0));
        let error = failure(&endpoint, &hello(), false).await;
        match &error {
            LlmError::Network { provider, .. } => assert_eq!(provider, &endpoint.provider),
            other => panic!("expected Network, got {other:?}"),
        }
        assert_eq!(error.kind(), FailureKind::Transient);
    }
}

#[tokio::test]
async fn an_unreachable_server_is_a_network_error() {
    // A port that was free a moment ago and has no listener now.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    for protocol in [Protocol::OpenAi, Protocol::Anthropic] {
        let endpoint = Endpoint {
            provider: "nowhere".into(),
            protocol,
            base_url: format!("http://{addr}"),
            api_key: Some(Secret::new(OPENAI_KEY)),
        };
        for stream in [false, true] {
            let error = failure(&endpoint, &hello(), stream).await;
            match &error {
                LlmError::Network { provider, message } => {
                    assert_eq!(provider, "nowhere");
                    assert!(!message.contains(&addr.to_string()), "no URL: {message}");
                }
                other => panic!("expected Network, got {other:?}"),
            }
        }
    }
}
