//! Blackboard semantics over HTTP: versions, listing, TTL, history, claim, watches and
//! limits (cases 13–20).

use std::time::Duration;

use openlegion_tests::{MeshOptions, MeshProcess};
use serde_json::json;

use crate::inbox;

fn open_board() -> MeshOptions {
    let all = json!(["context/*", "tasks/*", "signals/*", "history/*"]);
    MeshOptions::with_permissions(json!({
        "default": {"blackboard_read": all, "blackboard_write": all}
    }))
}

#[tokio::test]
async fn cases_13_14_15_versions_and_prefix_lists() {
    let mesh = MeshProcess::start(open_board()).await;
    let (a1, a2) = (mesh.agent("agent1").await, mesh.agent("agent2").await);
    let e = a1
        .put("/mesh/blackboard/context/test", &json!({"data": "hello"}))
        .await
        .expect(200);
    assert_eq!(
        (e["version"].as_u64(), e["written_by"].as_str()),
        (Some(1), Some("agent1"))
    );
    let read = a2.get("/mesh/blackboard/context/test").await.expect(200);
    assert_eq!(read["value"], json!({"data": "hello"}));
    assert_eq!(read["written_by"], "agent1");

    a1.put("/mesh/blackboard/context/v", &json!({"v": 1}))
        .await
        .expect(200);
    let e = a2
        .put("/mesh/blackboard/context/v", &json!({"v": 2}))
        .await
        .expect(200);
    assert_eq!(
        (e["version"].as_u64(), e["written_by"].as_str()),
        (Some(2), Some("agent2"))
    );
    assert_eq!(e["value"], json!({"v": 2}));
    assert_eq!(
        e["created_at"],
        a1.get("/mesh/blackboard/context/v").await.expect(200)["created_at"]
    );

    a1.put("/mesh/blackboard/tasks/c", &json!({}))
        .await
        .expect(200);
    let context = a1
        .get("/mesh/blackboard/?prefix=context/")
        .await
        .expect(200);
    let keys: Vec<&str> = context
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["context/test", "context/v"]);
    assert_eq!(
        a1.get("/mesh/blackboard/?prefix=tasks/")
            .await
            .expect(200)
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn case_16_ttl_hides_expired_entries_and_gc_deletes_them() {
    let mesh = MeshProcess::start(open_board()).await;
    let a = mesh.agent("a").await;
    a.put("/mesh/blackboard/signals/op/live", &json!({}))
        .await
        .expect(200);
    a.put("/mesh/blackboard/signals/op/fresh?ttl=3600", &json!({}))
        .await
        .expect(200);
    let stale = a
        .put("/mesh/blackboard/signals/op/stale?ttl=1", &json!({}))
        .await
        .expect(200);
    assert_eq!(stale["ttl"], 1);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let listed = a
        .get("/mesh/blackboard/?prefix=signals/op/")
        .await
        .expect(200);
    let keys: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["signals/op/fresh", "signals/op/live"]);
    a.get("/mesh/blackboard/signals/op/stale").await.expect(404);
    // A write without ttl makes an entry permanent again.
    a.put("/mesh/blackboard/signals/op/fresh", &json!({}))
        .await
        .expect(200);
    assert_eq!(
        a.get("/mesh/blackboard/signals/op/fresh").await.expect(200)["ttl"],
        json!(null)
    );

    // The collector runs at start (and every 30 s): after a restart the row is gone.
    let mut mesh = mesh;
    mesh.kill9();
    mesh.restart().await;
    let db = rusqlite::Connection::open(mesh.state_dir().join("mesh.db")).unwrap();
    let mut rows = 1;
    for _ in 0..100 {
        rows = db
            .query_row(
                "SELECT COUNT(*) FROM blackboard WHERE key = 'signals/op/stale'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .unwrap();
        if rows == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(rows, 0, "expired row still stored");
}

#[tokio::test]
async fn case_17_history_is_append_only() {
    let mesh = MeshProcess::start(open_board()).await;
    let a = mesh.agent("a").await;
    a.put("/mesh/blackboard/history/result_1", &json!({"r": 1}))
        .await
        .expect(200);
    let again = a
        .put("/mesh/blackboard/history/result_1", &json!({"r": 2}))
        .await;
    assert_eq!(again.status, 409);
    assert!(again.detail().contains("append-only"), "{}", again.detail());
    let del = a.delete("/mesh/blackboard/history/result_1").await;
    assert_eq!(del.status, 400);
    assert_eq!(del.detail(), "Cannot delete from history: history/result_1");
    assert_eq!(
        a.put("/mesh/blackboard/history/t?ttl=5", &json!({}))
            .await
            .status,
        400
    );
    let claim = a
        .post(
            "/mesh/blackboard/claim",
            &json!({"key": "history/result_1", "value": {}, "expected_version": 1}),
        )
        .await;
    assert_eq!(claim.status, 409);
    assert_eq!(
        a.get("/mesh/blackboard/history/result_1").await.expect(200)["value"],
        json!({"r": 1})
    );
}

#[tokio::test]
async fn case_18_claim_is_compare_and_swap() {
    let mesh = MeshProcess::start(open_board()).await;
    let a = mesh.agent("a").await;
    a.put("/mesh/blackboard/tasks/claim_me", &json!({"owner": null}))
        .await
        .expect(200);
    let claim = |v: u64, owner: &str| json!({"key": "tasks/claim_me", "value": {"owner": owner}, "expected_version": v});
    let won = a
        .post("/mesh/blackboard/claim", &claim(1, "a"))
        .await
        .expect(200);
    assert_eq!(won["version"], 2);
    assert_eq!(won["value"]["owner"], "a");
    let lost = a.post("/mesh/blackboard/claim", &claim(1, "b")).await;
    assert_eq!(lost.status, 409);
    assert_eq!(lost.detail(), "Version conflict on key 'tasks/claim_me'");
    assert_eq!(
        a.get("/mesh/blackboard/tasks/claim_me").await.expect(200)["value"]["owner"],
        "a"
    );
    let missing = a
        .post(
            "/mesh/blackboard/claim",
            &json!({"key": "tasks/nope", "value": {}, "expected_version": 1}),
        )
        .await;
    assert_eq!(missing.status, 409);
}

#[tokio::test]
async fn case_19_watchers_hear_of_changes_but_not_their_own() {
    let mesh = MeshProcess::start(open_board()).await;
    let (a1, a2, a3) = (
        mesh.agent("a1").await,
        mesh.agent("a2").await,
        mesh.agent("a3").await,
    );
    a1.post("/mesh/blackboard/watch", &json!({"pattern": "tasks/*"}))
        .await
        .expect(200);
    let w = a2
        .post("/mesh/blackboard/watch", &json!({"pattern": "context/*"}))
        .await
        .expect(200);
    assert_eq!(w, json!({"watching": true, "pattern": "context/*"}));

    a3.put("/mesh/blackboard/tasks/pending", &json!({}))
        .await
        .expect(200);
    a3.put("/mesh/blackboard/context/data", &json!({}))
        .await
        .expect(200);
    let got1 = inbox(&a1).await;
    let got2 = inbox(&a2).await;
    assert_eq!(got1.len(), 1);
    assert_eq!(got1[0]["payload"]["key"], "tasks/pending");
    assert_eq!(
        got1[0]["payload"]["text"],
        "[Blackboard: tasks/pending] updated by a3, v1"
    );
    assert_eq!(got1[0]["from_agent"], "mesh");
    assert_eq!(got1[0]["type"], "event");
    assert_eq!(got2.len(), 1);
    assert_eq!(got2[0]["payload"]["key"], "context/data");

    a2.post("/mesh/blackboard/watch", &json!({"pattern": "tasks/*"}))
        .await
        .expect(200);
    a1.put("/mesh/blackboard/tasks/foo", &json!({}))
        .await
        .expect(200);
    assert_eq!(
        inbox(&a1).await.len(),
        1,
        "the writer is not told of its own write"
    );
    let got2 = inbox(&a2).await;
    assert_eq!(got2.len(), 2);
    assert_eq!(got2[1]["payload"]["key"], "tasks/foo");

    // Claims and deletes are changes too.
    a3.post(
        "/mesh/blackboard/claim",
        &json!({"key": "tasks/foo", "value": {}, "expected_version": 1}),
    )
    .await
    .expect(200);
    a3.delete("/mesh/blackboard/tasks/foo").await.expect(200);
    let texts: Vec<String> = inbox(&a1)
        .await
        .iter()
        .map(|m| m["payload"]["text"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        texts[1..],
        [
            "[Blackboard: tasks/foo] claimed by a3, v2".to_owned(),
            "[Blackboard: tasks/foo] deleted by a3".to_owned()
        ]
    );
}

#[tokio::test]
async fn watching_needs_read_permission() {
    let mesh = MeshProcess::start(MeshOptions::with_permissions(
        json!({"a": {"blackboard_read": ["tasks/*"]}}),
    ))
    .await;
    let a = mesh.agent("a").await;
    a.post("/mesh/blackboard/watch", &json!({"pattern": "tasks/*"}))
        .await
        .expect(200);
    let denied = a
        .post("/mesh/blackboard/watch", &json!({"pattern": "secrets/*"}))
        .await;
    assert_eq!(denied.status, 403);
}

#[tokio::test]
async fn case_20_limits() {
    let mesh = MeshProcess::start(open_board()).await;
    let a = mesh.agent("a").await;
    let long = format!("/mesh/blackboard/context/{}", "k".repeat(505));
    let too_long = a.put(&long, &json!({})).await;
    assert_eq!(too_long.status, 400);
    assert!(
        too_long.detail().contains("513 characters"),
        "{}",
        too_long.detail()
    );
    a.put(
        &format!("/mesh/blackboard/context/{}", "k".repeat(504)),
        &json!({}),
    )
    .await
    .expect(200);
    // 262,145 bytes of JSON: {"v":"xxx…"} is 8 bytes of syntax around the string.
    let big = json!({"v": "x".repeat(262_145 - 8)});
    assert_eq!(serde_json::to_string(&big).unwrap().len(), 262_145);
    let over = a.put("/mesh/blackboard/context/big", &big).await;
    assert_eq!(over.status, 413);
    assert!(over.detail().contains("262145 bytes"), "{}", over.detail());
    let fits = json!({"v": "x".repeat(262_144 - 8)});
    a.put("/mesh/blackboard/context/big", &fits)
        .await
        .expect(200);
    assert_eq!(
        a.put("/mesh/blackboard/context/t?ttl=0", &json!({}))
            .await
            .status,
        400
    );
    assert_eq!(
        a.put("/mesh/blackboard/context/t?ttl=-5", &json!({}))
            .await
            .status,
        400
    );
}

#[tokio::test]
async fn delete_and_missing_keys() {
    let mesh = MeshProcess::start(open_board()).await;
    let a = mesh.agent("a").await;
    a.put("/mesh/blackboard/context/gone", &json!({}))
        .await
        .expect(200);
    assert_eq!(
        a.delete("/mesh/blackboard/context/gone").await.expect(200),
        json!({"deleted": true, "key": "context/gone"})
    );
    let missing = a.get("/mesh/blackboard/context/gone").await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.detail(), "Key not found: context/gone");
    assert_eq!(a.delete("/mesh/blackboard/context/gone").await.status, 404);
    // A re-created key starts over at version 1.
    assert_eq!(
        a.put("/mesh/blackboard/context/gone", &json!({}))
            .await
            .expect(200)["version"],
        1
    );
    // Keys named like the action routes still work as keys.
    mesh.operator()
        .put("/mesh/blackboard/claim", &json!({"k": 1}))
        .await
        .expect(200);
    assert_eq!(
        mesh.operator()
            .get("/mesh/blackboard/claim")
            .await
            .expect(200)["value"]["k"],
        1
    );
}
