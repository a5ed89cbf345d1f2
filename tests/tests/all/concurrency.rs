//! Concurrent compare-and-swap: one winner per version, no lost update.

use std::collections::BTreeSet;

use openlegion_tests::{MeshOptions, MeshProcess};
use serde_json::json;

#[tokio::test]
async fn thirty_two_claimers_on_one_key() {
    let mesh = MeshProcess::start(MeshOptions::with_permissions(json!({
        "default": {"blackboard_read": ["counter"], "blackboard_write": ["counter"]}
    })))
    .await;
    let setup = mesh.agent("setup").await;
    setup
        .put("/mesh/blackboard/counter", &json!({"count": 0}))
        .await
        .expect(200);
    const WRITERS: usize = 32;
    const INCREMENTS: u64 = 10;
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let agent = mesh.agent(&format!("w{w}")).await;
        tasks.push(tokio::spawn(async move {
            let mut won = Vec::new();
            let mut conflicts = 0;
            while (won.len() as u64) < INCREMENTS {
                let current = agent.get("/mesh/blackboard/counter").await.expect(200);
                let version = current["version"].as_u64().unwrap();
                let count = current["value"]["count"].as_u64().unwrap();
                let claim = json!({"key": "counter", "value": {"count": count + 1}, "expected_version": version});
                let reply = agent.post("/mesh/blackboard/claim", &claim).await;
                match reply.status.as_u16() {
                    200 => {
                        assert_eq!(reply.body["version"], version + 1);
                        won.push(version + 1);
                    }
                    409 => conflicts += 1,
                    other => panic!("unexpected {other}: {}", reply.body),
                }
            }
            (won, conflicts)
        }));
    }
    let mut versions = BTreeSet::new();
    let mut conflicts = 0;
    for t in tasks {
        let (won, lost) = t.await.unwrap();
        conflicts += lost;
        for v in won {
            assert!(versions.insert(v), "version {v} was won twice");
        }
    }
    let total = WRITERS as u64 * INCREMENTS;
    assert_eq!(
        versions,
        (2..=total + 1).collect::<BTreeSet<_>>(),
        "every version won exactly once"
    );
    let last = setup.get("/mesh/blackboard/counter").await.expect(200);
    assert_eq!(last["value"]["count"], total, "no lost update");
    assert_eq!(last["version"], total + 1);
    assert!(conflicts > 0, "the test should have produced contention");
}
