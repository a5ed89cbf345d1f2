//! Models of an Ollama server on this machine, which `openlegion setup` offers beside the
//! bundled one: Ollama speaks the OpenAI protocol, so its models need no key
//! (`ollama/<name>`).

use std::time::Duration;

use serde::Deserialize;

/// Where Ollama listens by default.
pub const DEFAULT_URL: &str = "http://localhost:11434";

/// How long an absent server may take to not answer.
const PROBE_TIMEOUT: Duration = Duration::from_millis(800);

#[derive(Debug, Deserialize)]
struct Tags {
    #[serde(default)]
    models: Vec<Tag>,
}

#[derive(Debug, Deserialize)]
struct Tag {
    name: String,
}

/// The models of the Ollama server at `base` (`GET /api/tags`), or `None` when nothing
/// answers there like Ollama.
pub async fn models(base: &str) -> Option<Vec<String>> {
    let http = crate::http_client::builder()
        .timeout(PROBE_TIMEOUT)
        .build()
        .ok()?;
    let resp = http
        .get(format!("{}/api/tags", base.trim_end_matches('/')))
        .send()
        .await
        .ok()?;
    if !resp.status().is_success() {
        return None;
    }
    let tags: Tags = resp.json().await.ok()?;
    Some(tags.models.into_iter().map(|m| m.name).collect())
}

/// What `setup` says about the Ollama server at `base`: nothing when none answers.
pub async fn offer(base: &str) -> Vec<String> {
    let Some(models) = models(base).await else {
        return Vec::new();
    };
    if models.is_empty() {
        return vec![format!(
            "Ollama answers on {base} but has no models yet (`ollama pull qwen2.5:1.5b`, for one)"
        )];
    }
    let mut lines = vec![format!(
        "Ollama answers on {base}; its models work without a key (set `model:` in agents.yaml, or llm.default_model in mesh.yaml):"
    )];
    lines.extend(models.iter().map(|m| format!("  ollama/{m}")));
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_server_that_lists_models_is_offered() {
        let app = axum::Router::new().route(
            "/api/tags",
            axum::routing::get(|| async {
                axum::Json(serde_json::json!({"models": [{"name": "qwen2.5:1.5b", "size": 1}]}))
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        let lines = offer(&base).await;
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert_eq!(lines[1], "  ollama/qwen2.5:1.5b");
    }

    #[tokio::test]
    async fn nothing_listening_means_nothing_offered() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        assert!(offer(&base).await.is_empty());
    }
}
