//! Integration tests of `openlegion-llm` against the workspace's scripted mock provider
//! (`openlegion-mock-llm`), over real HTTP on loopback. One binary, one module per topic;
//! the helpers every module uses are here.

mod anthropic;
mod embeddings;
mod errors;
mod openai;
mod quirks;
mod streaming;

use std::sync::Once;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use openlegion_llm::{
    ChatRequest, Endpoint, LlmError, Message, Protocol, Role, Secret, StreamEvent, ToolCall,
    ToolSpec,
};
use openlegion_mock_llm::MockLlm;
use serde_json::json;

/// The keys the tests send; they must reach the mock and never appear in an error.
const OPENAI_KEY: &str = "sk-test-openai-123";
const ANTHROPIC_KEY: &str = "sk-ant-test-456";

/// Long enough that only a scripted hang ever reaches it.
const GENEROUS: Duration = Duration::from_secs(20);

/// A client the way the mesh builds one. The workspace reqwest has no default TLS
/// provider, and building a client needs one even for plain-HTTP loopback.
fn http() -> reqwest::Client {
    static PROVIDER: Once = Once::new();
    PROVIDER.call_once(|| {
        // An error means another test binary's provider is already installed.
        let _already = rustls::crypto::ring::default_provider().install_default();
    });
    reqwest::Client::builder()
        .build()
        .expect("a reqwest client builds")
}

fn openai(mock: &MockLlm) -> Endpoint {
    Endpoint {
        provider: "openai".into(),
        protocol: Protocol::OpenAi,
        base_url: mock.openai_base(),
        api_key: Some(Secret::new(OPENAI_KEY)),
    }
}

fn anthropic(mock: &MockLlm) -> Endpoint {
    Endpoint {
        provider: "anthropic".into(),
        protocol: Protocol::Anthropic,
        base_url: mock.anthropic_base(),
        api_key: Some(Secret::new(ANTHROPIC_KEY)),
    }
}

/// Both endpoints, for tests that must hold for either protocol.
fn both(mock: &MockLlm) -> [Endpoint; 2] {
    [openai(mock), anthropic(mock)]
}

fn request(model: &str, messages: Vec<Message>) -> ChatRequest {
    ChatRequest {
        model: model.into(),
        messages,
        timeout: GENEROUS,
        ..ChatRequest::default()
    }
}

fn message(role: Role, content: &str) -> Message {
    Message {
        role,
        content: content.into(),
        tool_calls: Vec::new(),
        tool_call_id: None,
    }
}

fn user(content: &str) -> Message {
    message(Role::User, content)
}

fn system(content: &str) -> Message {
    message(Role::System, content)
}

/// The assistant turn a response becomes in the history.
fn assistant(content: &str, tool_calls: Vec<ToolCall>) -> Message {
    Message {
        tool_calls,
        ..message(Role::Assistant, content)
    }
}

fn tool_result(call_id: &str, content: &str) -> Message {
    Message {
        tool_call_id: Some(call_id.into()),
        ..message(Role::Tool, content)
    }
}

fn weather_tool() -> ToolSpec {
    ToolSpec {
        name: "get_weather".into(),
        description: "Current weather in a city".into(),
        parameters: json!({
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        }),
    }
}

fn call(id: &str, name: &str, arguments: &str) -> ToolCall {
    ToolCall {
        id: id.into(),
        name: name.into(),
        arguments: arguments.into(),
    }
}

/// Every item of a stream, errors included, up to its end.
async fn drain(
    stream: BoxStream<'static, Result<StreamEvent, LlmError>>,
) -> Vec<Result<StreamEvent, LlmError>> {
    stream.collect().await
}

/// The text deltas among `items`.
fn deltas(items: &[Result<StreamEvent, LlmError>]) -> Vec<String> {
    items
        .iter()
        .filter_map(|item| match item {
            Ok(StreamEvent::TextDelta(text)) => Some(text.clone()),
            _ => None,
        })
        .collect()
}
