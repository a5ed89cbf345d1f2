//! Embeddings: deterministic unit vectors, dimensions, encodings, and
//! scripted failures on the embedding model's own queue.

use openlegion_mock_llm::{MockConfig, MockLlm, Turn, embedding};
use serde_json::{Value, json};

use crate::support::{http, openai_request};

const PATH: &str = "/v1/embeddings";

fn vector(item: &Value) -> Vec<f32> {
    item["embedding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

#[tokio::test]
async fn same_text_gets_the_same_unit_vector() {
    let mock = MockLlm::start().await;
    let request = json!({"model": "embed-small", "input": ["alpha", "beta", "alpha"]});
    let body = http::post(mock.addr(), PATH, &request).await.json();
    assert_eq!(body["object"], "list");
    assert_eq!(body["model"], "embed-small");
    // 14 characters in all, about one token per four.
    assert_eq!(
        body["usage"],
        json!({"prompt_tokens": 4, "total_tokens": 4})
    );
    let data = body["data"].as_array().unwrap();
    assert_eq!(data.len(), 3);
    let indexes: Vec<u64> = data
        .iter()
        .map(|item| item["index"].as_u64().unwrap())
        .collect();
    assert_eq!(indexes, [0, 1, 2]);
    let (alpha, beta, again) = (vector(&data[0]), vector(&data[1]), vector(&data[2]));
    assert_eq!(alpha.len(), 8, "default dimension");
    assert_eq!(alpha, again);
    assert_ne!(alpha, beta);
    assert_eq!(
        alpha,
        embedding("alpha", 8),
        "tests can compute the expected vector"
    );
    for v in [&alpha, &beta] {
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "norm {norm}");
    }

    let single = http::post(mock.addr(), PATH, &json!({"model": "e", "input": "alpha"})).await;
    assert_eq!(
        vector(&single.json()["data"][0]),
        alpha,
        "string input, any model"
    );
}

#[tokio::test]
async fn dimensions_come_from_the_request_or_the_config() {
    let mock = MockLlm::try_start(MockConfig {
        embedding_dim: 4,
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let body = http::post(mock.addr(), PATH, &json!({"model": "e", "input": "x"}))
        .await
        .json();
    assert_eq!(vector(&body["data"][0]), embedding("x", 4));
    let request = json!({"model": "e", "input": "x", "dimensions": 16});
    let body = http::post(mock.addr(), PATH, &request).await.json();
    assert_eq!(vector(&body["data"][0]).len(), 16);
    let request = json!({"model": "e", "input": "x", "dimensions": 0});
    assert_eq!(http::post(mock.addr(), PATH, &request).await.status, 400);
}

#[tokio::test]
async fn base64_encoding_packs_little_endian_floats() {
    let mock = MockLlm::start().await;
    let request = json!({"model": "e", "input": "hello", "encoding_format": "base64"});
    let body = http::post(mock.addr(), PATH, &request).await.json();
    let encoded = body["data"][0]["embedding"].as_str().unwrap();
    let expected: Vec<u8> = embedding("hello", 8)
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    assert_eq!(decode_base64(encoded), expected);
}

#[tokio::test]
async fn only_the_embedding_models_own_queue_is_scripted() {
    let mock = MockLlm::start().await;
    mock.push(Turn::text("for the chat model"));
    mock.push_for(
        "embed-small",
        Turn::error(503).with_header("retry-after", "1"),
    );
    let request = json!({"model": "embed-small", "input": "a"});
    let failed = http::post(mock.addr(), PATH, &request).await;
    assert_eq!(failed.status, 503);
    assert_eq!(failed.header("retry-after"), Some("1"));
    assert_eq!(failed.json()["error"]["type"], "server_error");
    let normal = http::post(mock.addr(), PATH, &request).await;
    assert_eq!(normal.status, 200, "an empty own queue answers normally");
    assert_eq!(vector(&normal.json()["data"][0]), embedding("a", 8));
    assert_eq!(mock.pending(), 1, "the chat turn is still queued");
    let chat = http::post(
        mock.addr(),
        "/v1/chat/completions",
        &openai_request("m", false),
    )
    .await;
    assert_eq!(
        chat.json()["choices"][0]["message"]["content"],
        "for the chat model"
    );
    assert_eq!(mock.requests().len(), 3);
}

#[tokio::test]
async fn bad_embedding_requests_are_rejected() {
    let mock = MockLlm::start().await;
    for request in [
        json!({"input": "x"}),
        json!({"model": "e"}),
        json!({"model": "e", "input": []}),
        json!({"model": "e", "input": "x", "encoding_format": "int8"}),
    ] {
        let response = http::post(mock.addr(), PATH, &request).await;
        assert_eq!(response.status, 400, "{request}");
        assert!(
            response.json()["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("mock-llm: invalid request: ")
        );
    }
}

/// Standard base64 with padding, decoded without a dependency.
fn decode_base64(text: &str) -> Vec<u8> {
    const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::new();
    for ch in text.chars().filter(|&ch| ch != '=') {
        bits = (bits << 6) | ALPHABET.find(ch).expect("base64 character") as u32;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
        }
    }
    out
}
