//! The JSON an agent gets back from the proxy: response data, stream events and errors.

use openlegion_llm::{ChatResponse, FailureKind, LlmError, ToolCall};
use openlegion_protocol::ApiProxyResponse;
use serde_json::{Map, Value, json};

use crate::vault::Redactor;

/// A tool call as agents receive it; a call whose arguments are not a JSON object carries
/// `error`, which the agent returns to the model as the tool's result.
pub(super) fn tool_call(call: &ToolCall) -> Value {
    let mut v = json!({ "id": call.id, "name": call.name, "arguments": call.arguments });
    if let Err(problem) = call.parsed_arguments() {
        v["error"] = Value::String(problem);
    }
    v
}

/// The data of a finished chat (`/mesh/api`), and the body of the stream's `done` event.
pub(super) fn chat_data(response: &ChatResponse, model: &str, cost: f64) -> Map<String, Value> {
    let data = json!({
        "content": response.content,
        "tool_calls": response.tool_calls.iter().map(tool_call).collect::<Vec<_>>(),
        "tokens_used": response.usage.input_tokens + response.usage.output_tokens,
        "input_tokens": response.usage.input_tokens,
        "output_tokens": response.usage.output_tokens,
        "model": model,
        "cost_usd": cost,
        "stop_reason": response.stop_reason,
    });
    let Value::Object(map) = data else {
        unreachable!("json! of an object")
    };
    map
}

/// A machine-readable class for agents choosing a recovery path.
pub(super) fn error_type(e: &LlmError) -> &'static str {
    match (e, e.kind()) {
        (LlmError::Timeout { .. }, _) => "timeout",
        (LlmError::Config { .. }, _) => "config_error",
        (LlmError::InvalidResponse { .. }, _) => "invalid_response",
        (_, FailureKind::RateLimited) => "rate_limited",
        (_, FailureKind::Transient) => "provider_unavailable",
        (_, FailureKind::Auth) => "auth_failure",
        (_, FailureKind::Billing) => "billing",
        (_, FailureKind::Permanent) => "invalid_request",
        (_, FailureKind::Other) => "provider_error",
    }
}

fn status_of(e: &LlmError) -> u16 {
    match e {
        LlmError::Status { status, .. } => *status,
        LlmError::Timeout { .. } => 504,
        LlmError::Config { .. } => 503,
        _ => 502,
    }
}

/// A provider failure as the agent sees it, credentials scrubbed.
pub(super) fn llm_failure(e: &LlmError, redactor: &Redactor) -> ApiProxyResponse {
    ApiProxyResponse {
        success: false,
        error: Some(redactor.redact(&e.to_string()).into_owned()),
        status_code: Some(status_of(e)),
        error_type: Some(error_type(e).into()),
        ..ApiProxyResponse::default()
    }
}

/// The stream's `error` event.
pub(super) fn llm_failure_event(e: &LlmError, redactor: &Redactor) -> Value {
    json!({
        "type": "error",
        "error": redactor.redact(&e.to_string()),
        "error_type": error_type(e),
        "status_code": status_of(e),
    })
}

/// A refusal by the mesh itself (bad params, budget, unknown service).
pub(super) fn refusal(message: String, error_type: &str, status: Option<u16>) -> ApiProxyResponse {
    ApiProxyResponse {
        success: false,
        error: Some(message),
        status_code: status,
        error_type: Some(error_type.into()),
        ..ApiProxyResponse::default()
    }
}

pub(super) fn refusal_event(r: &ApiProxyResponse) -> Value {
    json!({ "type": "error", "error": r.error, "error_type": r.error_type, "status_code": r.status_code })
}
