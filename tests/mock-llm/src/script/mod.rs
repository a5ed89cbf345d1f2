//! The script language: what a test can make the mock "model" do.
//!
//! A script is a queue of [`Turn`]s; each chat request takes the next one.
//! Every type here is plain serde data with the same JSON shape in-process and
//! over the control API, so a script written for one works for the other.
//! Queues and their matching rules live in `queues`; how a turn is played out
//! over HTTP lives in `play` and the protocol modules.

mod build;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One scripted answer to one request.
///
/// JSON form: an object tagged by `"type"`, for example
/// `{"type": "text", "text": "hi"}` or `{"type": "hang"}`. Fields shown as
/// `Option` or with a default may be left out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Turn {
    /// A final text answer. Streamed as several deltas: one per word, or
    /// `chunks` pieces of about equal length.
    Text {
        /// The whole answer.
        text: String,
        /// Split the streamed text into this many pieces instead of words.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        chunks: Option<usize>,
        /// Token counts to report instead of the estimate.
        #[serde(default, skip_serializing_if = "Usage::is_empty")]
        usage: Usage,
        /// Deliberate deviations from the wire format.
        #[serde(default, skip_serializing_if = "Quirks::is_none")]
        quirks: Quirks,
    },
    /// One or more tool calls, optionally preceded by some text.
    ToolCalls {
        /// The calls, in order.
        calls: Vec<ToolCall>,
        /// Text sent before the calls.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
        /// Split the streamed preamble text into this many pieces instead of words.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        chunks: Option<usize>,
        /// Token counts to report instead of the estimate.
        #[serde(default, skip_serializing_if = "Usage::is_empty")]
        usage: Usage,
        /// Deliberate deviations from the wire format.
        #[serde(default, skip_serializing_if = "Quirks::is_none")]
        quirks: Quirks,
    },
    /// An HTTP error. Without `body`, the provider's usual error JSON is sent.
    Error {
        /// The HTTP status, e.g. 429 or 503.
        status: u16,
        /// A JSON string is sent as raw `text/plain`; any other JSON value is
        /// sent as `application/json`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        body: Option<Value>,
        /// Extra response headers, e.g. `retry-after`.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        headers: BTreeMap<String, String>,
    },
    /// Wait `ms` milliseconds, then answer with `then`.
    Delay {
        /// How long to wait before answering.
        ms: u64,
        /// The answer sent after the wait.
        then: Box<Turn>,
    },
    /// Accept the request and never answer; the client's timeout must fire.
    /// The connection is dropped only when the mock shuts down.
    Hang,
    /// A broken connection. Streamed: `after_deltas` text deltas of `text`
    /// (split by words) are sent, then the connection is dropped with no
    /// finish chunk, `[DONE]` or `message_stop`. Not streamed: the connection
    /// is dropped without any response.
    StreamCut {
        /// The answer that gets cut short.
        text: String,
        /// How many text deltas go out before the cut.
        after_deltas: usize,
    },
    /// A verbatim response, e.g. the HTML error page of a misconfigured proxy.
    Raw {
        /// The HTTP status.
        status: u16,
        /// The `content-type` header.
        content_type: String,
        /// The body, sent as is.
        body: String,
    },
}

/// One tool call inside [`Turn::ToolCalls`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The call id; generated (`call_mock_N` / `toolu_mock_N`) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The tool's name.
    pub name: String,
    /// The arguments as JSON; serialised to a string for OpenAI.
    #[serde(default)]
    pub arguments: Value,
}

/// Token counts a turn reports instead of the built-in estimate (about one
/// token per four characters of request body or answer).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Usage {
    /// OpenAI `prompt_tokens`, Anthropic `input_tokens`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_tokens: Option<u64>,
    /// OpenAI `completion_tokens`, Anthropic `output_tokens`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completion_tokens: Option<u64>,
}

impl Usage {
    /// True when neither count is set.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.prompt_tokens.is_none() && self.completion_tokens.is_none()
    }
}

/// Deliberately broken response shapes, for testing tolerant parsers.
/// All default to `false`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Quirks {
    /// OpenAI: send `function.arguments` as a JSON object, not a string.
    /// When streamed, the whole object goes out in the call's first chunk.
    pub arguments_as_object: bool,
    /// Cut the last character off the arguments JSON (`{"a":1` instead of
    /// `{"a":1}`). Anthropic without streaming: `input` becomes that string.
    pub malformed_arguments: bool,
    /// Leave out the response (and chunk) `id`.
    pub omit_id: bool,
    /// Leave out every tool call's `id`.
    pub omit_tool_call_ids: bool,
    /// OpenAI: leave out `created`.
    pub omit_created: bool,
}

impl Quirks {
    /// True when no quirk is switched on.
    #[must_use]
    pub fn is_none(&self) -> bool {
        *self == Self::default()
    }
}

/// Turns to append to one queue; the body of `POST /_mock/script`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Script {
    /// The model whose queue gets the turns; `None` means the default queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The turns, in the order they will be answered.
    pub turns: Vec<Turn>,
}
