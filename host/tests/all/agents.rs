//! `/mesh/register`, `/mesh/agents`, `/mesh/agents/{id}` (remove), `/mesh/agents/{id}/token`,
//! `/mesh/http` and `/mesh/agents/{id}/api/…`.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::{Options, TestMesh};

#[tokio::test]
async fn the_operator_registers_agents_and_an_agent_registers_itself() {
    let mesh = TestMesh::start(Options::default()).await;
    let token = mesh.agent("scout").await;
    let listed = mesh.get("/mesh/agents", &mesh.op).await.expect(200);
    assert!(listed.get("scout").is_some(), "{listed}");

    let own = mesh
        .post(
            "/mesh/register",
            &token,
            json!({"agent_id": "someone-else", "capabilities": ["search"], "role": "finder"}),
        )
        .await
        .expect(200);
    assert_eq!(own["agent_id"], "scout", "the token decides who registers");
    assert!(own.get("token").is_none_or(Value::is_null), "{own}");
    let listed = mesh.get("/mesh/agents", &token).await.expect(200);
    assert_eq!(
        listed["scout"]["capabilities"],
        json!(["search"]),
        "{listed}"
    );

    let bad_id = mesh
        .post("/mesh/register", &mesh.op, json!({"agent_id": "../etc"}))
        .await;
    assert_eq!(bad_id.status, StatusCode::BAD_REQUEST, "{:?}", bad_id.body);
    mesh.stop().await;
}

#[tokio::test]
async fn a_new_token_replaces_the_old_and_removal_is_for_the_operator() {
    let mesh = TestMesh::start(Options::default()).await;
    let old = mesh.agent("scout").await;
    let minted = mesh
        .post("/mesh/agents/scout/token", &mesh.op, Value::Null)
        .await
        .expect(200);
    let new = minted["token"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    mesh.get("/mesh/agents", &new).await.expect(200);
    let refused = mesh
        .post("/mesh/agents/scout/token", &new, Value::Null)
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{:?}", refused.body);
    let unknown = mesh
        .post("/mesh/agents/ghost/token", &mesh.op, Value::Null)
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{:?}", unknown.body);

    let by_agent = mesh.delete("/mesh/agents/scout", &new).await;
    assert_eq!(by_agent.status, StatusCode::FORBIDDEN);
    let removed = mesh
        .delete("/mesh/agents/scout", &mesh.op)
        .await
        .expect(200);
    assert_eq!(removed["removed"], true);
    assert_eq!(
        mesh.get("/mesh/agents", &new).await.status,
        StatusCode::UNAUTHORIZED,
        "a removed agent's token is gone"
    );
    mesh.stop().await;
}

#[tokio::test]
async fn http_needs_the_internet_permission_and_never_reaches_private_addresses() {
    let mesh = TestMesh::start(Options::with_permissions(json!({
        "online": {"can_use_internet": true}
    })))
    .await;
    let (offline, online) = (mesh.agent("offline").await, mesh.agent("online").await);
    let request = json!({"url": "http://127.0.0.1:9/", "method": "GET"});
    let refused = mesh.post("/mesh/http", &offline, request.clone()).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{:?}", refused.body);
    let private = mesh.post("/mesh/http", &online, request).await;
    assert_eq!(
        private.status,
        StatusCode::BAD_REQUEST,
        "{:?}",
        private.body
    );
    assert!(
        private.detail().contains("127.0.0.1"),
        "{}",
        private.detail()
    );
    let scheme = mesh
        .post("/mesh/http", &online, json!({"url": "file:///etc/passwd"}))
        .await;
    assert_eq!(scheme.status, StatusCode::BAD_REQUEST, "{:?}", scheme.body);
    mesh.stop().await;
}

#[tokio::test]
async fn an_agents_api_is_for_the_operator_and_needs_a_running_agent() {
    let mesh = TestMesh::start(Options {
        agents_yaml: "agents:\n  scout:\n    role: research\n".into(),
        ..Options::default()
    })
    .await;
    let token = mesh.agent("scout").await;
    let by_agent = mesh.get("/mesh/agents/scout/api/status", &token).await;
    assert_eq!(by_agent.status, StatusCode::FORBIDDEN);
    let unknown = mesh.get("/mesh/agents/ghost/api/status", &mesh.op).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{:?}", unknown.body);
    // External agents have no address until they register one.
    let not_running = mesh.get("/mesh/agents/scout/api/status", &mesh.op).await;
    assert_eq!(
        not_running.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{:?}",
        not_running.body
    );
    mesh.stop().await;
}
