//! The API proxy: how an agent asks the mesh to call an external service (an LLM, a search
//! API) with credentials the agent never sees.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `POST /mesh/api`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiProxyRequest {
    /// The service to call: `llm`, `brave_search`, …; checked against `allowed_apis`.
    pub service: String,
    /// What to do: for `llm`, `chat` or `embed`.
    pub action: String,
    #[serde(default)]
    pub params: Map<String, Value>,
    /// Seconds.
    #[serde(default = "default_timeout")]
    pub timeout: u64,
}

fn default_timeout() -> u64 {
    30
}

/// The answer to `POST /mesh/api`. Failures are reported here (`success: false`) rather
/// than as HTTP errors, as in the original.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ApiProxyResponse {
    pub success: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
    /// A machine-readable error class (`auth_failure`, `config_error`, `context_overflow`,
    /// `budget_exceeded`, …) that agents use to choose a recovery path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_meta: Option<Map<String, Value>>,
}

/// A tool call as an agent receives it from the proxy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProxyToolCall {
    pub id: String,
    pub name: String,
    /// JSON text, as the model wrote it.
    pub arguments: String,
    /// Set when the arguments are not a JSON object: the agent does not run the call and
    /// returns this to the model as the tool's result instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The `data` of a finished `llm`/`chat` call, and the body of the stream's `done` event.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ChatData {
    #[serde(default)]
    pub content: String,
    #[serde(default)]
    pub tool_calls: Vec<ProxyToolCall>,
    /// Input plus output tokens.
    #[serde(default)]
    pub tokens_used: u64,
    #[serde(default)]
    pub input_tokens: u64,
    #[serde(default)]
    pub output_tokens: u64,
    /// The model that answered, `provider/model`.
    #[serde(default)]
    pub model: String,
    #[serde(default)]
    pub cost_usd: f64,
    /// `stop`, `tool_calls`/`tool_use`, `length`, … as the provider reported it.
    #[serde(default)]
    pub stop_reason: Option<String>,
}

/// The `data` of a finished `llm`/`embed` call: `embedding` when one text was sent as a
/// string, `embeddings` when a list was.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct EmbedData {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding: Option<Vec<f32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embeddings: Option<Vec<Vec<f32>>>,
    #[serde(default)]
    pub model: String,
    #[serde(default)]
    pub cost_usd: f64,
}

/// One `data:` payload of `/mesh/api/stream`. The stream ends with `done` or `error`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ProxyEvent {
    /// A piece of the answer's text.
    TextDelta { content: String },
    /// A complete tool call.
    ToolCall(ProxyToolCall),
    /// The whole answer (its text and calls again, complete), with usage and cost.
    Done(ChatData),
    /// The call failed (after the mesh's retries and failover) or was refused.
    Error {
        error: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error_type: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status_code: Option<u16>,
    },
    /// An event of a later mesh, which this agent does not know; skipped.
    #[serde(other)]
    Unknown,
}

impl ApiProxyResponse {
    /// A successful answer carrying `data` (a struct that serialises to an object).
    pub fn with_data(data: &impl Serialize) -> Self {
        let Ok(Value::Object(data)) = serde_json::to_value(data) else {
            panic!("proxy data types serialise to JSON objects");
        };
        Self {
            success: true,
            data: Some(data),
            ..Self::default()
        }
    }

    /// The `data`, read as `T`.
    pub fn data_as<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_value(Value::Object(self.data.clone().unwrap_or_default()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The shapes agents of earlier releases read: the `type` tag beside the fields.
    #[test]
    fn stream_events_keep_their_wire_shape() {
        let call = ProxyToolCall {
            id: "c1".into(),
            name: "read_file".into(),
            arguments: "{\"path\":\"a\"}".into(),
            error: None,
        };
        let cases = [
            (
                ProxyEvent::TextDelta {
                    content: "hi".into(),
                },
                json!({"type": "text_delta", "content": "hi"}),
            ),
            (
                ProxyEvent::ToolCall(call.clone()),
                json!({"type": "tool_call", "id": "c1", "name": "read_file", "arguments": "{\"path\":\"a\"}"}),
            ),
            (
                ProxyEvent::Error {
                    error: "down".into(),
                    error_type: Some("provider_unavailable".into()),
                    status_code: Some(503),
                },
                json!({"type": "error", "error": "down", "error_type": "provider_unavailable", "status_code": 503}),
            ),
        ];
        for (event, wire) in cases {
            assert_eq!(serde_json::to_value(&event).unwrap(), wire);
            assert_eq!(serde_json::from_value::<ProxyEvent>(wire).unwrap(), event);
        }
        let done = ProxyEvent::Done(ChatData {
            content: "ok".into(),
            tool_calls: vec![call],
            tokens_used: 12,
            input_tokens: 10,
            output_tokens: 2,
            model: "openai/x".into(),
            cost_usd: 0.5,
            stop_reason: Some("stop".into()),
        });
        let wire = serde_json::to_value(&done).unwrap();
        assert_eq!(wire["type"], "done");
        assert_eq!(wire["tool_calls"][0]["name"], "read_file");
        assert_eq!(serde_json::from_value::<ProxyEvent>(wire).unwrap(), done);
    }

    #[test]
    fn an_unknown_event_is_read_as_unknown() {
        let later = json!({"type": "reasoning_delta", "content": "hmm"});
        assert_eq!(
            serde_json::from_value::<ProxyEvent>(later).unwrap(),
            ProxyEvent::Unknown
        );
    }

    #[test]
    fn data_goes_into_the_answer_and_comes_back_out() {
        let data = EmbedData {
            embeddings: Some(vec![vec![0.5, 1.0]]),
            model: "local/m".into(),
            ..EmbedData::default()
        };
        let answer = ApiProxyResponse::with_data(&data);
        assert!(answer.success);
        assert!(!answer.data.as_ref().unwrap().contains_key("embedding"));
        assert_eq!(answer.data_as::<EmbedData>().unwrap(), data);
    }
}
