//! Embedders for the tests: real vectors looked up by text, and failing ones.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use openlegion_memory::{EmbedError, Embedder, MemoryConfig, MemoryStore, NewFact};

/// The vectors all-MiniLM-L6-v2 gives the texts of `data/vectors.json`. Asking for any
/// other text is a mistake in the test, not a semantic guess: it panics.
#[derive(Debug)]
pub(crate) struct Precomputed(HashMap<String, Vec<f32>>);

impl Precomputed {
    pub(crate) fn load() -> Arc<Self> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/vectors.json");
        let file: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let texts: Vec<String> = serde_json::from_value(file["texts"].clone()).unwrap();
        let vectors: Vec<Vec<f32>> = serde_json::from_value(file["vectors"].clone()).unwrap();
        assert_eq!(texts.len(), vectors.len());
        Arc::new(Self(texts.into_iter().zip(vectors).collect()))
    }
}

#[async_trait::async_trait]
impl Embedder for Precomputed {
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        Ok(texts
            .iter()
            .map(|t| {
                self.0
                    .get(t)
                    .unwrap_or_else(|| panic!("no precomputed vector for {t:?}"))
                    .clone()
            })
            .collect())
    }
}

/// Fails its first `failures` calls (like a mesh without a model), then answers from
/// [`Precomputed`].
#[derive(Debug)]
pub(crate) struct FailingFirst {
    pub(crate) failures: usize,
    pub(crate) calls: AtomicUsize,
    pub(crate) then: Arc<Precomputed>,
}

#[async_trait::async_trait]
impl Embedder for FailingFirst {
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        if self.calls.fetch_add(1, Ordering::SeqCst) < self.failures {
            return Err("the local embedding model is not installed".into());
        }
        self.then.embed(texts).await
    }
}

/// A store in `dir` with `embedder`.
pub(crate) fn store(dir: &Path, embedder: Option<Arc<dyn Embedder>>) -> MemoryStore {
    MemoryStore::open(&dir.join("memory.db"), embedder, MemoryConfig::default()).unwrap()
}

/// Facts of `data/vectors.json`, saved by `fill` in the search tests: key, value, category.
pub(crate) const FACTS: [(&str, &str, &str); 6] = [
    ("user_pet", "The user has a cat named Miso", "personal"),
    (
        "deploy_day",
        "Deployments to production happen on Thursdays",
        "work",
    ),
    (
        "database",
        "The production database is PostgreSQL 16",
        "work",
    ),
    ("favourite_food", "The user loves spicy ramen", "personal"),
    (
        "standup_time",
        "The team standup is at 9:30 every morning",
        "work",
    ),
    (
        "neighbour_dog",
        "The user's neighbour has a loud dog",
        "personal",
    ),
];

/// Fact `key` of [`FACTS`], with its category.
pub(crate) fn fact(key: &str) -> NewFact {
    let (key, value, category) = FACTS
        .into_iter()
        .find(|(k, ..)| *k == key)
        .unwrap_or_else(|| panic!("no fact {key} in FACTS"));
    NewFact::new(key, value).category(category)
}
