//! The JSON an agent gets back from the proxy: response data, stream events and errors.

use openlegion_llm::{ChatResponse, FailureKind, LlmError, ToolCall};
use openlegion_protocol::{ApiProxyResponse, ChatData, ProxyEvent, ProxyToolCall};

use crate::vault::Redactor;

/// A tool call as agents receive it; a call whose arguments are not a JSON object carries
/// `error`, which the agent returns to the model as the tool's result.
pub(super) fn tool_call(call: &ToolCall) -> ProxyToolCall {
    ProxyToolCall {
        id: call.id.clone(),
        name: call.name.clone(),
        arguments: call.arguments.clone(),
        error: call.parsed_arguments().err(),
    }
}

/// The data of a finished chat (`/mesh/api`), and the body of the stream's `done` event.
pub(super) fn chat_data(response: &ChatResponse, model: &str, cost: f64) -> ChatData {
    ChatData {
        content: response.content.clone(),
        tool_calls: response.tool_calls.iter().map(tool_call).collect(),
        tokens_used: response.usage.input_tokens + response.usage.output_tokens,
        input_tokens: response.usage.input_tokens,
        output_tokens: response.usage.output_tokens,
        model: model.to_owned(),
        cost_usd: cost,
        stop_reason: response.stop_reason.clone(),
    }
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
pub(super) fn llm_failure_event(e: &LlmError, redactor: &Redactor) -> ProxyEvent {
    ProxyEvent::Error {
        error: redactor.redact(&e.to_string()).into_owned(),
        error_type: Some(error_type(e).into()),
        status_code: Some(status_of(e)),
    }
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

pub(super) fn refusal_event(r: &ApiProxyResponse) -> ProxyEvent {
    ProxyEvent::Error {
        error: r.error.clone().unwrap_or_default(),
        error_type: r.error_type.clone(),
        status_code: r.status_code,
    }
}
