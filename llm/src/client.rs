//! The three calls the mesh makes, each dispatched on [`Endpoint::protocol`] and bounded
//! by the request's timeout from start to finish. Everything protocol-specific is in
//! `openai` and `anthropic`; this module only picks one and starts the clock.

use futures_util::stream::BoxStream;

use crate::deadline::Deadline;
use crate::{
    ChatRequest, ChatResponse, EmbedRequest, EmbedResponse, Endpoint, LlmError, Protocol,
    StreamEvent, anthropic, openai,
};

/// One chat completion, not streamed.
///
/// `req.timeout` bounds the whole call (a zero timeout means none). `http` is the
/// caller's client, so connection pools and TLS setup are shared across calls.
///
/// # Errors
/// [`LlmError::Status`] for an error status, with the provider's message and any
/// `retry-after`; [`LlmError::InvalidResponse`] for a success body that is not a
/// completion; [`LlmError::Network`] and [`LlmError::Timeout`] as named.
pub async fn chat(
    http: &reqwest::Client,
    endpoint: &Endpoint,
    req: &ChatRequest,
) -> Result<ChatResponse, LlmError> {
    let deadline = Deadline::start(req.timeout, &endpoint.provider);
    tracing::debug!(provider = %endpoint.provider, model = %req.model, "chat");
    deadline
        .try_run(async {
            match endpoint.protocol {
                Protocol::OpenAi => openai::chat(http, endpoint, req).await,
                Protocol::Anthropic => anthropic::chat(http, endpoint, req).await,
            }
        })
        .await
}

/// One chat completion, streamed: text deltas as they arrive, each tool call once it is
/// complete, then [`StreamEvent::Done`] with the whole response.
///
/// The returned future resolves once the provider has accepted the request (errors up to
/// then are returned as for [`chat`]). The stream then ends right after `Done` or after
/// its first `Err`: [`LlmError::StreamCut`] when the body ends or breaks before the
/// protocol's final event, [`LlmError::Timeout`] when `req.timeout` (counted from this
/// call, not from the first event) runs out, [`LlmError::Status`] for an error the
/// provider reports inside the stream. It never ends silently without one of those.
///
/// # Errors
/// As [`chat`], for the part before the stream starts.
pub async fn chat_stream(
    http: &reqwest::Client,
    endpoint: &Endpoint,
    req: &ChatRequest,
) -> Result<BoxStream<'static, Result<StreamEvent, LlmError>>, LlmError> {
    let deadline = Deadline::start(req.timeout, &endpoint.provider);
    tracing::debug!(provider = %endpoint.provider, model = %req.model, "chat stream");
    let opening = async {
        match endpoint.protocol {
            Protocol::OpenAi => openai::chat_stream(http, endpoint, req, deadline.clone()).await,
            Protocol::Anthropic => {
                anthropic::chat_stream(http, endpoint, req, deadline.clone()).await
            }
        }
    };
    deadline.try_run(opening).await
}

/// Embeddings for `req.input`, one vector per input, in input order.
///
/// # Errors
/// [`LlmError::Config`] for an Anthropic endpoint, which has no embeddings; otherwise as
/// [`chat`].
pub async fn embed(
    http: &reqwest::Client,
    endpoint: &Endpoint,
    req: &EmbedRequest,
) -> Result<EmbedResponse, LlmError> {
    match endpoint.protocol {
        Protocol::OpenAi => {
            let deadline = Deadline::start(req.timeout, &endpoint.provider);
            tracing::debug!(provider = %endpoint.provider, model = %req.model, "embed");
            deadline.try_run(openai::embed(http, endpoint, req)).await
        }
        Protocol::Anthropic => Err(LlmError::Config {
            message: format!(
                "{} speaks the Anthropic protocol, and anthropic has no embeddings endpoint",
                endpoint.provider
            ),
        }),
    }
}
