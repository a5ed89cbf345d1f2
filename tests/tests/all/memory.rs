//! Agent memory with real embeddings: the agent's `MeshEmbedder` asking a real mesh that
//! runs the local model. The labelled evaluation set (memory/tests/data/eval.json) measures
//! recall@5 of keyword-only against hybrid search; the memory crate's own tests use
//! vectors precomputed by this model (memory/tests/data/vectors.json), checked here.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use openlegion_agent::config::MeshAddr;
use openlegion_agent::memory::MeshEmbedder;
use openlegion_agent::mesh_client::MeshClient;
use openlegion_memory::eval::{EvalSet, recall_at_5};
use openlegion_memory::{Embedder, MemoryConfig, MemoryStore, NewFact, Saved, SearchOptions};
use openlegion_tests::{MeshOptions, MeshProcess, local_models_dir};
use serde_json::{Value, json};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .join("memory/tests/data")
        .join(name)
}

/// A mesh running the local model, and agent `a`'s own embedder through it.
async fn mesh_and_embedder(models: &Path) -> (MeshProcess, Arc<dyn Embedder>) {
    let mesh = MeshProcess::start(MeshOptions {
        permissions: Some(json!({"permissions": {"default": {"allowed_apis": ["llm"]}}})),
        agents_yaml: "agents:\n  a: {}\n".into(),
        mesh_yaml: "llm:\n  embedding_model: local/all-minilm-l6-v2\n".into(),
        env: vec![("OPENLEGION_MODELS_DIR".into(), models.display().to_string())],
        ..MeshOptions::default()
    })
    .await;
    let a = mesh.agent("a").await;
    let client = MeshClient::new(&MeshAddr::Tcp(mesh.url().to_owned()), a.token().unwrap());
    (mesh, Arc::new(MeshEmbedder::new(client)))
}

fn no_touch(limit: usize) -> SearchOptions {
    SearchOptions {
        limit,
        touch: false,
        tiered: true,
    }
}

#[tokio::test]
async fn precomputed_vectors_are_the_models() {
    let models = local_models_dir();
    let (_mesh, embedder) = mesh_and_embedder(&models).await;
    let path = data("vectors.json");
    let mut file: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let texts: Vec<String> = serde_json::from_value(file["texts"].clone()).unwrap();
    let vectors = embedder.embed(&texts).await.unwrap();
    if std::env::var_os("OPENLEGION_UPDATE_VECTORS").is_some() {
        let rounded: Vec<Vec<f64>> = vectors
            .iter()
            .map(|v| {
                v.iter()
                    .map(|&x| (f64::from(x) * 1e6).round() / 1e6)
                    .collect()
            })
            .collect();
        file["vectors"] = json!(rounded);
        std::fs::write(&path, serde_json::to_string(&file).unwrap()).unwrap();
        return;
    }
    let stored: Vec<Vec<f32>> = serde_json::from_value(file["vectors"].clone()).unwrap();
    assert_eq!(
        stored.len(),
        texts.len(),
        "run with OPENLEGION_UPDATE_VECTORS=1"
    );
    for ((text, got), want) in texts.iter().zip(&vectors).zip(&stored) {
        let drift = got
            .iter()
            .zip(want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(drift < 1e-4, "{text:?} drifted by {drift}");
    }
}

#[tokio::test]
async fn agent_memory_through_the_mesh_dedups_and_finds_by_meaning() {
    let models = local_models_dir();
    let (_mesh, embedder) = mesh_and_embedder(&models).await;
    let dir = tempfile::tempdir().unwrap();
    let store = MemoryStore::open(
        &dir.path().join("memory.db"),
        Some(embedder),
        MemoryConfig::default(),
    )
    .unwrap();
    let first = store
        .save(NewFact::new("user_pet", "The user has a cat named Miso").category("personal"))
        .await
        .unwrap();
    let again = store
        .save(NewFact::new("pet", "The user has a cat called Miso"))
        .await
        .unwrap();
    assert_eq!(
        again,
        Saved::Updated(first.id()),
        "a near-identical fact updates"
    );
    store
        .save(
            NewFact::new("release_day", "Production releases go out on Thursdays").category("work"),
        )
        .await
        .unwrap();
    let facts = store.facts().unwrap();
    assert_eq!(facts.len(), 2);
    assert!(facts.iter().all(|f| f.has_embedding));
    let hits = store
        .search("what animal does the user own", SearchOptions::default())
        .await
        .unwrap();
    assert_eq!(
        hits[0].fact.value, "The user has a cat called Miso",
        "{hits:#?}"
    );
    assert_eq!(hits[0].fact.category, "personal");
    let hits = store
        .search("when do we ship to prod", no_touch(1))
        .await
        .unwrap();
    assert_eq!(hits[0].fact.key, "release_day", "{hits:#?}");
}

#[tokio::test]
async fn hybrid_search_beats_keywords_on_the_labelled_set() {
    let models = local_models_dir();
    let set = EvalSet::bundled();
    assert!(set.facts.len() >= 50 && set.queries.len() >= 20);
    let (_mesh, embedder) = mesh_and_embedder(&models).await;
    let dir = tempfile::tempdir().unwrap();
    let keyword_only = MemoryStore::open(
        &dir.path().join("keywords.db"),
        None,
        MemoryConfig::default(),
    )
    .unwrap();
    let hybrid = MemoryStore::open(
        &dir.path().join("hybrid.db"),
        Some(Arc::clone(&embedder)),
        MemoryConfig::default(),
    )
    .unwrap();
    let started = Instant::now();
    for fact in set.new_facts() {
        let key = fact.key.clone();
        assert!(
            matches!(hybrid.save(fact.clone()).await.unwrap(), Saved::Added(_)),
            "{key}"
        );
        keyword_only.save(fact).await.unwrap();
    }
    let per_fact = started.elapsed() / set.facts.len() as u32;
    // The embedding alone, one request per fact and one request for all (through the mesh).
    let texts: Vec<String> = set.facts.iter().map(|f| f.value.clone()).collect();
    let started = Instant::now();
    for t in &texts {
        embedder.embed(std::slice::from_ref(t)).await.unwrap();
    }
    let embed_single = started.elapsed() / texts.len() as u32;
    let started = Instant::now();
    embedder.embed(&texts).await.unwrap();
    let embed_batched = started.elapsed() / texts.len() as u32;
    let started = Instant::now();
    let (keywords, keyword_misses) = recall_at_5(&keyword_only, &set, true).await.unwrap();
    let keyword_latency = started.elapsed() / set.queries.len() as u32;
    let started = Instant::now();
    let (tiered, tiered_misses) = recall_at_5(&hybrid, &set, true).await.unwrap();
    let hybrid_latency = started.elapsed() / set.queries.len() as u32;
    let (flat, _) = recall_at_5(&hybrid, &set, false).await.unwrap();
    eprintln!(
        "memory eval ({} facts, {} queries): recall@5 keyword-only {keywords:.3}, hybrid tiered \
         {tiered:.3}, hybrid flat {flat:.3}; embedding through the mesh {embed_single:?}/fact \
         alone, {embed_batched:?}/fact in one batch; save {per_fact:?}/fact (into both \
         stores); search {keyword_latency:?} keyword-only, {hybrid_latency:?} hybrid\n\
         keyword-only misses:\n  {}\nhybrid misses:\n  {}",
        set.facts.len(),
        set.queries.len(),
        keyword_misses.join("\n  "),
        tiered_misses.join("\n  "),
    );
    assert!(
        tiered > keywords + 0.15,
        "hybrid {tiered:.3} should clearly beat keyword-only {keywords:.3}"
    );
    assert!(tiered >= 0.8, "hybrid recall@5 {tiered:.3}");
}
