//! Our own LLM types. Every provider's wire format is translated to and from these, so the
//! proxy, failover and cost accounting never see a provider's shapes.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
    Tool,
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    #[serde(default)]
    pub content: String,
    /// Calls the assistant made (assistant messages only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// The call this message answers (tool messages only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

/// A tool the model may call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// JSON Schema of the arguments object.
    #[serde(default = "empty_object_schema")]
    pub parameters: Value,
}

fn empty_object_schema() -> Value {
    serde_json::json!({"type": "object", "properties": {}})
}

/// A call the model made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    /// The arguments as JSON text, exactly as the model produced them (possibly invalid).
    pub arguments: String,
}

impl ToolCall {
    /// The arguments as a JSON object. Empty or whitespace means `{}`; anything that is not
    /// a JSON object is an error naming the problem, which the agent hands back to the model
    /// as the tool's result instead of running the tool.
    pub fn parsed_arguments(&self) -> Result<Map<String, Value>, String> {
        if self.arguments.trim().is_empty() {
            return Ok(Map::new());
        }
        match serde_json::from_str::<Value>(&self.arguments) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(other) => Err(format!("tool arguments must be a JSON object, got {other}")),
            Err(e) => Err(format!(
                "tool arguments are not valid JSON ({e}): {}",
                self.arguments
            )),
        }
    }
}

/// Tokens used by one call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
}

/// A chat completion request, already resolved to one provider's model name.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChatRequest {
    /// The model as the provider names it (`gpt-4o-mini`, not `openai/gpt-4o-mini`).
    pub model: String,
    pub messages: Vec<Message>,
    pub tools: Vec<ToolSpec>,
    pub max_tokens: Option<u32>,
    pub temperature: Option<f64>,
    /// Further provider parameters that passed the proxy's allowlist (`top_p`, `stop`,
    /// `seed`, `tool_choice`, `response_format`, …), passed through as given.
    pub extra: Map<String, Value>,
    /// Upper bound on the whole call, streaming included.
    pub timeout: Duration,
}

/// A finished chat completion.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ChatResponse {
    pub content: String,
    pub tool_calls: Vec<ToolCall>,
    pub usage: Usage,
    /// The model that answered, as the provider reported it.
    pub model: String,
    /// `stop`, `tool_calls`/`tool_use`, `length`, … as the provider reported it.
    pub stop_reason: Option<String>,
}

/// One event of a streamed completion. A stream that ends without [`StreamEvent::Done`]
/// was cut.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// A piece of the answer's text.
    TextDelta(String),
    /// A tool call, complete (its argument deltas already assembled).
    ToolCall(ToolCall),
    /// The end: the whole response (its `content` is every delta joined).
    Done(ChatResponse),
}

/// An embeddings request.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbedRequest {
    pub model: String,
    pub input: Vec<String>,
    pub timeout: Duration,
}

/// Embeddings, one per input, in input order.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbedResponse {
    pub embeddings: Vec<Vec<f32>>,
    pub usage: Usage,
    pub model: String,
}
