//! One model call, streamed through the mesh's `/mesh/api/stream`.

use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use futures_util::StreamExt;
use openlegion_protocol::{ApiProxyRequest, ProxyEvent, ProxyToolCall};
use serde_json::{Map, Value, json};

use crate::mesh_client::{MeshClient, MeshClientError};
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

impl From<ProxyToolCall> for CallRequest {
    fn from(call: ProxyToolCall) -> Self {
        Self {
            id: call.id,
            name: call.name,
            arguments: call.arguments,
            error: call.error,
        }
    }
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
        .when(|e: &MeshClientError| matches!(e, MeshClientError::Transport(_)))
        .notify(|e, wait| tracing::warn!(error = %e, ?wait, "mesh unreachable; retrying the model call"))
        .await
        .map_err(|e| format!("LLM call failed: {e}"))?;
    let mut answer = Answer::default();
    while let Some(event) = events.next().await {
        let event = event.map_err(|e| format!("LLM stream broke: {e}"))?;
        match event {
            ProxyEvent::TextDelta { content } => {
                on_text(&content);
                answer.text.push_str(&content);
            }
            ProxyEvent::ToolCall(call) => answer.calls.push(call.into()),
            ProxyEvent::Done(data) => {
                // `done` carries the complete answer; it replaces what was pieced together.
                answer.tokens = data.tokens_used;
                answer.input_tokens = data.input_tokens;
                answer.text = data.content;
                answer.calls = data.tool_calls.into_iter().map(Into::into).collect();
                return Ok(answer);
            }
            ProxyEvent::Error { error, .. } => return Err(format!("LLM error: {error}")),
            ProxyEvent::Unknown => tracing::debug!("ignoring an unknown stream event"),
        }
    }
    Err("LLM stream ended without a final event".into())
}
