//! Turning a provider's SSE events into our [`StreamEvent`]s, the part both protocols
//! share: the deadline on every wait, the rule that a stream ends in exactly one of
//! `Done` or an error (a body that just stops is [`LlmError::StreamCut`], never a silent
//! end), and nothing after that. What each event means is the protocol's [`Decoder`].

use std::collections::VecDeque;

use eventsource_stream::Event;
use futures_util::StreamExt;
use futures_util::stream::{self, BoxStream};

use crate::deadline::Deadline;
use crate::sse::SseError;
use crate::{ChatResponse, LlmError, StreamEvent};

/// The stream `chat_stream` returns.
pub(crate) type EventStream = BoxStream<'static, Result<StreamEvent, LlmError>>;

/// Whether a protocol's stream is over after an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    Continue,
    /// The terminal event arrived; the decoder has pushed `Done`.
    Finished,
}

/// One protocol's reading of its SSE events.
pub(crate) trait Decoder: Send + 'static {
    /// Handles one event, pushing what it completes onto `out`.
    fn event(&mut self, event: &Event, out: &mut Vec<StreamEvent>) -> Result<Flow, LlmError>;

    /// The body ended (`broken` is `None`) or broke before a terminal event: push `Done` if
    /// the answer is complete anyway, else return the error that ends the stream.
    fn end(&mut self, broken: Option<SseError>, out: &mut Vec<StreamEvent>)
    -> Result<(), LlmError>;
}

/// Decodes `events` with `decoder` until the terminal event, an error or the deadline.
pub(crate) fn decode<D: Decoder>(
    events: BoxStream<'static, Result<Event, SseError>>,
    decoder: D,
    deadline: Deadline,
) -> EventStream {
    let state = Driver {
        events,
        decoder,
        deadline,
        queue: VecDeque::new(),
        over: false,
    };
    stream::unfold(state, |mut driver| async move {
        let item = driver.next().await?;
        Some((item, driver))
    })
    .boxed()
}

/// A finished response played back as a stream, for servers that answer a streaming
/// request with one JSON body: its text as one delta, its calls, then `Done`.
pub(crate) fn replay(response: ChatResponse) -> EventStream {
    let mut events = Vec::new();
    if !response.content.is_empty() {
        events.push(StreamEvent::TextDelta(response.content.clone()));
    }
    events.extend(
        response
            .tool_calls
            .iter()
            .cloned()
            .map(StreamEvent::ToolCall),
    );
    events.push(StreamEvent::Done(response));
    stream::iter(events.into_iter().map(Ok)).boxed()
}

struct Driver<D> {
    events: BoxStream<'static, Result<Event, SseError>>,
    decoder: D,
    deadline: Deadline,
    /// Decoded items not handed out yet.
    queue: VecDeque<Result<StreamEvent, LlmError>>,
    /// Set once `Done` or an error is queued: nothing is read after that.
    over: bool,
}

impl<D: Decoder> Driver<D> {
    async fn next(&mut self) -> Option<Result<StreamEvent, LlmError>> {
        loop {
            if let Some(item) = self.queue.pop_front() {
                return Some(item);
            }
            if self.over {
                return None;
            }
            let mut out = Vec::new();
            let outcome = match self.deadline.run(self.events.next()).await {
                Err(timeout) => Err(timeout),
                Ok(Some(Ok(event))) => self.decoder.event(&event, &mut out),
                Ok(Some(Err(broken))) => self
                    .decoder
                    .end(Some(broken), &mut out)
                    .map(|()| Flow::Finished),
                Ok(None) => self.decoder.end(None, &mut out).map(|()| Flow::Finished),
            };
            self.queue.extend(out.into_iter().map(Ok));
            match outcome {
                Ok(Flow::Continue) => {}
                Ok(Flow::Finished) => self.over = true,
                Err(error) => {
                    self.queue.push_back(Err(error));
                    self.over = true;
                }
            }
        }
    }
}

/// The error ending a stream whose body ended (`broken` is `None`) or broke before
/// `awaited`, the protocol's terminal event. A body that is not SSE at all is an invalid
/// response rather than a cut: retrying will not fix it.
pub(crate) fn cut(provider: &str, broken: Option<SseError>, awaited: &str) -> LlmError {
    match broken {
        Some(malformed @ SseError::Malformed { .. }) => LlmError::InvalidResponse {
            provider: provider.to_owned(),
            message: malformed.to_string(),
        },
        Some(transport @ SseError::Transport { .. }) => LlmError::StreamCut {
            provider: provider.to_owned(),
            message: format!("{transport} (before {awaited})"),
        },
        None => LlmError::StreamCut {
            provider: provider.to_owned(),
            message: format!("the body ended before {awaited}"),
        },
    }
}
