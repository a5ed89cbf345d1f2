//! `/mesh/health`, `/mesh/status`, `/mesh/reload`, and what every route shares: the
//! bearer token, JSON errors, the fallbacks and the body limit.

use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use serde_json::{Value, json};

use crate::support::{Options, TestMesh};

#[tokio::test]
async fn health_is_open_and_status_is_for_the_operator_only() {
    let mesh = TestMesh::start(Options {
        agents_yaml: "agents:\n  scout:\n    role: research\n".into(),
        ..Options::default()
    })
    .await;
    let health = mesh
        .call(Method::GET, "/mesh/health", None, Value::Null)
        .await;
    assert_eq!(health.expect(200), json!({"status": "ok"}));

    let anonymous = mesh
        .call(Method::GET, "/mesh/status", None, Value::Null)
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.headers[header::WWW_AUTHENTICATE], "Bearer");
    assert!(!anonymous.detail().is_empty(), "{:?}", anonymous.body);
    let forged = mesh.get("/mesh/status", "not-a-token").await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);

    let status = mesh.get("/mesh/status", &mesh.op).await.expect(200);
    assert_eq!(status["agents"], 1, "{status}");

    let agent = mesh.agent("scout").await;
    let refused = mesh.get("/mesh/status", &agent).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{:?}", refused.body);
    mesh.stop().await;
}

#[tokio::test]
async fn reload_rereads_the_files_and_keeps_the_config_in_force_when_one_is_broken() {
    let mesh = TestMesh::start(Options {
        agents_yaml: "agents:\n  a:\n    role: one\n".into(),
        ..Options::default()
    })
    .await;
    let agent = mesh.agent("a").await;
    assert_eq!(
        mesh.post("/mesh/reload", &agent, Value::Null).await.status,
        StatusCode::FORBIDDEN
    );

    std::fs::write(
        mesh.config_dir().join("agents.yaml"),
        "agents:\n  a:\n    role: one\n  b:\n    role: two\n",
    )
    .unwrap();
    mesh.post("/mesh/reload", &mesh.op, Value::Null)
        .await
        .expect(200);
    let agents = mesh.get("/mesh/agents", &mesh.op).await.expect(200);
    assert!(agents.get("b").is_some(), "{agents}");

    std::fs::write(mesh.config_dir().join("agents.yaml"), "agents: [oops\n").unwrap();
    let broken = mesh.post("/mesh/reload", &mesh.op, Value::Null).await;
    assert_eq!(broken.status, StatusCode::BAD_REQUEST, "{:?}", broken.body);
    assert!(
        broken.detail().contains("agents.yaml"),
        "{}",
        broken.detail()
    );
    let agents = mesh.get("/mesh/agents", &mesh.op).await.expect(200);
    assert!(
        agents.get("b").is_some(),
        "the agents in force stay: {agents}"
    );
    mesh.stop().await;
}

#[tokio::test]
async fn unknown_routes_methods_and_bad_bodies_are_json_errors() {
    let mesh = TestMesh::start(Options::with_permissions(json!({
        "default": {"blackboard_write": ["*"]}
    })))
    .await;
    let agent = mesh.agent("a").await;

    let missing = mesh.get("/mesh/nowhere", &mesh.op).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.detail(), "Not found");
    let wrong = mesh
        .call(Method::PATCH, "/mesh/health", None, Value::Null)
        .await;
    assert_eq!(wrong.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong.detail(), "Method not allowed");

    let malformed = mesh
        .raw(
            Method::PUT,
            "/mesh/blackboard/context/x",
            Some(&agent),
            Some("application/json"),
            Body::from("{not json"),
        )
        .await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    assert!(!malformed.detail().is_empty());
    let not_json = mesh
        .raw(
            Method::PUT,
            "/mesh/blackboard/context/x",
            Some(&agent),
            Some("text/plain"),
            Body::from("{}"),
        )
        .await;
    assert_eq!(not_json.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // mesh.max_body_mb defaults to 8.
    let huge = format!("{{\"v\": \"{}\"}}", "x".repeat(9 * 1024 * 1024));
    let too_big = mesh
        .raw(
            Method::PUT,
            "/mesh/blackboard/context/x",
            Some(&agent),
            Some("application/json"),
            Body::from(huge),
        )
        .await;
    assert_eq!(too_big.status, StatusCode::PAYLOAD_TOO_LARGE);
    mesh.stop().await;
}
