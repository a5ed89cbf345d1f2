//! One model call, streamed through the mesh's `/mesh/api/stream`.

use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use futures_util::StreamExt;
use openlegion_protocol::ApiProxyRequest;
use serde_json::{Map, Value, json};

use crate::mesh_client::{MeshClient, MeshError};
use crate::tools::ToolDef;

/// A tool call the model asked for.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CallRequest {
    pub(crate) id: String,
    pub(crate) name: String,
    /// JSON text, as the model wrote it.
    pub(crate) arguments: String,
    /// Set by the mesh when the arguments are not a JSON object: the call is not run and
    /// this goes back to the model instead.
    pub(crate) error: Option<String>,
}

/// What the model answered.
#[derive(Debug, Clone, Default)]
pub(crate) struct Answer {
    pub(crate) text: String,
    pub(crate) calls: Vec<CallRequest>,
    pub(crate) tokens: u64,
    /// Input tokens of the request, as the provider counted them (0 if not reported).
    pub(crate) input_tokens: u64,
}

fn call_of(v: &Value) -> Option<CallRequest> {
    Some(CallRequest {
        id: v.get("id")?.as_str()?.to_owned(),
        name: v.get("name")?.as_str()?.to_owned(),
        arguments: v
            .get("arguments")
            .and_then(Value::as_str)
            .unwrap_or("{}")
            .to_owned(),
        error: v.get("error").and_then(Value::as_str).map(str::to_owned),
    })
}

/// Streams one completion of `messages` with `tools`, calling `on_text` for every piece of
/// text as it arrives. A mesh that cannot be reached is retried (1, 2, 4 s); a provider
/// failure is final here: the mesh has already retried and failed over.
pub(crate) async fn complete(
    mesh: &MeshClient,
    messages: &[Value],
    tools: &[ToolDef],
    max_tokens: u32,
    timeout: u64,
    on_text: &mut (dyn FnMut(&str) + Send),
) -> Result<Answer, String> {
    let mut params = Map::new();
    params.insert("messages".into(), Value::Array(messages.to_vec()));
    if !tools.is_empty() {
        params.insert(
            "tools".into(),
            Value::Array(tools.iter().map(ToolDef::openai).collect()),
        );
    }
    params.insert("max_tokens".into(), json!(max_tokens));
    let request = ApiProxyRequest {
        service: "llm".into(),
        action: "chat".into(),
        params,
        timeout,
    };
    let open = || mesh.api_stream(&request);
    let mut events = open
        .retry(ExponentialBuilder::default().with_min_delay(Duration::from_secs(1)).with_max_times(3))
        .when(|e: &MeshError| matches!(e, MeshError::Transport(_)))
        .notify(|e, wait| tracing::warn!(error = %e, ?wait, "mesh unreachable; retrying the model call"))
        .await
        .map_err(|e| format!("LLM call failed: {e}"))?;
    let mut answer = Answer::default();
    while let Some(event) = events.next().await {
        let event = event.map_err(|e| format!("LLM stream broke: {e}"))?;
        match event.get("type").and_then(Value::as_str) {
            Some("text_delta") => {
                if let Some(text) = event.get("content").and_then(Value::as_str) {
                    on_text(text);
                    answer.text.push_str(text);
                }
            }
            Some("tool_call") => {
                if let Some(call) = call_of(&event) {
                    answer.calls.push(call);
                }
            }
            Some("done") => {
                answer.tokens = event
                    .get("tokens_used")
                    .and_then(Value::as_u64)
                    .unwrap_or(0);
                answer.input_tokens = event
                    .get("input_tokens")
                    .and_then(Value::as_u64)
                    .unwrap_or(0);
                // `done` carries the complete answer; prefer it to what we pieced together.
                if let Some(text) = event.get("content").and_then(Value::as_str) {
                    answer.text = text.to_owned();
                }
                if let Some(calls) = event.get("tool_calls").and_then(Value::as_array) {
                    answer.calls = calls.iter().filter_map(call_of).collect();
                }
                return Ok(answer);
            }
            Some("error") => {
                let message = event
                    .get("error")
                    .and_then(Value::as_str)
                    .unwrap_or("unknown error");
                return Err(format!("LLM error: {message}"));
            }
            _ => tracing::debug!(%event, "ignoring an unknown stream event"),
        }
    }
    Err("LLM stream ended without a final event".into())
}
