//! Fuzz targets for what providers send back: the SSE streams of both wire formats (framing
//! by eventsource-stream, meaning by each protocol's decoder) and whole response bodies
//! with their lenient tool calls. Bolero targets run as tests for `OPENLEGION_FUZZ_SECS`
//! (see `openlegion-fuzz`); corpora in `src/__fuzz__/NAME/corpus/`. Properties: no panic,
//! no hang; a finished stream's `Done` holds exactly the text deltas and tool calls that
//! went out before it; every tool call's arguments parse or give an error.

use std::panic::RefUnwindSafe;
use std::path::Path;

use eventsource_stream::EventStreamError;
use futures_util::{FutureExt, StreamExt};
use openlegion_fuzz::JSON;
use serde_json::Value;

use crate::sse::SseError;
use crate::stream::{Decoder, Flow};
use crate::{ChatResponse, StreamEvent, anthropic, openai};

const SSE: &[&[u8]] = &[
    b"data: ",
    b"event: ",
    b"id: ",
    b"retry: ",
    b":",
    b"\n",
    b"\n\n",
    b"\r\n",
    b"\r",
    b"data: [DONE]\n\n",
    b"{",
    b"}",
    b"\"",
    b"null",
    b"\"index\":",
    b"\"arguments\":\"",
    b"\"tool_calls\":[",
    b"\"delta\":",
    b"\"type\":\"content_block_delta\"",
    b"\"partial_json\":\"",
    b"\"finish_reason\":\"stop\"",
    b"event: message_stop\n",
    b"\xef\xbb\xbf",
    b"\xf0\x9f",
    b"1e999",
    b"18446744073709551616",
];

/// Keys of the providers' bodies, added to the JSON tokens of `openlegion_fuzz`.
const RESPONSE_KEYS: &[&[u8]] = &[
    b"\"arguments\":",
    b"\"input\":",
    b"\"tool_use\"",
    b"\"{\\\"a\\\":\"",
];

fn target(name: &'static str, dict: &[&[u8]], check: impl Fn(&[u8]) + RefUnwindSafe) {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/__fuzz__")
        .join(name)
        .join("corpus");
    openlegion_fuzz::run!(name, corpus, dict, check);
}

/// Feeds `body` to `decoder` as a stream cut into chunks of `chunk` bytes (so events and
/// UTF-8 characters split across reads), the way `stream::decode` does, and checks what
/// comes out.
fn decode(body: &[u8], chunk: usize, mut decoder: impl Decoder) {
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        body.chunks(chunk).map(|c| Ok(c.to_vec())).collect();
    let mut events = openlegion_protocol::sse::frame(futures_util::stream::iter(chunks));
    let mut out = Vec::new();
    let mut finished = false;
    let mut broken = None;
    loop {
        let next = events.next().now_or_never().expect("the body is all there");
        let Some(next) = next else { break };
        match next {
            Ok(event) => match decoder.event(&event, &mut out) {
                Ok(Flow::Continue) => {}
                Ok(Flow::Finished) => {
                    finished = true;
                    break;
                }
                Err(_) => return,
            },
            Err(EventStreamError::Utf8(e)) => {
                broken = Some(SseError::Malformed {
                    message: e.to_string(),
                });
                break;
            }
            Err(EventStreamError::Parser(e)) => {
                broken = Some(SseError::Malformed {
                    message: e.to_string(),
                });
                break;
            }
            Err(EventStreamError::Transport(_)) => unreachable!("no transport here"),
        }
    }
    if !finished && decoder.end(broken, &mut out).is_err() {
        return;
    }
    consistent(&out);
}

/// A stream ends in one `Done` whose content is the deltas joined and whose calls are the
/// calls that went out, in order.
fn consistent(out: &[StreamEvent]) {
    let Some((StreamEvent::Done(done), before)) = out.split_last() else {
        panic!("a stream that did not fail ends in Done: {out:?}");
    };
    let mut text = String::new();
    let mut calls = Vec::new();
    for event in before {
        match event {
            StreamEvent::TextDelta(t) => text.push_str(t),
            StreamEvent::ToolCall(c) => calls.push(c.clone()),
            StreamEvent::Done(_) => panic!("Done twice: {out:?}"),
        }
    }
    assert_eq!(text, done.content);
    assert_eq!(calls, done.tool_calls);
    arguments(done);
}

/// Every call's arguments parse into an object or say why not.
fn arguments(response: &ChatResponse) {
    for call in &response.tool_calls {
        if let Ok(map) = call.parsed_arguments() {
            serde_json::to_string(&map).expect("an object serialises");
        }
    }
}

/// The chunk size (the first byte) and the body (the rest).
fn split(input: &[u8]) -> (usize, &[u8]) {
    match input.split_first() {
        Some((&first, rest)) => (first as usize % 64 + 1, rest),
        None => (1, input),
    }
}

#[test]
fn openai_sse() {
    target("openai_sse", SSE, |input| {
        let (chunk, body) = split(input);
        decode(
            body,
            chunk,
            openai::stream::Decoder::new("openai", "gpt-4o-mini"),
        );
    });
}

#[test]
fn anthropic_sse() {
    target("anthropic_sse", SSE, |input| {
        let (chunk, body) = split(input);
        decode(
            body,
            chunk,
            anthropic::stream::Decoder::new("anthropic", "claude-haiku-4-5"),
        );
    });
}

#[test]
fn response_bodies() {
    target(
        "response_bodies",
        &[JSON, RESPONSE_KEYS].concat(),
        |input| {
            let Ok(json) = serde_json::from_slice::<Value>(input) else {
                return;
            };
            if let Ok(response) = openai::response::parse(&json, "gpt-4o-mini", "openai") {
                arguments(&response);
            }
            if let Ok(response) = anthropic::response::parse(&json, "claude-haiku-4-5", "anthropic")
            {
                arguments(&response);
            }
        },
    );
}
