//! Server-sent events framed safely: every SSE reader of the platform (the LLM client, the
//! mesh reading an agent's turn, the agent and the CLI reading the mesh) goes through
//! [`frame`], because the framing crate panics on one input a peer can send.

use eventsource_stream::{EventStream, Eventsource};
use futures_util::{Stream, StreamExt};

/// The UTF-8 byte order mark, which the SSE spec lets a stream start with.
const BOM: &[u8] = b"\xef\xbb\xbf";

/// The events framed in a body of byte chunks (reqwest's `bytes_stream()`):
/// eventsource-stream's framing, after the leading byte order marks are gone. eventsource-stream 0.2.3 strips a leading BOM
/// itself by slicing off one *byte* of a three-byte character, which panics; removing
/// every leading BOM before it sees the body keeps that path unreachable (the spec strips
/// one; a second at the start is nothing a server sends on purpose).
pub fn frame<S, B, E>(chunks: S) -> EventStream<impl Stream<Item = Result<Vec<u8>, E>>>
where
    S: Stream<Item = Result<B, E>>,
    B: AsRef<[u8]>,
{
    // The bytes seen while they may still be (part of) a leading BOM; `None` once the
    // first other byte has passed.
    let mut head = Some(Vec::new());
    chunks
        .map(move |chunk| {
            let chunk = chunk?;
            let Some(pending) = head.as_mut() else {
                return Ok(chunk.as_ref().to_vec());
            };
            pending.extend_from_slice(chunk.as_ref());
            while pending.starts_with(BOM) {
                pending.drain(..BOM.len());
            }
            if BOM.starts_with(pending) {
                // Empty, or a BOM split across chunks: wait for the rest (an empty chunk
                // is skipped by the framing).
                return Ok(Vec::new());
            }
            Ok(head.take().unwrap_or_default())
        })
        .eventsource()
}

#[cfg(test)]
mod tests {
    use futures_util::FutureExt;

    use super::*;

    fn data(chunks: &[&[u8]]) -> Vec<String> {
        let chunks: Vec<Result<&[u8], std::io::Error>> = chunks.iter().map(|c| Ok(*c)).collect();
        frame(futures_util::stream::iter(chunks))
            .map(|event| event.expect("an event").data)
            .collect::<Vec<_>>()
            .now_or_never()
            .expect("all there")
    }

    /// eventsource-stream alone panics on a body that starts with a byte order mark.
    #[test]
    fn a_leading_byte_order_mark_is_dropped_whole_or_split() {
        assert_eq!(data(&[b"\xef\xbb\xbfdata: a\n\n"]), ["a"]);
        assert_eq!(data(&[b"\xef", b"\xbb", b"\xbfdata: a\n\n"]), ["a"]);
        assert_eq!(data(&[b"\xef\xbb\xbf\xef\xbb\xbfdata: a\n", b"\n"]), ["a"]);
        assert_eq!(data(&[b"", b"data: \xef\xbb\xbfb\n\n"]), ["\u{feff}b"]);
    }
}
