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
