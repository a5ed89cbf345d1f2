//! Acknowledged writes survive `kill -9`.

use openlegion_tests::{Client, MeshOptions, MeshProcess};
use serde_json::json;

#[tokio::test]
async fn a_thousand_acknowledged_writes_survive_kill_9() {
    let mut mesh = MeshProcess::start(MeshOptions::with_permissions(json!({
        "default": {"blackboard_read": ["*"], "blackboard_write": ["*"]}
    })))
    .await;
    let a = mesh.agent("writer").await;
    // 8 concurrent writers, 125 writes each: 1000 keys, every 10th written twice.
    let mut tasks = Vec::new();
    for w in 0..8 {
        let a = a.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..125 {
                let n = w * 125 + i;
                a.put(
                    &format!("/mesh/blackboard/durable/{n:04}"),
                    &json!({"n": n}),
                )
                .await
                .expect(200);
                if n % 10 == 0 {
                    a.put(
                        &format!("/mesh/blackboard/durable/{n:04}"),
                        &json!({"n": n, "again": true}),
                    )
                    .await
                    .expect(200);
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    mesh.kill9();
    mesh.restart().await;
    let a = Client::new(mesh.url(), a.token());
    let all = a
        .get("/mesh/blackboard/?prefix=durable/&limit=5000")
        .await
        .expect(200);
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 1000);
    for (n, entry) in all.iter().enumerate() {
        assert_eq!(entry["key"], format!("durable/{n:04}"));
        assert_eq!(entry["value"]["n"], n);
        let twice = n % 10 == 0;
        assert_eq!(entry["version"], if twice { 2 } else { 1 }, "{entry}");
        assert_eq!(entry["value"].get("again").is_some(), twice);
    }
}
