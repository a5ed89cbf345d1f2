//! Between the LLM client's types and the local engine's: requests, answers, streams and
//! errors (classified as failover expects: a model that cannot run falls over to the next
//! candidate like an unreachable provider).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use openlegion_llm::{ChatRequest, ChatResponse, LlmError, StreamEvent};
use openlegion_local_llm::{Answer, Engine, LocalLlmError, Piece, Request, ToolChoice};
use tokio::sync::mpsc;

use super::PROVIDER;

/// Most tokens one local answer may have, whatever the request asks: on two cores the
/// small model decodes a few dozen a second, so this bounds a runaway answer to about half
/// a minute.
pub(super) const MAX_TOKENS: u32 = 1024;

/// The wall time of a request that gives none (a zero timeout).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

pub(super) fn request(req: &ChatRequest) -> Request {
    let timeout = if req.timeout.is_zero() {
        DEFAULT_TIMEOUT
    } else {
        req.timeout
    };
    Request {
        messages: req.messages.clone(),
        tools: req.tools.clone(),
        tool_choice: ToolChoice::from_value(req.extra.get("tool_choice")),
        max_tokens: req.max_tokens.unwrap_or(MAX_TOKENS).min(MAX_TOKENS),
        temperature: req.temperature,
        seed: req.extra.get("seed").and_then(serde_json::Value::as_u64),
        deadline: Instant::now() + timeout,
        grammar: true,
        max_tools: None,
    }
}

pub(super) fn response(answer: Answer, model: &str) -> ChatResponse {
    ChatResponse {
        content: answer.content,
        tool_calls: answer.tool_calls,
        usage: answer.usage,
        model: model.to_owned(),
        stop_reason: Some(answer.stop_reason),
    }
}

/// A model that cannot answer now: failover moves on to the next candidate.
pub(super) fn unavailable(message: String) -> LlmError {
    LlmError::Status {
        provider: PROVIDER.into(),
        status: 503,
        message,
        retry_after: None,
    }
}

pub(super) fn error(e: LocalLlmError) -> LlmError {
    let status = |status: u16| LlmError::Status {
        provider: PROVIDER.into(),
        status,
        message: e.to_string(),
        retry_after: None,
    };
    match &e {
        LocalLlmError::Timeout { after } => LlmError::Timeout {
            provider: PROVIDER.into(),
            after: *after,
        },
        // A prompt too long for this model may fit the next one.
        LocalLlmError::ContextFull { .. } => status(413),
        LocalLlmError::Grammar { .. } => status(400),
        LocalLlmError::Cancelled => LlmError::StreamCut {
            provider: PROVIDER.into(),
            message: e.to_string(),
        },
        _ => unavailable(e.to_string()),
    }
}

/// The events of one streamed answer: the engine's pieces as they come, then `Done`.
pub(super) fn stream(
    engine: Engine,
    file: PathBuf,
    request: Request,
    model: String,
) -> BoxStream<'static, Result<StreamEvent, LlmError>> {
    let (pieces_tx, pieces) = mpsc::unbounded_channel();
    let answer = async move { engine.answer(&file, request, Some(pieces_tx)).await };
    let answer = tokio::spawn(answer);
    let pieces = tokio_stream_of(pieces).map(|piece| {
        Ok(match piece {
            Piece::Text(text) => StreamEvent::TextDelta(text),
            Piece::Call(call) => StreamEvent::ToolCall(call),
        })
    });
    let done = futures_util::stream::once(async move {
        match answer.await {
            Ok(Ok(answer)) => Ok(StreamEvent::Done(response(answer, &model))),
            Ok(Err(e)) => Err(error(e)),
            Err(e) => Err(unavailable(format!("the local model's task failed: {e}"))),
        }
    });
    pieces.chain(done).boxed()
}

/// The receiver as a stream that ends when every sender is gone (the engine drops its
/// sender when the answer is complete). Dropping it closes the channel, which the engine
/// takes for the caller going away.
fn tokio_stream_of<T: Send + 'static>(
    rx: mpsc::UnboundedReceiver<T>,
) -> impl futures_util::Stream<Item = T> + Send + 'static {
    futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
}
