//! Searching: by meaning and by words, the tiers, stop words, and search without vectors.

use std::io::Write;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};

use openlegion_memory::{MemoryStore, SearchOptions, Tier};

use crate::fixture::{FACTS, FailingFirst, Precomputed, fact, store};

const PEEK: SearchOptions = SearchOptions {
    limit: 5,
    touch: false,
    tiered: true,
};

/// Saves every fact of [`FACTS`].
async fn fill(store: &MemoryStore) {
    for (key, ..) in FACTS {
        store.save(fact(key)).await.unwrap();
    }
}

fn keys(hits: &[openlegion_memory::Hit]) -> Vec<&str> {
    hits.iter().map(|h| h.fact.key.as_str()).collect()
}

#[tokio::test]
async fn meaning_finds_what_words_cannot() {
    let dir = tempfile::tempdir().unwrap();
    let hybrid = store(&dir.path().join("h"), Some(Precomputed::load()));
    let keywords = store(&dir.path().join("k"), None);
    fill(&hybrid).await;
    fill(&keywords).await;

    // No word in common with the fact.
    let hits = hybrid
        .search("when do we ship releases", PEEK)
        .await
        .unwrap();
    assert_eq!(hits[0].fact.key, "deploy_day", "{:?}", keys(&hits));
    assert!(hits[0].vector.unwrap() > 0.3 && hits[0].keyword.is_none());
    assert!(
        keywords
            .search("when do we ship releases", PEEK)
            .await
            .unwrap()
            .is_empty()
    );

    // One word in common with three facts ("user"); only the meaning picks the cat.
    let hits = hybrid
        .search("what animal does the user own", PEEK)
        .await
        .unwrap();
    assert_eq!(hits[0].fact.key, "user_pet", "{:?}", keys(&hits));
    let by_words = keywords
        .search("what animal does the user own", PEEK)
        .await
        .unwrap();
    assert_eq!(by_words.len(), 3, "{:?}", keys(&by_words));
    assert!(
        by_words
            .iter()
            .all(|h| h.vector.is_none() && h.keyword.is_some())
    );

    let hits = hybrid
        .search("which SQL server do we run", PEEK)
        .await
        .unwrap();
    assert_eq!(hits[0].fact.key, "database", "{:?}", keys(&hits));
    // Scores are ordered, and the best keyword hit scores 1.
    assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
}

#[tokio::test]
async fn a_query_of_stop_words_finds_nothing_and_asks_no_embedder() {
    let dir = tempfile::tempdir().unwrap();
    // Precomputed panics on a text it has no vector for: the query must not reach it.
    let store = store(dir.path(), Some(Precomputed::load()));
    fill(&store).await;
    for query in ["", "   ", "the of and a I is", "?!", "it is, as it was"] {
        assert!(
            store.search(query, PEEK).await.unwrap().is_empty(),
            "{query:?}"
        );
    }
}

#[tokio::test]
async fn the_categories_the_query_is_about_come_first() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path(), Some(Precomputed::load()));
    fill(&store).await;
    let hits = store.search("work schedule", PEEK).await.unwrap();
    assert_eq!(hits.len(), 5);
    let tiers: Vec<(Tier, &str)> = hits
        .iter()
        .map(|h| (h.tier, h.fact.category.as_str()))
        .collect();
    assert_eq!(
        tiers,
        [
            (Tier::Category, "work"),
            (Tier::Category, "work"),
            (Tier::Category, "work"),
            (Tier::Flat, "personal"),
            (Tier::Flat, "personal"),
        ]
    );
    assert_eq!(hits[0].fact.key, "standup_time", "{:?}", keys(&hits));
    // Flat, the same query ranks everything together.
    let flat = SearchOptions {
        tiered: false,
        ..PEEK
    };
    let hits = store.search("work schedule", flat).await.unwrap();
    assert!(hits.iter().all(|h| h.tier == Tier::Flat));
}

#[tokio::test]
async fn a_category_saved_after_a_search_is_seen_by_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path(), Some(Precomputed::load()));
    store.save(fact("deploy_day")).await.unwrap();
    // Near the personal facts by meaning only (no word names the category).
    let query = "what animal does the user own";
    let hits = store.search(query, PEEK).await.unwrap();
    assert!(
        hits.iter().all(|h| h.tier == Tier::Flat),
        "{:?}",
        keys(&hits)
    );
    // The centroids computed for that search must not hide the new category.
    fill(&store).await;
    let hits = store.search(query, PEEK).await.unwrap();
    assert_eq!(
        (hits[0].tier, hits[0].fact.key.as_str()),
        (Tier::Category, "user_pet"),
        "{:?}",
        keys(&hits)
    );
}

/// Collects the log of the current thread.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl Write for Log {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Log {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[tokio::test]
async fn without_an_embedder_search_falls_back_to_keywords_says_so_once_and_recovers() {
    let log = Log::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let dir = tempfile::tempdir().unwrap();
    let embedder = Arc::new(FailingFirst {
        failures: 4,
        calls: AtomicUsize::new(0),
        then: Precomputed::load(),
    });
    let store = store(dir.path(), Some(embedder));
    // Four failed calls: two saves, two searches. None of them fails.
    store.save(fact("user_pet")).await.unwrap();
    store.save(fact("deploy_day")).await.unwrap();
    let hits = store
        .search("what animal does the user own", PEEK)
        .await
        .unwrap();
    assert_eq!(keys(&hits), ["user_pet"], "by the word \"user\"");
    assert!(
        store
            .search("when do we ship releases", PEEK)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.facts().unwrap().iter().all(|f| !f.has_embedding));
    assert_eq!(
        log.text().matches("keyword-only").count(),
        1,
        "{}",
        log.text()
    );

    // The embedder answers again: the facts saved without vectors get them.
    assert_eq!(store.backfill(100).await.unwrap(), 2);
    assert_eq!(store.backfill(100).await.unwrap(), 0);
    assert!(store.facts().unwrap().iter().all(|f| f.has_embedding));
    let hits = store
        .search("when do we ship releases", PEEK)
        .await
        .unwrap();
    assert_eq!(hits[0].fact.key, "deploy_day");
    assert_eq!(
        log.text().matches("hybrid again").count(),
        1,
        "{}",
        log.text()
    );
}
