//! The mesh's own embedding model (`local/all-minilm-l6-v2`) through `/mesh/api`: real
//! vectors from the real model, as agents get them for their memory.

use openlegion_tests::{Client, MeshOptions, MeshProcess, local_models_dir};
use serde_json::{Value, json};

const LOCAL: &str = "local/all-minilm-l6-v2";

async fn mesh_with_models(models: &std::path::Path) -> MeshProcess {
    MeshProcess::start(MeshOptions {
        permissions: Some(json!({"permissions": {"default": {"allowed_apis": ["llm"]}}})),
        agents_yaml: "agents:\n  a: {}\n".into(),
        mesh_yaml: format!("llm:\n  embedding_model: {LOCAL}\n"),
        env: vec![("OPENLEGION_MODELS_DIR".into(), models.display().to_string())],
        ..MeshOptions::default()
    })
    .await
}

async fn embed(agent: &Client, input: Value) -> Value {
    let r = agent
        .post(
            "/mesh/api",
            &json!({"service": "llm", "action": "embed", "params": {"input": input}}),
        )
        .await
        .expect(200);
    assert_eq!(r["success"], true, "{r}");
    r["data"].clone()
}

fn vectors(data: &Value) -> Vec<Vec<f32>> {
    serde_json::from_value(data["embeddings"].clone()).unwrap()
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[tokio::test]
async fn local_embeddings_are_real_sentence_vectors() {
    let models = local_models_dir();
    let mesh = mesh_with_models(&models).await;
    let a = mesh.agent("a").await;
    let sentences = [
        "The cat sleeps on the warm windowsill.",
        "A kitten is napping in the sun by the window.",
        "Quarterly tax filings are due at the end of the month.",
        "A man is eating food.",
        "A man is eating a piece of bread.",
        "A man is riding a horse.",
    ];
    let data = embed(&a, json!(sentences)).await;
    assert_eq!(data["model"], LOCAL, "{data}");
    assert_eq!(data["cost_usd"], 0.0, "{data}");
    let v = vectors(&data);
    assert_eq!(v.len(), sentences.len());
    for (s, e) in sentences.iter().zip(&v) {
        assert_eq!(e.len(), 384, "{s}");
        let norm = e.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "{s}: norm {norm}");
    }
    let cats = cosine(&v[0], &v[1]);
    assert!(
        cats > cosine(&v[0], &v[2]) + 0.3 && cats > cosine(&v[1], &v[2]) + 0.3,
        "cat/cat {cats}, cat/tax {} and {}",
        cosine(&v[0], &v[2]),
        cosine(&v[1], &v[2])
    );
    // The values sentence-transformers documents for this model and these sentences.
    let bread = cosine(&v[3], &v[4]);
    let horse = cosine(&v[3], &v[5]);
    assert!((bread - 0.7553).abs() < 0.002, "food/bread {bread}");
    assert!((horse - 0.2474).abs() < 0.002, "food/horse {horse}");

    // Deterministic: the same input again, alone (the single-text shape), and in another
    // batch, padded to another length.
    let again = vectors(&embed(&a, json!(sentences)).await);
    assert_eq!(again, v, "same batch, same bits");
    let single = embed(&a, json!(sentences[2])).await;
    let single: Vec<f32> = serde_json::from_value(single["embedding"].clone()).unwrap();
    assert!(cosine(&single, &v[2]) > 0.99999, "alone vs in a batch");
}

#[tokio::test]
async fn local_embeddings_without_the_model_say_how_to_get_it() {
    let empty = tempfile::tempdir().unwrap();
    let mesh = mesh_with_models(empty.path()).await;
    let a = mesh.agent("a").await;
    let r = a
        .post(
            "/mesh/api",
            &json!({"service": "llm", "action": "embed", "params": {"text": "hello"}}),
        )
        .await
        .expect(200);
    assert_eq!(r["success"], false, "{r}");
    let error = r["error"].as_str().unwrap();
    for needle in [
        "not installed",
        "openlegion setup",
        "OPENLEGION_MODELS_DIR",
        "all-minilm-l6-v2",
    ] {
        assert!(error.contains(needle), "{needle:?} not in {error:?}");
    }
    // The operator may name any model, but the local one only embeds, and there is no
    // other local one.
    let op = mesh.operator();
    let r = op
        .post(
            "/mesh/api",
            &json!({"service": "llm", "action": "chat", "params": {"model": LOCAL, "messages": [{"role": "user", "content": "hi"}]}}),
        )
        .await
        .expect(200);
    assert_eq!(
        r["error"],
        "local/all-minilm-l6-v2 is an embedding model; it cannot chat"
    );
    let r = op
        .post(
            "/mesh/api",
            &json!({"service": "llm", "action": "embed", "params": {"model": "local/bge-small", "text": "hi"}}),
        )
        .await
        .expect(200);
    assert!(
        r["error"]
            .as_str()
            .unwrap()
            .contains("the mesh runs only local/all-minilm-l6-v2"),
        "{r}"
    );
}
