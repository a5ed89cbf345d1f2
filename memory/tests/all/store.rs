//! Saving: validation, dedup by key and by meaning, salience and decay.

use openlegion_memory::{MemoryError, NewFact, Saved, SearchOptions, boosted_salience};

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::fixture::{FailingFirst, Precomputed, fact, store};

#[tokio::test]
async fn oversized_and_malformed_facts_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path(), None);
    let huge = "x".repeat(5 << 20);
    let err = store.save(NewFact::new("notes", huge)).await.unwrap_err();
    assert!(
        matches!(
            err,
            MemoryError::TooLarge {
                field: "value",
                bytes: 5_242_880,
                limit: 16_384
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with("the fact's value is 5242880 bytes; the limit is 16384")
    );
    let cases = [
        (NewFact::new("  ", "v"), "the fact's key is empty"),
        (NewFact::new("k", ""), "the fact's value is empty"),
        (
            NewFact::new("k", "v").category(" "),
            "the fact's category is empty",
        ),
        (
            NewFact::new("k\u{0}", "v"),
            "the fact's key contains control characters",
        ),
        (
            NewFact {
                confidence: Some(1.5),
                ..NewFact::new("k", "v")
            },
            "the fact's confidence must be between 0 and 1",
        ),
    ];
    for (fact, message) in cases {
        assert_eq!(store.save(fact).await.unwrap_err().to_string(), message);
    }
    assert!(store.facts().unwrap().is_empty());
}

#[tokio::test]
async fn the_same_key_in_the_same_category_updates_even_without_vectors() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path(), None);
    let a = store
        .save(NewFact::new("user_city", "Paris"))
        .await
        .unwrap();
    let b = store
        .save(NewFact::new("User_City", "Berlin"))
        .await
        .unwrap();
    assert_eq!(b, Saved::Updated(a.id()));
    let other = store
        .save(NewFact::new("user_city", "Rome").category("travel"))
        .await
        .unwrap();
    assert!(matches!(other, Saved::Added(_)));
    let fact = store.get(a.id()).unwrap().unwrap();
    assert_eq!((fact.value.as_str(), fact.access_count), ("Berlin", 1));
    assert!(!fact.has_embedding);
    // The keyword index follows the update: the old value is gone from it.
    let hits = store
        .search("Paris", SearchOptions::default())
        .await
        .unwrap();
    assert!(hits.is_empty(), "{hits:?}");
    let hits = store
        .search("berlin", SearchOptions::default())
        .await
        .unwrap();
    assert_eq!(hits.len(), 1);
}

#[tokio::test]
async fn a_near_identical_fact_updates_and_a_related_one_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path(), Some(Precomputed::load()));
    let cat = store.save(fact("user_pet")).await.unwrap();
    // Cosine 0.943 to the first: the same fact reworded, in `general`.
    let again = store
        .save(NewFact::new("pet", "The user has a cat called Miso"))
        .await
        .unwrap();
    assert_eq!(again, Saved::Updated(cat.id()));
    // Cosine 0.42: about pets too, but another fact.
    let dog = store
        .save(
            NewFact::new("neighbour_dog", "The user's neighbour has a loud dog")
                .category("personal"),
        )
        .await
        .unwrap();
    assert!(matches!(dog, Saved::Added(_)));
    let facts = store.facts().unwrap();
    assert_eq!(facts.len(), 2);
    let cat = store.get(cat.id()).unwrap().unwrap();
    assert_eq!(
        (cat.key.as_str(), cat.value.as_str(), cat.category.as_str()),
        ("pet", "The user has a cat called Miso", "personal"),
        "the newer wording wins, the more specific category stays"
    );
    assert!(cat.has_embedding);
}

#[tokio::test]
async fn use_raises_salience_and_decay_lowers_it_to_a_floor() {
    assert!((boosted_salience(1, 0.0) - 1.693_147).abs() < 1e-6);
    assert!((boosted_salience(5, 0.0) - 2.791_759).abs() < 1e-6);
    assert!((boosted_salience(10, 5.0) - 2.798_421).abs() < 1e-6);
    assert!((boosted_salience(5, 20.0) - 1.179_176).abs() < 1e-6);
    assert_eq!(boosted_salience(u64::MAX, 0.0), 10.0);

    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path(), None);
    let id = store
        .save(NewFact::new("standup", "The team standup is at 9:30"))
        .await
        .unwrap()
        .id();
    let peek = SearchOptions {
        touch: false,
        ..SearchOptions::default()
    };
    store.search("standup", peek).await.unwrap();
    assert_eq!(
        store.get(id).unwrap().unwrap().access_count,
        0,
        "a peek is no use"
    );
    store
        .search("standup", SearchOptions::default())
        .await
        .unwrap();
    let fact = store.get(id).unwrap().unwrap();
    assert_eq!(fact.access_count, 1);
    assert!(
        (fact.salience - 1.693_147).abs() < 1e-3,
        "{}",
        fact.salience
    );
    assert!(fact.last_accessed.is_some());
    assert_eq!(store.decay().unwrap(), 1);
    let decayed = store.get(id).unwrap().unwrap().salience;
    assert!((decayed - fact.salience * 0.95).abs() < 1e-9, "{decayed}");
    for _ in 0..200 {
        store.decay().unwrap();
    }
    assert_eq!(store.get(id).unwrap().unwrap().salience, 0.01);
    assert_eq!(store.decay().unwrap(), 0, "nothing left above the floor");
    // Still found: a low salience ranks lower, it does not hide.
    assert_eq!(store.search("standup", peek).await.unwrap().len(), 1);
}

#[tokio::test]
async fn forgetting_removes_a_fact_from_both_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path(), Some(Precomputed::load()));
    let id = store
        .save(NewFact::new(
            "database",
            "The production database is PostgreSQL 16",
        ))
        .await
        .unwrap()
        .id();
    assert!(store.forget(id).unwrap());
    assert!(!store.forget(id).unwrap());
    let hits = store
        .search("which SQL server do we run", SearchOptions::default())
        .await
        .unwrap();
    assert!(hits.is_empty(), "{hits:?}");
}

#[tokio::test]
async fn choosing_a_category_then_saving_embeds_the_fact_once() {
    let dir = tempfile::tempdir().unwrap();
    let counting = Arc::new(FailingFirst {
        failures: 0,
        calls: AtomicUsize::new(0),
        then: Precomputed::load(),
    });
    let store = store(dir.path(), Some(counting.clone()));
    store.save(fact("user_pet")).await.unwrap();
    let before = counting.calls.load(Ordering::SeqCst);
    let (category, _) = store
        .nearest_category_for("pet", "The user has a cat called Miso", 0.5)
        .await
        .unwrap()
        .expect("near the personal facts");
    assert_eq!(category, "personal");
    store
        .save(NewFact::new("pet", "The user has a cat called Miso").category(category))
        .await
        .unwrap();
    assert_eq!(counting.calls.load(Ordering::SeqCst) - before, 1);
}
