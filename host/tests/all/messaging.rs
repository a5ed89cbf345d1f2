//! `/mesh/subscribe`, `/mesh/unsubscribe`, `/mesh/publish`, `/mesh/message` and
//! `/mesh/inbox`.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::{Options, TestMesh};

/// The messages waiting in an agent's inbox (unacknowledged).
async fn inbox(mesh: &TestMesh, token: &str) -> Vec<Value> {
    let page = mesh.get("/mesh/inbox", token).await.expect(200);
    page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["message"].clone())
        .collect()
}

#[tokio::test]
async fn a_publish_reaches_subscribers_until_they_unsubscribe() {
    let mesh = TestMesh::start(Options::with_permissions(json!({
        "default": {"can_publish": ["alerts"], "can_subscribe": ["alerts"]}
    })))
    .await;
    let (a, b) = (mesh.agent("a").await, mesh.agent("b").await);
    let sub = mesh
        .post("/mesh/subscribe?topic=alerts", &b, Value::Null)
        .await
        .expect(200);
    assert_eq!(sub, json!({"subscribed": true, "topic": "alerts"}));
    let published = mesh
        .post(
            "/mesh/publish",
            &a,
            json!({"topic": "alerts", "payload": {"level": "high"}}),
        )
        .await
        .expect(200);
    assert_eq!(published["subscribers_notified"], 1, "{published}");
    let got = inbox(&mesh, &b).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(
        got[0]["payload"]["payload"],
        json!({"level": "high"}),
        "{got:?}"
    );

    mesh.post("/mesh/unsubscribe", &b, json!({"topic": "alerts"}))
        .await
        .expect(200);
    let after = mesh
        .post(
            "/mesh/publish",
            &a,
            json!({"topic": "alerts", "payload": {}}),
        )
        .await
        .expect(200);
    assert_eq!(after["subscribers_notified"], 0, "{after}");

    let no_topic = mesh.post("/mesh/subscribe", &b, Value::Null).await;
    assert_eq!(no_topic.status, StatusCode::BAD_REQUEST);
    let other = mesh
        .post(
            "/mesh/publish",
            &a,
            json!({"topic": "payroll", "payload": {}}),
        )
        .await;
    assert_eq!(other.status, StatusCode::FORBIDDEN, "{:?}", other.body);
    mesh.stop().await;
}

#[tokio::test]
async fn a_message_is_routed_to_the_inbox_and_acknowledged_by_pulling_after_it() {
    let mesh = TestMesh::start(Options::with_permissions(json!({
        "a": {"can_message": ["b"]}
    })))
    .await;
    let (a, b) = (mesh.agent("a").await, mesh.agent("b").await);
    let routed = mesh
        .post(
            "/mesh/message",
            &a,
            json!({"to": "b", "type": "task_request", "payload": {"n": 1}}),
        )
        .await
        .expect(200);
    assert_eq!(routed["target"], "b");
    let page = mesh.get("/mesh/inbox", &b).await.expect(200);
    let seq = page["messages"][0]["seq"].as_i64().unwrap();
    assert_eq!(page["messages"][0]["message"]["from_agent"], "a");
    let acked = mesh
        .get(&format!("/mesh/inbox?after={seq}"), &b)
        .await
        .expect(200);
    assert_eq!(acked["messages"], json!([]), "{acked}");

    let back = mesh
        .post(
            "/mesh/message",
            &b,
            json!({"to": "a", "type": "task_request"}),
        )
        .await;
    assert_eq!(back.status, StatusCode::FORBIDDEN, "{:?}", back.body);
    let nobody = mesh
        .post(
            "/mesh/message",
            &a,
            json!({"to": "capability:search", "type": "query"}),
        )
        .await;
    assert_eq!(nobody.status, StatusCode::NOT_FOUND, "{:?}", nobody.body);
    assert_eq!(
        nobody.detail(),
        "No agent found for target: capability:search"
    );
    let bad = mesh.get("/mesh/inbox?after=x", &b).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    mesh.stop().await;
}
