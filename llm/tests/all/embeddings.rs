//! Embeddings: OpenAI returns one vector per input, in input order; Anthropic has none.

use std::time::Duration;

use openlegion_llm::{EmbedRequest, LlmError, Usage, embed};
use openlegion_mock_llm::{MockLlm, Turn, embedding};
use serde_json::json;

use crate::*;

fn inputs(texts: &[&str]) -> EmbedRequest {
    EmbedRequest {
        model: "embed-test".into(),
        input: texts.iter().map(|text| (*text).to_owned()).collect(),
        timeout: GENEROUS,
    }
}

#[tokio::test]
async fn one_vector_per_input_in_input_order() {
    let mock = MockLlm::start().await;
    let texts = ["alpha", "beta gamma", "delta"];
    let answer = embed(&http(), &openai(&mock), &inputs(&texts))
        .await
        .unwrap();
    let expected: Vec<Vec<f32>> = texts.iter().map(|text| embedding(text, 8)).collect();
    assert_eq!(answer.embeddings, expected);
    assert_eq!(answer.model, "embed-test");
    // The mock counts a token per four characters: 19 characters.
    assert_eq!(
        answer.usage,
        Usage {
            input_tokens: 5,
            output_tokens: 0
        }
    );

    let recorded = &mock.requests()[0];
    assert_eq!(recorded.path, "/v1/embeddings");
    assert_eq!(
        recorded.body,
        json!({"model": "embed-test", "input": ["alpha", "beta gamma", "delta"]})
    );
    assert_eq!(
        recorded.header("authorization"),
        Some(format!("Bearer {OPENAI_KEY}").as_str())
    );
}

#[tokio::test]
async fn vectors_out_of_order_are_put_back_in_input_order() {
    let mock = MockLlm::start().await;
    let body = json!({
        "object": "list",
        "data": [
            {"object": "embedding", "index": 2, "embedding": [0.5, 0.25]},
            {"object": "embedding", "index": 0, "embedding": [1.0, 0.0]},
            {"object": "embedding", "index": 1, "embedding": [0.0, -1.0]},
        ],
        "model": "embed-test-v2",
        "usage": {"prompt_tokens": 6, "total_tokens": 6},
    });
    mock.push_for(
        "embed-test",
        Turn::raw(200, "application/json", body.to_string()),
    );
    let answer = embed(&http(), &openai(&mock), &inputs(&["a", "b", "c"]))
        .await
        .unwrap();
    assert_eq!(
        answer.embeddings,
        [vec![1.0, 0.0], vec![0.0, -1.0], vec![0.5, 0.25]]
    );
    assert_eq!(answer.model, "embed-test-v2");
    assert_eq!(answer.usage.input_tokens, 6);
}

#[tokio::test]
async fn embedding_errors_map_like_chat_errors() {
    let mock = MockLlm::start().await;
    mock.push_for(
        "embed-test",
        Turn::error(429).with_header("retry-after", "2"),
    );
    let error = embed(&http(), &openai(&mock), &inputs(&["a"]))
        .await
        .unwrap_err();
    assert_eq!(
        error,
        LlmError::Status {
            provider: "openai".into(),
            status: 429,
            message: "mock-llm: scripted error 429".into(),
            retry_after: Some(Duration::from_secs(2)),
        }
    );

    mock.push_for("embed-test", Turn::hang());
    let request = EmbedRequest {
        timeout: Duration::from_millis(300),
        ..inputs(&["a"])
    };
    let error = embed(&http(), &openai(&mock), &request).await.unwrap_err();
    assert_eq!(
        error,
        LlmError::Timeout {
            provider: "openai".into(),
            after: Duration::from_millis(300),
        }
    );
}

#[tokio::test]
async fn anthropic_has_no_embeddings() {
    let mock = MockLlm::start().await;
    let error = embed(&http(), &anthropic(&mock), &inputs(&["a"]))
        .await
        .unwrap_err();
    assert_eq!(
        error,
        LlmError::Config {
            message: "anthropic speaks the Anthropic protocol, and anthropic has no embeddings \
                      endpoint"
                .into(),
        }
    );
    assert!(mock.requests().is_empty());
}
