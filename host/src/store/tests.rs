use openlegion_protocol::{AgentMessage, MessageType};
use serde_json::Map;

use super::blackboard::{self, BlackboardError};
use super::registry::{self, AgentRow};
use super::{Store, StoreError, inbox, now_micros};

fn open() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("mesh.db")).unwrap();
    (dir, store)
}

async fn put(
    store: &Store,
    key: &'static str,
    value: &'static str,
    ttl: Option<u64>,
    now: i64,
) -> Result<openlegion_protocol::BlackboardEntry, BlackboardError> {
    store
        .write(move |c| blackboard::put(c, key, value, "a1", ttl, now))
        .await
}

#[tokio::test]
async fn versions_and_history() {
    let (_dir, store) = open();
    let now = now_micros();
    let first = put(&store, "context/test", r#"{"data":"hello"}"#, None, now)
        .await
        .unwrap();
    assert_eq!((first.version, first.written_by.as_str()), (1, "a1"));
    let second = put(&store, "context/test", r#"{"v":2}"#, None, now + 1)
        .await
        .unwrap();
    assert_eq!(second.version, 2);
    assert_eq!(second.created_at, first.created_at);
    put(&store, "history/r1", "{}", None, now).await.unwrap();
    let again = put(&store, "history/r1", "{}", None, now)
        .await
        .unwrap_err();
    assert!(matches!(again, BlackboardError::HistoryExists { .. }));
}

#[tokio::test]
async fn ttl_hides_then_gc_deletes() {
    let (_dir, store) = open();
    let now = now_micros();
    put(&store, "signals/op/live", "{}", None, now)
        .await
        .unwrap();
    put(&store, "signals/op/fresh", "{}", Some(3600), now)
        .await
        .unwrap();
    put(
        &store,
        "signals/op/stale",
        "{}",
        Some(60),
        now - 7_200_000_000,
    )
    .await
    .unwrap();
    let keys: Vec<String> = store
        .read(move |c| blackboard::list(c, "signals/op/", now, 100))
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.key)
        .collect();
    assert_eq!(keys, ["signals/op/fresh", "signals/op/live"]);
    assert!(
        store
            .read(move |c| blackboard::get(c, "signals/op/stale", now))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store.write(move |c| blackboard::gc(c, now)).await.unwrap(),
        1
    );
    // Writing an expired key starts it over at version 1.
    put(&store, "x", "{}", Some(1), now - 5_000_000)
        .await
        .unwrap();
    assert_eq!(put(&store, "x", "{}", None, now).await.unwrap().version, 1);
}

#[tokio::test]
async fn claim_is_compare_and_swap() {
    let (_dir, store) = open();
    let now = now_micros();
    put(&store, "tasks/claim_me", r#"{"v":0}"#, None, now)
        .await
        .unwrap();
    let won = store
        .write(move |c| blackboard::claim(c, "tasks/claim_me", r#"{"v":1}"#, "b", 1, now))
        .await
        .unwrap();
    assert_eq!(won.version, 2);
    let lost = store
        .write(move |c| blackboard::claim(c, "tasks/claim_me", r#"{"v":9}"#, "c", 1, now))
        .await;
    assert!(matches!(lost, Err(BlackboardError::Conflict { .. })));
    let missing = store
        .write(move |c| blackboard::claim(c, "tasks/nope", "{}", "c", 1, now))
        .await;
    assert!(matches!(missing, Err(BlackboardError::Conflict { .. })));
    let current = store
        .read(move |c| blackboard::get(c, "tasks/claim_me", now))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(current.value["v"], 1);
}

#[tokio::test]
async fn a_failing_write_rolls_back_alone() {
    let (_dir, store) = open();
    let now = now_micros();
    let ok = put(&store, "k/ok", "{}", None, now);
    let bad = store.write(move |c| {
        blackboard::put(c, "k/bad", "{}", "a", None, now)?;
        Err::<(), _>(BlackboardError::Conflict {
            key: "k/bad".into(),
        })
    });
    let (ok, bad) = tokio::join!(ok, bad);
    ok.unwrap();
    bad.unwrap_err();
    let keys = store
        .read(move |c| blackboard::list(c, "k/", now, 10))
        .await
        .unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].key, "k/ok");
}

#[tokio::test]
async fn concurrent_writes_all_commit() {
    let (_dir, store) = open();
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let key = format!("c/{i:03}");
                store
                    .write(move |c| blackboard::put(c, &key, "{}", "a", None, now_micros()))
                    .await
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let all = store
        .read(|c| blackboard::list(c, "c/", now_micros(), 1000))
        .await
        .unwrap();
    assert_eq!(all.len(), 200);
}

#[tokio::test]
async fn inbox_is_bounded_and_ordered() {
    let (_dir, store) = open();
    let now = now_micros();
    store
        .write(move |c| {
            registry::upsert_agent(
                c,
                &AgentRow {
                    id: "b".into(),
                    role: String::new(),
                    capabilities: vec![],
                    url: None,
                    registered: true,
                    registered_at: now,
                },
            )
        })
        .await
        .unwrap();
    for i in 0..3 {
        let msg = AgentMessage::new(
            "a",
            "b",
            MessageType::Event,
            Map::from_iter([("i".into(), i.into())]),
        );
        let seq = store
            .write(move |c| inbox::enqueue(c, "b", &msg, 2, now))
            .await
            .unwrap();
        assert_eq!(seq.is_some(), i < 2, "message {i}");
    }
    let queued = store
        .read(|c| inbox::pending(c, "b", 0, 10, true))
        .await
        .unwrap();
    assert_eq!(queued.len(), 2);
    assert_eq!(queued[0].message.payload["i"], 0);
    let first = queued[0].seq;
    store
        .write(move |c| inbox::ack(c, "b", first))
        .await
        .unwrap();
    let left = store
        .read(|c| inbox::pending(c, "b", 0, 10, true))
        .await
        .unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].message.payload["i"], 1);
    // Deleting the agent drops its inbox too.
    store
        .write(|c| registry::delete_agent(c, "b"))
        .await
        .unwrap();
    assert_eq!(store.read(|c| inbox::count(c, "b")).await.unwrap(), 0);
}

#[tokio::test]
async fn newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mesh.db");
    drop(Store::open(&path).unwrap());
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("PRAGMA user_version = 99")
        .unwrap();
    assert!(matches!(
        Store::open(&path),
        Err(StoreError::NewerSchema { found: 99, .. })
    ));
}

#[tokio::test]
async fn garbage_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mesh.db");
    std::fs::write(&path, vec![0x42u8; 8192]).unwrap();
    let err = Store::open(&path).unwrap_err().to_string();
    assert!(err.contains("mesh.db"), "{err}");
}
