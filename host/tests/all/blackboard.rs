//! `/mesh/blackboard/…`: each route's answers, permission refusals and conflicts.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::{Options, TestMesh};

fn board() -> Options {
    Options::with_permissions(json!({
        "default": {"blackboard_read": ["context/*", "history/*"], "blackboard_write": ["context/*", "history/*"]}
    }))
}

#[tokio::test]
async fn put_get_list_and_delete_a_key() {
    let mesh = TestMesh::start(board()).await;
    let a = mesh.agent("a").await;
    let put = mesh
        .put("/mesh/blackboard/context/goal", &a, json!({"text": "ship"}))
        .await
        .expect(200);
    assert_eq!(put["version"], 1);
    assert_eq!(put["written_by"], "a");
    let again = mesh
        .put(
            "/mesh/blackboard/context/goal",
            &a,
            json!({"text": "ship it"}),
        )
        .await
        .expect(200);
    assert_eq!(again["version"], 2);

    let got = mesh
        .get("/mesh/blackboard/context/goal", &a)
        .await
        .expect(200);
    assert_eq!(got["value"], json!({"text": "ship it"}));
    for path in [
        "/mesh/blackboard?prefix=context/",
        "/mesh/blackboard/?prefix=context/",
    ] {
        let listed = mesh.get(path, &a).await.expect(200);
        assert_eq!(listed.as_array().unwrap().len(), 1, "{path}: {listed}");
    }

    mesh.delete("/mesh/blackboard/context/goal", &a)
        .await
        .expect(200);
    let gone = mesh.get("/mesh/blackboard/context/goal", &a).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND, "{:?}", gone.body);
    mesh.stop().await;
}

#[tokio::test]
async fn keys_outside_the_agents_globs_are_forbidden_and_history_is_append_only() {
    let mesh = TestMesh::start(board()).await;
    let a = mesh.agent("a").await;
    for reply in [
        mesh.put("/mesh/blackboard/secrets/x", &a, json!({})).await,
        mesh.get("/mesh/blackboard/secrets/x", &a).await,
        mesh.delete("/mesh/blackboard/secrets/x", &a).await,
    ] {
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{:?}", reply.body);
    }
    mesh.put("/mesh/blackboard/history/1", &a, json!({"n": 1}))
        .await
        .expect(200);
    let rewrite = mesh
        .put("/mesh/blackboard/history/1", &a, json!({"n": 2}))
        .await;
    assert_eq!(rewrite.status, StatusCode::CONFLICT, "{:?}", rewrite.body);
    let ttl = mesh
        .put("/mesh/blackboard/history/2?ttl=60", &a, json!({}))
        .await;
    assert_eq!(ttl.status, StatusCode::BAD_REQUEST, "{:?}", ttl.body);
    mesh.stop().await;
}

#[tokio::test]
async fn claim_is_compare_and_swap_and_watch_registers_a_glob() {
    let mesh = TestMesh::start(board()).await;
    let (a, b) = (mesh.agent("a").await, mesh.agent("b").await);
    mesh.put("/mesh/blackboard/context/task", &a, json!({"owner": null}))
        .await
        .expect(200);
    let first = mesh
        .post(
            "/mesh/blackboard/claim",
            &a,
            json!({"key": "context/task", "value": {"owner": "a"}, "expected_version": 1}),
        )
        .await
        .expect(200);
    assert_eq!(first["version"], 2, "{first}");
    let late = mesh
        .post(
            "/mesh/blackboard/claim",
            &b,
            json!({"key": "context/task", "value": {"owner": "b"}, "expected_version": 1}),
        )
        .await;
    assert_eq!(late.status, StatusCode::CONFLICT, "{:?}", late.body);

    mesh.post(
        "/mesh/blackboard/watch",
        &b,
        json!({"pattern": "context/*"}),
    )
    .await
    .expect(200);
    // A key named `claim` or `watch` is still an ordinary key for the other methods (the
    // operator may write any key).
    mesh.put("/mesh/blackboard/claim", &mesh.op, json!({"v": 1}))
        .await
        .expect(200);
    let forbidden = mesh
        .post(
            "/mesh/blackboard/watch",
            &a,
            json!({"pattern": "secrets/*"}),
        )
        .await;
    assert_eq!(
        forbidden.status,
        StatusCode::FORBIDDEN,
        "{:?}",
        forbidden.body
    );
    let wrong_shape = mesh
        .post("/mesh/blackboard/claim", &a, json!({"key": "context/x"}))
        .await;
    assert_eq!(
        wrong_shape.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{:?}",
        wrong_shape.body
    );
    let _: Value = wrong_shape.body;
    mesh.stop().await;
}
