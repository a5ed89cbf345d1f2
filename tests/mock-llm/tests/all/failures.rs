//! Scripted failures: HTTP errors, delays, hangs, cut streams, dropped
//! connections and non-JSON pages.

use std::time::{Duration, Instant};

use openlegion_mock_llm::{MockLlm, Turn};
use serde_json::json;

use crate::support::{anthropic_request, http, openai_request, sse};

const OPENAI: &str = "/v1/chat/completions";
const ANTHROPIC: &str = "/v1/messages";

#[tokio::test]
async fn errors_use_the_provider_error_shape() {
    let mock = MockLlm::start().await;
    mock.push(Turn::error(429).with_header("retry-after", "2"));
    mock.push(Turn::error(529));
    let response = http::post(mock.addr(), OPENAI, &openai_request("m", false)).await;
    assert_eq!(response.status, 429);
    assert_eq!(response.header("retry-after"), Some("2"));
    assert_eq!(
        response.json(),
        json!({"error": {
            "message": "mock-llm: scripted error 429",
            "type": "rate_limit_error",
            "param": null,
            "code": null,
        }})
    );
    let response = http::post(mock.addr(), ANTHROPIC, &anthropic_request("m", true)).await;
    assert_eq!(response.status, 529);
    assert_eq!(
        response.json(),
        json!({"type": "error", "error": {
            "type": "overloaded_error",
            "message": "mock-llm: scripted error 529",
        }})
    );
}

#[tokio::test]
async fn error_bodies_can_be_json_or_raw_text() {
    let mock = MockLlm::start().await;
    mock.push(Turn::error(500).with_body(json!({"detail": "boom"})));
    mock.push(Turn::error(502).with_body(json!("upstream died")));
    let response = http::post(mock.addr(), OPENAI, &openai_request("m", false)).await;
    assert_eq!(response.status, 500);
    assert_eq!(response.json(), json!({"detail": "boom"}));
    let response = http::post(mock.addr(), OPENAI, &openai_request("m", false)).await;
    assert_eq!(response.status, 502);
    assert_eq!(
        response.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(response.text(), "upstream died");
}

#[tokio::test]
async fn delayed_turns_answer_late() {
    let mock = MockLlm::start().await;
    mock.push(Turn::text("late").delayed(Duration::from_millis(300)));
    let started = Instant::now();
    let response = http::post(mock.addr(), OPENAI, &openai_request("m", true)).await;
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(300),
        "answered after {elapsed:?}"
    );
    assert_eq!(sse::openai(&response.body).text, "late");
}

#[tokio::test]
async fn hung_requests_time_out_on_the_client_and_leave_the_server_usable() {
    let mock = MockLlm::start().await;
    mock.push(Turn::hang());
    mock.push(Turn::text("after the hang"));
    let hung = tokio::time::timeout(
        Duration::from_millis(300),
        http::post(mock.addr(), OPENAI, &openai_request("m", false)),
    )
    .await;
    assert!(hung.is_err(), "a hang never answers");
    assert_eq!(mock.requests().len(), 1, "the hung request was recorded");
    let response = http::post(mock.addr(), OPENAI, &openai_request("m", false)).await;
    assert_eq!(
        response.json()["choices"][0]["message"]["content"],
        "after the hang"
    );
}

#[tokio::test]
async fn shutdown_drops_hung_connections_without_a_response() {
    let mock = MockLlm::start().await;
    mock.push(Turn::hang());
    let addr = mock.addr();
    let body = serde_json::to_vec(&openai_request("m", false)).unwrap();
    let client =
        tokio::spawn(async move { http::exchange(addr, "POST", OPENAI, &[], Some(&body)).await });
    while mock.requests().is_empty() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::timeout(Duration::from_secs(3), mock.shutdown())
        .await
        .expect("shutdown does not wait for the hang");
    let received = tokio::time::timeout(Duration::from_secs(3), client)
        .await
        .expect("the client's connection is closed")
        .unwrap();
    assert_eq!(received, b"", "no response bytes at all");
    let refused = tokio::net::TcpStream::connect(addr).await;
    assert!(refused.is_err(), "the port is closed after shutdown");
}

#[tokio::test]
async fn openai_stream_cut_has_no_terminal_chunk() {
    let mock = MockLlm::start().await;
    mock.push(Turn::stream_cut("one two three four five", 2));
    let response = http::post(mock.addr(), OPENAI, &openai_request("m", true)).await;
    assert_eq!(response.status, 200);
    assert!(!response.complete, "the chunked body never ends properly");
    let stream = sse::openai(&response.body);
    assert_eq!(stream.text, "one two ");
    assert_eq!(stream.text_deltas, 2);
    assert_eq!(stream.finish_reason, None);
    assert!(!stream.done, "no [DONE]");
}

#[tokio::test]
async fn anthropic_stream_cut_has_no_message_stop() {
    let mock = MockLlm::start().await;
    mock.push(Turn::stream_cut("alpha beta gamma", 1));
    let response = http::post(mock.addr(), ANTHROPIC, &anthropic_request("m", true)).await;
    assert!(!response.complete);
    let stream = sse::anthropic(&response.body);
    assert_eq!(
        stream.names,
        [
            "message_start",
            "ping",
            "content_block_start",
            "content_block_delta"
        ]
    );
    assert_eq!(stream.text, "alpha ");
}

#[tokio::test]
async fn unstreamed_cut_closes_the_connection_without_a_response() {
    let mock = MockLlm::start().await;
    mock.push(Turn::stream_cut("never seen", 3));
    mock.push(Turn::stream_cut("never seen", 0));
    let body = serde_json::to_vec(&openai_request("m", false)).unwrap();
    let raw = http::exchange(mock.addr(), "POST", OPENAI, &[], Some(&body)).await;
    assert_eq!(raw, b"", "not even a status line");
    let body = serde_json::to_vec(&anthropic_request("m", false)).unwrap();
    let raw = http::exchange(mock.addr(), "POST", ANTHROPIC, &[], Some(&body)).await;
    assert_eq!(raw, b"");
}

#[tokio::test]
async fn raw_turns_send_an_html_page() {
    let mock = MockLlm::start().await;
    let page = "<html><body><h1>502 Bad Gateway</h1></body></html>";
    mock.push(Turn::html(502, page));
    mock.push(Turn::raw(
        200,
        "application/json",
        "{\"not\": \"a completion\"",
    ));
    let response = http::post(mock.addr(), OPENAI, &openai_request("m", false)).await;
    assert_eq!(response.status, 502);
    assert_eq!(
        response.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(response.text(), page);
    let response = http::post(mock.addr(), ANTHROPIC, &anthropic_request("m", false)).await;
    assert_eq!(response.status, 200);
    assert_eq!(response.text(), "{\"not\": \"a completion\"");
}
