//! The permission matrix as agents meet it over HTTP (cases 1–8, 12).

use openlegion_tests::{MeshOptions, MeshProcess};
use serde_json::json;

#[tokio::test]
async fn cases_1_2_8_blackboard_globs_over_http() {
    let mesh = MeshProcess::start(MeshOptions::with_permissions(json!({
        "research": {
            "blackboard_read": ["context/*", "tasks/*", "teams/sales/*"],
            "blackboard_write": ["context/research_*"]
        }
    })))
    .await;
    let research = mesh.agent("research").await;
    research
        .get("/mesh/blackboard/context/prospect_1")
        .await
        .expect(404);
    research
        .get("/mesh/blackboard/tasks/active")
        .await
        .expect(404);
    let denied = research.get("/mesh/blackboard/signals/alert").await;
    assert_eq!(denied.status, 403);
    assert_eq!(denied.detail(), "Agent research cannot read signals/alert");
    research
        .get("/mesh/blackboard/teams/sales/a/b")
        .await
        .expect(404);
    research
        .put("/mesh/blackboard/context/research_data", &json!({"x": 1}))
        .await
        .expect(200);
    let denied = research
        .put("/mesh/blackboard/context/qualify_data", &json!({"x": 1}))
        .await;
    assert_eq!(denied.status, 403);
    assert_eq!(
        denied.detail(),
        "Agent research cannot write context/qualify_data"
    );
}

#[tokio::test]
async fn cases_3_5_messaging_exact_or_star() {
    let mesh = MeshProcess::start(MeshOptions::with_permissions(json!({
        "research": {"can_message": ["mesh"]},
        "ceo": {"can_message": ["*"]},
        "worker": {"can_message": ["mesh"]}
    })))
    .await;
    let research = mesh.agent("research").await;
    let ceo = mesh.agent("ceo").await;
    let worker = mesh.agent("worker").await;
    let stranger = mesh.agent("stranger").await;
    mesh.agent("qualify").await;
    let msg = |to: &str| json!({"to": to, "type": "query", "payload": {}});
    assert_eq!(
        research.post("/mesh/message", &msg("qualify")).await.status,
        403
    );
    assert_eq!(
        stranger.post("/mesh/message", &msg("ceo")).await.status,
        403,
        "no entry, no default"
    );
    for to in ["worker", "qualify", "research"] {
        ceo.post("/mesh/message", &msg(to)).await.expect(200);
    }
    let denied = worker.post("/mesh/message", &msg("ceo")).await;
    assert_eq!(denied.status, 403);
    assert_eq!(denied.detail(), "Agent worker cannot message ceo");
}

#[tokio::test]
async fn case_6_topics_are_exact() {
    let mesh = MeshProcess::start(MeshOptions::with_permissions(json!({
        "research": {"can_publish": ["research_complete"]}
    })))
    .await;
    let research = mesh.agent("research").await;
    let ok = research
        .post("/mesh/publish", &json!({"topic": "research_complete"}))
        .await
        .expect(200);
    assert_eq!(ok["subscribers_notified"], 0);
    assert_eq!(
        research
            .post("/mesh/publish", &json!({"topic": "other_topic"}))
            .await
            .status,
        403
    );
    assert_eq!(
        research
            .post("/mesh/publish", &json!({"topic": "research_*"}))
            .await
            .status,
        403
    );
}

#[tokio::test]
async fn default_entry_and_case_12_no_file_means_deny_all() {
    let mesh = MeshProcess::start(MeshOptions::with_permissions(json!({
        "default": {"blackboard_read": ["context/*"]}
    })))
    .await;
    let anyone = mesh.agent("anyone").await;
    anyone.get("/mesh/blackboard/context/x").await.expect(404);
    assert_eq!(
        anyone
            .put("/mesh/blackboard/context/x", &json!({}))
            .await
            .status,
        403
    );

    let locked = MeshProcess::start(MeshOptions {
        permissions: None,
        ..MeshOptions::default()
    })
    .await;
    let agent = locked.agent("a").await;
    assert_eq!(agent.get("/mesh/blackboard/context/x").await.status, 403);
    assert_eq!(
        agent
            .post("/mesh/publish", &json!({"topic": "t"}))
            .await
            .status,
        403
    );
    assert!(
        locked.log().contains("every agent is denied everything"),
        "{}",
        locked.log()
    );
    // The operator is not an agent and keeps working.
    locked
        .operator()
        .put("/mesh/blackboard/context/x", &json!({"ok": true}))
        .await
        .expect(200);
}
