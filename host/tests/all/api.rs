//! `/mesh/api`, `/mesh/api/stream`, `/mesh/model-health` and `/mesh/costs`, against the
//! scripted mock LLM over real HTTP.

use axum::http::{Method, StatusCode};
use openlegion_mock_llm::{MockLlm, Turn};
use openlegion_protocol::{ApiProxyResponse, ChatData, ProxyEvent};
use serde_json::{Value, json};

use crate::support::{Options, TestMesh};

const KEY: &str = "sk-test-inprocess-5c1e";

async fn with_llm(mock: &MockLlm) -> TestMesh {
    TestMesh::start(Options {
        agents_yaml: "agents:\n  a:\n    model: openai/primary\n  b:\n    model: openai/primary\n"
            .into(),
        permissions: json!({"a": {"allowed_apis": ["llm"]}}),
        mesh_yaml: "llm:\n  default_model: openai/primary\n".into(),
        env: vec![
            ("OPENLEGION_CRED_OPENAI_API_BASE".into(), mock.openai_base()),
            ("OPENLEGION_CRED_OPENAI_API_KEY".into(), KEY.into()),
        ],
        ..Options::default()
    })
    .await
}

fn chat(text: &str) -> Value {
    json!({"service": "llm", "action": "chat", "params": {
        "messages": [{"role": "user", "content": text}], "max_tokens": 50
    }})
}

#[tokio::test]
async fn a_chat_is_proxied_with_the_mesh_key_recorded_and_costed() {
    let mock = MockLlm::start().await;
    mock.push(Turn::text("pong"));
    let mesh = with_llm(&mock).await;
    let a = mesh.agent("a").await;
    let answer = mesh.post("/mesh/api", &a, chat("ping")).await.expect(200);
    let answer: ApiProxyResponse = serde_json::from_value(answer).unwrap();
    assert!(answer.success, "{answer:?}");
    let data: ChatData = answer.data_as().unwrap();
    assert_eq!(data.content, "pong");
    assert_eq!(data.model, "openai/primary");
    let sent = mock.requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );

    let costs = mesh
        .get("/mesh/costs?period=today", &mesh.op)
        .await
        .expect(200);
    assert!(costs.to_string().contains("openai/primary"), "{costs}");
    let bad_period = mesh.get("/mesh/costs?period=decade", &mesh.op).await;
    assert_eq!(bad_period.status, StatusCode::BAD_REQUEST);
    let health = mesh.get("/mesh/model-health", &mesh.op).await.expect(200);
    assert!(health.is_array() || health.is_object(), "{health}");
    mesh.stop().await;
}

#[tokio::test]
async fn the_stream_is_server_sent_events_ending_in_done() {
    let mock = MockLlm::start().await;
    mock.push(Turn::text("streamed words"));
    let mesh = with_llm(&mock).await;
    let a = mesh.agent("a").await;
    let reply = mesh
        .call(Method::POST, "/mesh/api/stream", Some(&a), chat("go"))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(
        reply.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    // Every event the mesh writes is one the agent's side of the contract reads.
    let events: Vec<ProxyEvent> = String::from_utf8_lossy(&reply.raw)
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .map(|d| serde_json::from_str(d.trim()).unwrap())
        .collect();
    let text: String = events
        .iter()
        .filter_map(|e| match e {
            ProxyEvent::TextDelta { content } => Some(content.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(text, "streamed words", "{events:?}");
    let Some(ProxyEvent::Done(done)) = events.last() else {
        panic!("the stream ends with done: {events:?}");
    };
    assert_eq!(done.content, "streamed words");
    mesh.stop().await;
}

#[tokio::test]
async fn an_agent_without_the_llm_service_is_refused_before_any_call() {
    let mock = MockLlm::start().await;
    let mesh = with_llm(&mock).await;
    let b = mesh.agent("b").await;
    let refused = mesh.post("/mesh/api", &b, chat("ping")).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{:?}", refused.body);
    let a = mesh.agent("a").await;
    let wrong = mesh.post("/mesh/api", &a, json!({"service": "llm"})).await;
    assert_eq!(
        wrong.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{:?}",
        wrong.body
    );
    assert!(mock.requests().is_empty());
    mesh.stop().await;
}
