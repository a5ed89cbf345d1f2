//! Damaged and mismatched databases.

use openlegion_memory::{MemoryConfig, MemoryError, MemoryStore, NewFact, SearchOptions};

use crate::fixture::store;

#[tokio::test]
async fn a_file_that_is_not_a_database_is_moved_aside_and_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("memory.db");
    let garbage = b"this was never an SQLite database ".repeat(300);
    std::fs::write(&path, &garbage).unwrap();
    let store = store(dir.path(), None);
    let aside = store.moved_aside().expect("moved aside").to_owned();
    let name = aside.file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("memory.db.corrupt-20"), "{name}");
    assert_eq!(std::fs::read(&aside).unwrap(), garbage, "kept as it was");
    store.save(NewFact::new("k", "fresh start")).await.unwrap();
    let hits = store
        .search("fresh", SearchOptions::default())
        .await
        .unwrap();
    assert_eq!(hits.len(), 1);
    drop(store);
    // Healthy now: reopening keeps it.
    let store = crate::fixture::store(dir.path(), None);
    assert!(store.moved_aside().is_none());
    assert_eq!(store.facts().unwrap().len(), 1);
}

#[tokio::test]
async fn a_database_damaged_inside_is_moved_aside_too() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("memory.db");
    {
        let store = store(dir.path(), None);
        for i in 0..200 {
            store
                .save(NewFact::new(
                    format!("fact_{i}"),
                    format!("value number {i} ").repeat(20),
                ))
                .await
                .unwrap();
        }
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(None, "wal_checkpoint", "TRUNCATE")
            .unwrap();
    }
    let mut bytes = std::fs::read(&path).unwrap();
    assert!(bytes.len() > 64 * 1024);
    // Scribble over pages in the middle, leaving the header intact.
    for b in &mut bytes[16 * 1024..48 * 1024] {
        *b = 0xA5;
    }
    std::fs::write(&path, &bytes).unwrap();
    let store = store(dir.path(), None);
    assert!(store.moved_aside().is_some());
    assert!(store.facts().unwrap().is_empty());
}

#[tokio::test]
async fn a_database_of_other_vectors_is_refused_not_replaced() {
    let dir = tempfile::tempdir().unwrap();
    drop(store(dir.path(), None));
    let config = MemoryConfig {
        dimensions: 8,
        ..MemoryConfig::default()
    };
    let err = MemoryStore::open(&dir.path().join("memory.db"), None, config).unwrap_err();
    assert!(
        matches!(err, MemoryError::Dimensions { wanted: 8, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("holds 384-dimensional embeddings"),
        "{err}"
    );
}
