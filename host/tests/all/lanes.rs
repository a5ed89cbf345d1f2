//! `/mesh/lanes`, `/mesh/lanes/{agent}` and `/mesh/lanes/items/{id}`. The agents are
//! external and never registered an address, so what is queued stays queued.

use axum::http::{StatusCode, header};
use serde_json::json;

use crate::support::{Options, TestMesh};

fn one_agent(max: u32) -> Options {
    Options {
        agents_yaml: format!("agents:\n  scout:\n    lanes: {{max: {max}}}\n"),
        ..Options::default()
    }
}

#[tokio::test]
async fn work_is_queued_looked_up_and_cancelled() {
    let mesh = TestMesh::start(one_agent(10)).await;
    let queued = mesh
        .post(
            "/mesh/lanes/scout",
            &mesh.op,
            json!({"kind": "chat", "message": "hello"}),
        )
        .await
        .expect(202);
    let id = queued["id"].as_str().unwrap().to_owned();
    let item = mesh
        .get(&format!("/mesh/lanes/items/{id}"), &mesh.op)
        .await
        .expect(200);
    assert_eq!(item["finished"], false, "{item}");
    let lanes = mesh.get("/mesh/lanes", &mesh.op).await.expect(200);
    assert!(lanes.to_string().contains("scout"), "{lanes}");

    mesh.delete(&format!("/mesh/lanes/items/{id}"), &mesh.op)
        .await
        .expect(200);
    let item = mesh
        .get(&format!("/mesh/lanes/items/{id}?wait=5"), &mesh.op)
        .await
        .expect(200);
    assert_eq!(item["outcome"]["status"], "cancelled", "{item}");
    mesh.stop().await;
}

#[tokio::test]
async fn a_full_lane_answers_429_with_retry_after() {
    let mesh = TestMesh::start(one_agent(2)).await;
    for n in 0..2 {
        mesh.post(
            "/mesh/lanes/scout",
            &mesh.op,
            json!({"kind": "chat", "message": format!("item {n}")}),
        )
        .await
        .expect(202);
    }
    let full = mesh
        .post(
            "/mesh/lanes/scout",
            &mesh.op,
            json!({"kind": "chat", "message": "one too many"}),
        )
        .await;
    assert_eq!(
        full.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{:?}",
        full.body
    );
    assert_eq!(full.headers[header::RETRY_AFTER], "1");
    mesh.stop().await;
}

#[tokio::test]
async fn lanes_are_the_operators_and_bad_requests_name_the_problem() {
    let mesh = TestMesh::start(one_agent(10)).await;
    let agent = mesh.agent("scout").await;
    let by_agent = mesh
        .post(
            "/mesh/lanes/scout",
            &agent,
            json!({"kind": "chat", "message": "x"}),
        )
        .await;
    assert_eq!(by_agent.status, StatusCode::FORBIDDEN);
    let unknown = mesh
        .post(
            "/mesh/lanes/ghost",
            &mesh.op,
            json!({"kind": "chat", "message": "x"}),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{:?}", unknown.body);
    let kind = mesh
        .post("/mesh/lanes/scout", &mesh.op, json!({"kind": "dance"}))
        .await;
    assert_eq!(
        kind.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{:?}",
        kind.body
    );
    let item = mesh.get("/mesh/lanes/items/nothing", &mesh.op).await;
    assert_eq!(item.status, StatusCode::NOT_FOUND, "{:?}", item.body);
    mesh.stop().await;
}
