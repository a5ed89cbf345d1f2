//! `memory`: what reaches the agent's `MemoryCap` (bounded, each parameter named), and the
//! refusal when it is not granted. The memory itself is the agent's, tested there.

use std::sync::Arc;

use openlegion_skill_host::testing::{Recorded, RecordingMemory};
use openlegion_skill_host::{
    Capabilities, Capability, FactRequest, MAX_FACT_VALUE_BYTES, Manifest, SkillHost,
    SkillHostSettings,
};
use serde_json::json;

use crate::support::{fixture, shared_cache};

async fn host(allowed: &[Capability]) -> (SkillHost, Arc<RecordingMemory>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let memory = Arc::new(RecordingMemory::default());
    let mut caps = Capabilities::new(dir.path()).allowing(allowed.iter().copied());
    caps.memory = memory.clone();
    let host = SkillHost::new(SkillHostSettings::new(shared_cache()), caps).unwrap();
    let manifest = Manifest::new("echo", "0.1.0").with_capabilities([Capability::Memory]);
    host.load_bytes(manifest, fixture("echo")).await.unwrap();
    (host, memory, dir)
}

async fn cap(host: &SkillHost, args: serde_json::Value) -> Result<String, String> {
    host.invoke("cap", &args.to_string())
        .await
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn save_search_and_recall_reach_the_agent() {
    let (host, memory, _dir) = host(&[Capability::Memory]).await;
    let saved = cap(
        &host,
        json!({"op": "save", "key": "cat", "value": "Whiskerino", "category": "pets"}),
    )
    .await;
    assert_eq!(saved.unwrap(), r#"{"ok": true}"#);
    cap(&host, json!({"op": "search", "query": "cat"}))
        .await
        .unwrap();
    cap(
        &host,
        json!({"op": "recall", "query": "cat", "category": "pets", "limit": 3}),
    )
    .await
    .unwrap();
    assert_eq!(
        memory.calls(),
        [
            Recorded::SaveFact(
                "echo".into(),
                FactRequest {
                    key: "cat".into(),
                    value: "Whiskerino".into(),
                    category: Some("pets".into()),
                    source: None,
                }
            ),
            Recorded::SearchMemory("echo".into(), "cat".into(), 5),
            Recorded::Recall("echo".into(), "cat".into(), Some("pets".into()), 3),
        ]
    );
}

#[tokio::test]
async fn oversized_and_empty_input_is_refused_naming_the_parameter() {
    let (host, memory, _dir) = host(&[Capability::Memory]).await;
    let huge = cap(
        &host,
        json!({"op": "save", "key": "k", "value": "x", "repeat": MAX_FACT_VALUE_BYTES + 1}),
    )
    .await
    .unwrap_err();
    assert!(
        huge.contains(&format!(
            "value is {} bytes, more than the {MAX_FACT_VALUE_BYTES} allowed",
            MAX_FACT_VALUE_BYTES + 1
        )),
        "{huge}"
    );
    let empty = cap(&host, json!({"op": "search", "query": " "}))
        .await
        .unwrap_err();
    assert!(empty.contains("query is empty"), "{empty}");
    let many = cap(&host, json!({"op": "recall", "query": "q", "limit": 500}))
        .await
        .unwrap_err();
    assert!(many.contains("limit is 500; at most 50 results"), "{many}");
    assert!(memory.calls().is_empty());
}

#[tokio::test]
async fn memory_is_refused_unless_granted() {
    let (host, memory, _dir) = host(&[]).await;
    let refused = cap(&host, json!({"op": "recall", "query": "cat"}))
        .await
        .unwrap_err();
    assert!(
        refused.contains("capability 'memory' is not granted to skill 'echo'"),
        "{refused}"
    );
    assert!(memory.calls().is_empty());
}
