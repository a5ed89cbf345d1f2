//! The labelled evaluation set (`tests/data/eval.json`: facts, and questions with the keys
//! of the facts that answer them) and recall@5 over it, shared by the tests, which hold
//! hybrid search to beating keywords, and the benchmark, which watches recall as the store
//! grows.

use serde::Deserialize;

use crate::{MemoryError, MemoryStore, NewFact, SearchOptions};

#[derive(Debug, Clone, Deserialize)]
pub struct EvalSet {
    pub facts: Vec<EvalFact>,
    pub queries: Vec<EvalQuery>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EvalFact {
    pub key: String,
    pub category: String,
    pub value: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EvalQuery {
    pub query: String,
    /// Keys of facts that answer it; any of them in the top 5 counts as found.
    pub expected: Vec<String>,
}

impl EvalSet {
    /// The set kept in the repository.
    pub fn bundled() -> Self {
        serde_json::from_str(include_str!("../tests/data/eval.json"))
            .expect("tests/data/eval.json is a valid evaluation set")
    }

    /// Each fact as it is saved.
    pub fn new_facts(&self) -> impl Iterator<Item = NewFact> + '_ {
        self.facts
            .iter()
            .map(|f| NewFact::new(&f.key, &f.value).category(&f.category))
    }
}

/// The share of `set`'s queries with an expected fact among the top 5 of `store` (which
/// the searches do not touch), and the misses as `"query" → [keys found]`.
pub async fn recall_at_5(
    store: &MemoryStore,
    set: &EvalSet,
    tiered: bool,
) -> Result<(f64, Vec<String>), MemoryError> {
    let mut found = 0;
    let mut misses = Vec::new();
    let options = SearchOptions {
        limit: 5,
        touch: false,
        tiered,
    };
    for q in &set.queries {
        let hits = store.search(&q.query, options).await?;
        if hits.iter().any(|h| q.expected.contains(&h.fact.key)) {
            found += 1;
        } else {
            let got: Vec<&str> = hits.iter().map(|h| h.fact.key.as_str()).collect();
            misses.push(format!("{:?} → {got:?}", q.query));
        }
    }
    Ok((f64::from(found) / set.queries.len() as f64, misses))
}
