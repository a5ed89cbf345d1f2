//! Messages between agents: routing, capability addressing, inboxes and push delivery.

use std::time::Duration;

use openlegion_tests::{FakeAgent, MeshOptions, MeshProcess};
use serde_json::{Value, json};

use crate::inbox;

fn chatty() -> MeshOptions {
    MeshOptions::with_permissions(json!({"default": {"can_message": ["*"]}}))
}

#[tokio::test]
async fn a_message_reaches_the_inbox_from_the_verified_sender() {
    let mesh = MeshProcess::start(chatty()).await;
    let (a, b) = (mesh.agent("a").await, mesh.agent("b").await);
    let routed = a
        .post("/mesh/message", &json!({"from_agent": "mallory", "to": "b", "type": "task_request", "payload": {"n": 1}}))
        .await
        .expect(200);
    assert_eq!(routed["target"], "b");
    assert_eq!(routed["queued"], true);
    let got = inbox(&b).await;
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0]["from_agent"], "a",
        "the sender's claimed id is ignored"
    );
    assert_eq!(got[0]["payload"], json!({"n": 1}));
    assert_eq!(got[0]["id"], routed["message_id"]);
    assert_eq!(got[0]["ttl"], 300);
    assert_eq!(got[0]["priority"], "normal");
}

#[tokio::test]
async fn capability_addressing_and_unknown_targets() {
    let mesh = MeshProcess::start(chatty()).await;
    let a = mesh.agent("a").await;
    let (first, second) = (mesh.agent("finder1").await, mesh.agent("finder2").await);
    let none = a
        .post(
            "/mesh/message",
            &json!({"to": "capability:search", "type": "query"}),
        )
        .await;
    assert_eq!(none.status, 404);
    assert_eq!(
        none.detail(),
        "No agent found for target: capability:search"
    );
    first
        .post(
            "/mesh/register",
            &json!({"capabilities": ["search", "scrape"]}),
        )
        .await
        .expect(200);
    second
        .post("/mesh/register", &json!({"capabilities": ["search"]}))
        .await
        .expect(200);
    let routed = a
        .post(
            "/mesh/message",
            &json!({"to": "capability:search", "type": "query"}),
        )
        .await
        .expect(200);
    assert_eq!(
        routed["target"], "finder1",
        "the first registered agent with the capability"
    );
    assert_eq!(inbox(&first).await.len(), 1);
    let ghost = a
        .post("/mesh/message", &json!({"to": "ghost", "type": "query"}))
        .await;
    assert_eq!(
        (ghost.status.as_u16(), ghost.detail()),
        (404, "No agent found for target: ghost")
    );
}

#[tokio::test]
async fn pulling_is_a_cursor_and_loses_nothing() {
    let mesh = MeshProcess::start(chatty()).await;
    let (a, b) = (mesh.agent("a").await, mesh.agent("b").await);
    for n in 0..5 {
        a.post(
            "/mesh/message",
            &json!({"to": "b", "type": "event", "payload": {"n": n}}),
        )
        .await
        .expect(200);
    }
    let page = b.get("/mesh/inbox?limit=2").await.expect(200);
    let seqs: Vec<i64> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(page["remaining"], 3);
    // The same pull again (a lost response) returns the same messages.
    assert_eq!(
        b.get("/mesh/inbox?limit=2").await.expect(200)["messages"],
        page["messages"]
    );
    let next = b
        .get(&format!("/mesh/inbox?after={}&limit=10", seqs[1]))
        .await
        .expect(200);
    let ns: Vec<Value> = next["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["message"]["payload"]["n"].clone())
        .collect();
    assert_eq!(ns, [json!(2), json!(3), json!(4)]);
    let last = next["messages"][2]["seq"].as_i64().unwrap();
    let empty = b
        .get(&format!("/mesh/inbox?after={last}"))
        .await
        .expect(200);
    assert_eq!(
        (
            empty["messages"].as_array().unwrap().len(),
            empty["remaining"].as_u64()
        ),
        (0, Some(0))
    );
    let operator = mesh.operator().get("/mesh/inbox").await;
    assert_eq!(operator.status, 400, "the operator has no inbox");
}

#[tokio::test]
async fn a_full_inbox_refuses_and_keeps_what_it_has() {
    let mesh = MeshProcess::start(MeshOptions {
        mesh_settings: "  inbox_max: 3\n".into(),
        ..chatty()
    })
    .await;
    let (a, b) = (mesh.agent("a").await, mesh.agent("b").await);
    for n in 0..3 {
        a.post(
            "/mesh/message",
            &json!({"to": "b", "type": "event", "payload": {"n": n}}),
        )
        .await
        .expect(200);
    }
    let full = a
        .post(
            "/mesh/message",
            &json!({"to": "b", "type": "event", "payload": {"n": 3}}),
        )
        .await;
    assert_eq!(full.status, 429);
    assert_eq!(full.detail(), "Inbox of b is full (3 messages waiting)");
    let ns: Vec<Value> = inbox(&b)
        .await
        .iter()
        .map(|m| m["payload"]["n"].clone())
        .collect();
    assert_eq!(ns, [json!(0), json!(1), json!(2)]);
}

async fn wait_for(mut check: impl FnMut() -> bool, what: &str) {
    for _ in 0..400 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn push_delivery_retries_in_order_until_the_agent_answers() {
    let mesh = MeshProcess::start(chatty()).await;
    let (a, b) = (mesh.agent("a").await, mesh.agent("b").await);
    // Messages queued before the agent has an address wait in its inbox.
    a.post(
        "/mesh/message",
        &json!({"to": "b", "type": "event", "payload": {"n": 0}}),
    )
    .await
    .expect(200);
    let agent = FakeAgent::start([503, 503]).await;
    b.post("/mesh/register", &json!({"port": agent.port()}))
        .await
        .expect(200);
    for n in 1..3 {
        a.post(
            "/mesh/message",
            &json!({"to": "b", "type": "event", "payload": {"n": n}}),
        )
        .await
        .expect(200);
    }
    wait_for(|| agent.accepted().len() == 3, "three deliveries").await;
    let ns: Vec<Value> = agent
        .accepted()
        .iter()
        .map(|m| m["payload"]["n"].clone())
        .collect();
    assert_eq!(ns, [json!(0), json!(1), json!(2)], "in order");
    assert_eq!(
        agent.attempts().len(),
        5,
        "two refusals with 503, then three deliveries"
    );
    assert_eq!(agent.attempts()[0]["payload"]["n"], 0);
    assert_eq!(agent.attempts()[1]["payload"]["n"], 0);
    let mut left = 1;
    for _ in 0..100 {
        left = b.get("/mesh/inbox").await.expect(200)["remaining"]
            .as_u64()
            .unwrap()
            + b.get("/mesh/inbox").await.expect(200)["messages"]
                .as_array()
                .unwrap()
                .len() as u64;
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(left, 0, "delivered messages leave the inbox");
}

#[tokio::test]
async fn a_refused_message_does_not_block_the_queue() {
    let mesh = MeshProcess::start(chatty()).await;
    let (a, b) = (mesh.agent("a").await, mesh.agent("b").await);
    let agent = FakeAgent::start([422]).await;
    b.post("/mesh/register", &json!({"port": agent.port()}))
        .await
        .expect(200);
    for n in 0..2 {
        a.post(
            "/mesh/message",
            &json!({"to": "b", "type": "event", "payload": {"n": n}}),
        )
        .await
        .expect(200);
    }
    wait_for(|| agent.accepted().len() == 1, "the second message").await;
    assert_eq!(agent.accepted()[0]["payload"]["n"], 1);
    // The refused one is kept, with its error, for the agent to pull.
    let page = b.get("/mesh/inbox").await.expect(200);
    assert_eq!(
        page["messages"][0]["message"]["payload"]["n"],
        0,
        "{page}\n{:?}",
        agent.attempts()
    );
    assert!(
        page["messages"][0]["delivery_error"]
            .as_str()
            .unwrap()
            .contains("422")
    );
    assert!(mesh.log().contains("agent refused a message"));
}

#[tokio::test]
async fn agents_cannot_point_the_mesh_at_arbitrary_urls() {
    let mesh = MeshProcess::start(chatty()).await;
    let b = mesh.agent("b").await;
    let url = b
        .post("/mesh/register", &json!({"url": "http://169.254.169.254/"}))
        .await;
    assert_eq!(url.status, 403);
    assert_eq!(
        b.post("/mesh/register", &json!({"port": 80})).await.status,
        400
    );
    let listed = mesh.operator().get("/mesh/agents").await.expect(200);
    assert_eq!(listed["b"]["url"], json!(null));
}
