//! Server-sent-event bodies, written by hand rather than with axum's `Sse`,
//! because a stream cut must end the HTTP body abruptly: after the last frame
//! the body yields an I/O error, hyper aborts the connection, and the client
//! sees a chunked body with no terminating chunk. `Sse` can only end cleanly.
//!
//! Also owns the "cut" response used when a non-streamed request must get no
//! response at all.

use std::io;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use futures_util::{StreamExt, stream};
use serde_json::Value;

/// How long a cut stream waits after its last frame before failing, so hyper
/// has flushed the frames: an error while data is still buffered would drop
/// that data too, and the client would not see the promised deltas.
const FLUSH_BEFORE_CUT: Duration = Duration::from_millis(50);

/// An unnamed event, OpenAI style: `data: {json}\n\n`.
pub(crate) fn data(json: &Value) -> Bytes {
    Bytes::from(format!("data: {json}\n\n"))
}

/// OpenAI's end-of-stream marker.
pub(crate) fn done() -> Bytes {
    Bytes::from_static(b"data: [DONE]\n\n")
}

/// A named event, Anthropic style: `event: name\ndata: {json}\n\n`.
pub(crate) fn event(name: &str, json: &Value) -> Bytes {
    Bytes::from(format!("event: {name}\ndata: {json}\n\n"))
}

/// A `text/event-stream` response sending `frames`; when `cut` is set, the
/// connection is then dropped instead of ending the body.
pub(crate) fn response(frames: Vec<Bytes>, cut: bool) -> Response {
    let frames = stream::iter(frames.into_iter().map(Ok::<_, io::Error>));
    let body = if cut {
        Body::from_stream(frames.chain(stream::once(fail_after_flush())))
    } else {
        Body::from_stream(frames)
    };
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// A response that is never sent: its body fails before any byte is written,
/// so hyper closes the connection without writing the buffered status line.
pub(crate) fn cut_connection() -> Response {
    let body = Body::from_stream(stream::once(async {
        Err::<Bytes, _>(io::Error::new(
            io::ErrorKind::ConnectionAborted,
            "mock-llm: scripted connection drop",
        ))
    }));
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::OK;
    response
}

async fn fail_after_flush() -> Result<Bytes, io::Error> {
    tokio::time::sleep(FLUSH_BEFORE_CUT).await;
    Err(io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "mock-llm: scripted stream cut",
    ))
}
