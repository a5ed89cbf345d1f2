//! Streaming for both protocols: deltas that join to the answer, how a stream ends (a
//! cut, a clean end without the final event, the deadline, an error event), and servers
//! that answer a streaming request with one JSON body.

use std::time::{Duration, Instant};

use openlegion_llm::{ChatResponse, LlmError, StreamEvent, Usage, chat_stream};
use openlegion_mock_llm::{MockLlm, Turn};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::*;

const ANSWER: &str = "The quick brown fox jumps over the lazy dog";

#[tokio::test]
async fn text_arrives_in_several_deltas_that_join_to_the_answer() {
    let mock = MockLlm::start().await;
    let http = http();
    for endpoint in both(&mock) {
        mock.push(Turn::text(ANSWER).with_chunks(4).with_usage(10, 9));
        let stream = chat_stream(&http, &endpoint, &request("m", vec![user("hi")]))
            .await
            .unwrap();
        let items = drain(stream).await;
        let deltas = deltas(&items);
        assert_eq!(
            deltas,
            ["The quick ", "brown fox j", "umps over t", "he lazy dog"],
            "{}",
            endpoint.provider
        );
        assert_eq!(deltas.concat(), ANSWER);
        assert_eq!(items.len(), 5, "{}: {items:?}", endpoint.provider);
        let stop_reason = match endpoint.protocol {
            Protocol::OpenAi => "stop",
            Protocol::Anthropic => "end_turn",
        };
        assert_eq!(
            items[4],
            Ok(StreamEvent::Done(ChatResponse {
                content: ANSWER.into(),
                tool_calls: Vec::new(),
                usage: Usage {
                    input_tokens: 10,
                    output_tokens: 9
                },
                model: "m".into(),
                stop_reason: Some(stop_reason.into()),
            }))
        );
    }
}

#[tokio::test]
async fn a_cut_stream_ends_with_stream_cut_after_the_deltas_it_got() {
    let mock = MockLlm::start().await;
    let http = http();
    for endpoint in both(&mock) {
        mock.push(Turn::stream_cut(ANSWER, 3));
        let stream = chat_stream(&http, &endpoint, &request("m", vec![user("hi")]))
            .await
            .unwrap();
        let items = drain(stream).await;
        assert_eq!(items.len(), 4, "{}: {items:?}", endpoint.provider);
        assert_eq!(deltas(&items), ["The ", "quick ", "brown "]);
        match &items[3] {
            Err(LlmError::StreamCut { provider, message }) => {
                assert_eq!(provider, &endpoint.provider);
                assert!(
                    message.starts_with("the connection broke: "),
                    "{provider}: {message}"
                );
            }
            other => panic!("{}: expected StreamCut, got {other:?}", endpoint.provider),
        }
    }
}

#[tokio::test]
async fn a_body_that_ends_before_the_final_event_is_a_cut() {
    let mock = MockLlm::start().await;
    let http = http();
    let openai_body = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\n";
    let anthropic_body = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"m\",\"usage\":{\"input_tokens\":3}}}\n\n\
        event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n\
        event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hel\"}}\n\n\
        event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":1}}\n\n";
    for (endpoint, body, awaited) in [
        (openai(&mock), openai_body, "a finish_reason or [DONE]"),
        (anthropic(&mock), anthropic_body, "message_stop"),
    ] {
        mock.push(Turn::raw(200, "text/event-stream", body));
        let stream = chat_stream(&http, &endpoint, &request("m", vec![user("hi")]))
            .await
            .unwrap();
        assert_eq!(
            drain(stream).await,
            [
                Ok(StreamEvent::TextDelta("Hel".into())),
                Err(LlmError::StreamCut {
                    provider: endpoint.provider.clone(),
                    message: format!("the body ended before {awaited}"),
                }),
            ]
        );
    }
}

#[tokio::test]
async fn openai_finish_reason_then_end_of_body_is_done() {
    let mock = MockLlm::start().await;
    let body = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},\"finish_reason\":null}]}\n\n\
                data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"length\"}]}\n\n";
    mock.push(Turn::raw(200, "text/event-stream", body));
    let stream = chat_stream(&http(), &openai(&mock), &request("m", vec![user("hi")]))
        .await
        .unwrap();
    assert_eq!(
        drain(stream).await,
        [
            Ok(StreamEvent::TextDelta("Hi".into())),
            Ok(StreamEvent::Done(ChatResponse {
                content: "Hi".into(),
                model: "m".into(),
                stop_reason: Some("length".into()),
                ..ChatResponse::default()
            })),
        ]
    );
}

#[tokio::test]
async fn a_hang_before_the_stream_starts_times_out() {
    let mock = MockLlm::start().await;
    let http = http();
    for endpoint in both(&mock) {
        mock.push(Turn::hang());
        let request = ChatRequest {
            timeout: Duration::from_millis(300),
            ..request("m", vec![user("hi")])
        };
        let started = Instant::now();
        let error = chat_stream(&http, &endpoint, &request).await.err();
        assert_eq!(
            error,
            Some(LlmError::Timeout {
                provider: endpoint.provider.clone(),
                after: Duration::from_millis(300),
            })
        );
        assert!(started.elapsed() < Duration::from_secs(3));
    }
}

/// A server that starts an SSE response, sends `first` and then goes quiet.
async fn stalling_server(first: &'static str) -> (String, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = vec![0_u8; 64 * 1024];
        let _read = socket.read(&mut request).await.unwrap();
        let head =
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n";
        socket.write_all(head.as_bytes()).await.unwrap();
        socket.write_all(first.as_bytes()).await.unwrap();
        tokio::time::sleep(Duration::from_secs(60)).await;
    });
    (format!("http://{addr}"), task)
}

#[tokio::test]
async fn a_stream_that_stalls_times_out_at_the_deadline() {
    let http = http();
    let cases = [
        (
            Protocol::OpenAi,
            "/v1",
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\n",
        ),
        (
            Protocol::Anthropic,
            "",
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hel\"}}\n\n",
        ),
    ];
    for (protocol, suffix, first) in cases {
        let (base, server) = stalling_server(first).await;
        let endpoint = Endpoint {
            provider: "stalling".into(),
            protocol,
            base_url: format!("{base}{suffix}"),
            api_key: None,
        };
        let request = ChatRequest {
            timeout: Duration::from_millis(300),
            ..request("m", vec![user("hi")])
        };
        let started = Instant::now();
        let stream = chat_stream(&http, &endpoint, &request).await.unwrap();
        assert_eq!(
            drain(stream).await,
            [
                Ok(StreamEvent::TextDelta("Hel".into())),
                Err(LlmError::Timeout {
                    provider: "stalling".into(),
                    after: Duration::from_millis(300),
                }),
            ]
        );
        let elapsed = started.elapsed();
        assert!(
            elapsed >= Duration::from_millis(300) && elapsed < Duration::from_secs(3),
            "{elapsed:?}"
        );
        server.abort();
    }
}

#[tokio::test]
async fn errors_reported_inside_a_stream_end_it() {
    let mock = MockLlm::start().await;
    let http = http();
    let openai_body = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\n\
                       data: {\"error\":{\"code\":502,\"message\":\"upstream provider failed\"}}\n\n";
    let anthropic_body = "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hel\"}}\n\n\
        event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";
    for (endpoint, body, status, message) in [
        (openai(&mock), openai_body, 502, "upstream provider failed"),
        (anthropic(&mock), anthropic_body, 529, "Overloaded"),
    ] {
        mock.push(Turn::raw(200, "text/event-stream", body));
        let stream = chat_stream(&http, &endpoint, &request("m", vec![user("hi")]))
            .await
            .unwrap();
        assert_eq!(
            drain(stream).await,
            [
                Ok(StreamEvent::TextDelta("Hel".into())),
                Err(LlmError::Status {
                    provider: endpoint.provider.clone(),
                    status,
                    message: message.into(),
                    retry_after: None,
                }),
            ]
        );
    }
}

#[tokio::test]
async fn a_json_answer_to_a_streaming_request_is_played_back() {
    let mock = MockLlm::start().await;
    let http = http();
    let openai_body = json!({"model": "m", "choices": [{"message": {"content": "Whole."}, "finish_reason": "stop"}]});
    let anthropic_body = json!({"model": "m", "content": [{"type": "text", "text": "Whole."}], "stop_reason": "end_turn"});
    for (endpoint, body, stop_reason) in [
        (openai(&mock), openai_body, "stop"),
        (anthropic(&mock), anthropic_body, "end_turn"),
    ] {
        mock.push(Turn::raw(200, "application/json", body.to_string()));
        let stream = chat_stream(&http, &endpoint, &request("m", vec![user("hi")]))
            .await
            .unwrap();
        assert_eq!(
            drain(stream).await,
            [
                Ok(StreamEvent::TextDelta("Whole.".into())),
                Ok(StreamEvent::Done(ChatResponse {
                    content: "Whole.".into(),
                    model: "m".into(),
                    stop_reason: Some(stop_reason.into()),
                    ..ChatResponse::default()
                })),
            ]
        );
    }
}
