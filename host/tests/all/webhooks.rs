//! `POST /webhook/hook/{id}`: the id and the signature are the only credentials.

use axum::body::Body;
use axum::http::{Method, StatusCode};
use openlegion_mesh::webhooks::signature::sign;
use serde_json::json;

use crate::support::{Options, TestMesh};

const SECRET: &str = "hook-secret-in-process";

fn hooked() -> Options {
    let hooks = json!({"hooks": {
        "hook_0123456789abcdef0123456789abcdef": {
            "id": "hook_0123456789abcdef0123456789abcdef", "name": "open", "agent": "scout",
            "created_at": "2026-12-01T00:00:00Z"
        },
        "hook_fedcba9876543210fedcba9876543210": {
            "id": "hook_fedcba9876543210fedcba9876543210", "name": "signed", "agent": "scout",
            "created_at": "2026-12-01T00:00:00Z", "secret_env": "HOOK_SECRET"
        }
    }});
    Options {
        agents_yaml: "agents:\n  scout:\n    role: research\n".into(),
        env: vec![("OPENLEGION_CRED_HOOK_SECRET".into(), SECRET.into())],
        files: vec![("webhooks.json".into(), hooks.to_string())],
        ..Options::default()
    }
}

async fn deliver(
    mesh: &TestMesh,
    id: &str,
    body: &'static str,
    headers: &[(&str, String)],
) -> crate::support::Reply {
    let mut request = axum::http::Request::builder()
        .method(Method::POST)
        .uri(format!("/webhook/hook/{id}"));
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    mesh.send(request.body(Body::from(body)).unwrap()).await
}

#[tokio::test]
async fn a_delivery_is_queued_once_per_delivery_id() {
    let mesh = TestMesh::start(hooked()).await;
    let open = "hook_0123456789abcdef0123456789abcdef";
    let id = [("x-github-delivery", "d-1".to_owned())];
    let first = deliver(&mesh, open, "{\"a\": 1}", &id).await;
    assert_eq!(first.status, StatusCode::ACCEPTED, "{:?}", first.body);
    let again = deliver(&mesh, open, "{\"a\": 1}", &id).await;
    assert_eq!(again.status, StatusCode::OK, "{:?}", again.body);
    assert_eq!(again.body["status"], "duplicate");
    let unknown = deliver(&mesh, "hook_00000000000000000000000000000000", "{}", &[]).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    mesh.stop().await;
}

#[tokio::test]
async fn a_signed_hook_refuses_a_missing_or_wrong_signature() {
    let mesh = TestMesh::start(hooked()).await;
    let signed = "hook_fedcba9876543210fedcba9876543210";
    let body = "{\"event\": \"push\"}";
    let missing = deliver(&mesh, signed, body, &[]).await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    let wrong = deliver(
        &mesh,
        signed,
        body,
        &[(
            "x-hub-signature-256",
            sign(b"not the secret", body.as_bytes()),
        )],
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let right = deliver(
        &mesh,
        signed,
        body,
        &[(
            "x-hub-signature-256",
            sign(SECRET.as_bytes(), body.as_bytes()),
        )],
    )
    .await;
    assert_eq!(right.status, StatusCode::ACCEPTED, "{:?}", right.body);
    mesh.stop().await;
}
