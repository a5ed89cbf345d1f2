//! Server-sent events off a reqwest body. Framing (lines, `event:`/`data:` fields, blank
//! line dispatch, UTF-8 split across chunks) is `eventsource-stream`'s job; this module
//! only adapts its stream and errors to ours. What an event *means* is up to the protocol
//! decoders, and when the stream counts as finished is up to [`crate::stream`].

use eventsource_stream::{Event, EventStreamError};
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use openlegion_protocol::sse::frame;

use crate::transport;

/// Why the event stream stopped before its body ended cleanly.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SseError {
    /// The connection broke mid-body.
    #[error("the connection broke: {message}")]
    Transport { message: String },
    /// The body is not valid UTF-8 or not SSE.
    #[error("the event stream is malformed: {message}")]
    Malformed { message: String },
}

/// The events of an SSE response body, in order. Ends when the body ends; the last event
/// counts only if a blank line completed it, as the SSE spec says.
pub(crate) fn events(response: reqwest::Response) -> BoxStream<'static, Result<Event, SseError>> {
    frame(response.bytes_stream())
        .map_err(|error| match error {
            EventStreamError::Transport(error) => SseError::Transport {
                message: transport::chain(&error.without_url()),
            },
            EventStreamError::Utf8(error) => SseError::Malformed {
                message: error.to_string(),
            },
            EventStreamError::Parser(error) => SseError::Malformed {
                message: error.to_string(),
            },
        })
        .boxed()
}
