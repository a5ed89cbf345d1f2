//! Short constructors and `with_*` modifiers for [`Turn`] and [`ToolCall`],
//! so a test reads `Turn::text("hi").with_chunks(2)` instead of a struct
//! literal with five fields.
//!
//! A modifier that does not fit the turn (a header on a text answer) panics:
//! that is a bug in the test, and silently ignoring it would hide it. The
//! answer modifiers look through [`Turn::Delay`] to the answer inside.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use super::{Quirks, ToolCall, Turn, Usage};

impl Turn {
    /// A final text answer.
    pub fn text(text: impl Into<String>) -> Self {
        Self::Text {
            text: text.into(),
            chunks: None,
            usage: Usage::default(),
            quirks: Quirks::default(),
        }
    }

    /// A single tool call with a generated id.
    pub fn tool_call(name: impl Into<String>, arguments: Value) -> Self {
        Self::tool_calls([ToolCall::new(name, arguments)])
    }

    /// Several tool calls in one answer.
    pub fn tool_calls(calls: impl IntoIterator<Item = ToolCall>) -> Self {
        Self::ToolCalls {
            calls: calls.into_iter().collect(),
            text: None,
            chunks: None,
            usage: Usage::default(),
            quirks: Quirks::default(),
        }
    }

    /// An HTTP error with the provider's usual error body.
    #[must_use]
    pub fn error(status: u16) -> Self {
        Self::Error {
            status,
            body: None,
            headers: BTreeMap::new(),
        }
    }

    /// Accept the request and never answer.
    #[must_use]
    pub fn hang() -> Self {
        Self::Hang
    }

    /// Send `after_deltas` text deltas of `text`, then drop the connection.
    pub fn stream_cut(text: impl Into<String>, after_deltas: usize) -> Self {
        Self::StreamCut {
            text: text.into(),
            after_deltas,
        }
    }

    /// A verbatim response.
    pub fn raw(status: u16, content_type: impl Into<String>, body: impl Into<String>) -> Self {
        Self::Raw {
            status,
            content_type: content_type.into(),
            body: body.into(),
        }
    }

    /// An HTML page, as a misconfigured proxy in front of a provider sends.
    pub fn html(status: u16, body: impl Into<String>) -> Self {
        Self::raw(status, "text/html; charset=utf-8", body)
    }

    /// This turn, answered after `delay`.
    #[must_use]
    pub fn delayed(self, delay: Duration) -> Self {
        Self::Delay {
            ms: u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            then: Box::new(self),
        }
    }

    /// Report these token counts instead of the estimate.
    ///
    /// # Panics
    /// If this is not a text or tool-call turn.
    #[must_use]
    pub fn with_usage(mut self, prompt_tokens: u64, completion_tokens: u64) -> Self {
        *self.answer_usage() = Usage {
            prompt_tokens: Some(prompt_tokens),
            completion_tokens: Some(completion_tokens),
        };
        self
    }

    /// Switch on deliberate format deviations.
    ///
    /// # Panics
    /// If this is not a text or tool-call turn.
    #[must_use]
    pub fn with_quirks(mut self, quirks: Quirks) -> Self {
        match self.answer() {
            Self::Text { quirks: q, .. } | Self::ToolCalls { quirks: q, .. } => *q = quirks,
            _ => unreachable!("answer() returns only answers"),
        }
        self
    }

    /// Stream the text in `chunks` pieces of about equal length.
    ///
    /// # Panics
    /// If this is not a text or tool-call turn.
    #[must_use]
    pub fn with_chunks(mut self, chunks: usize) -> Self {
        match self.answer() {
            Self::Text { chunks: c, .. } | Self::ToolCalls { chunks: c, .. } => *c = Some(chunks),
            _ => unreachable!("answer() returns only answers"),
        }
        self
    }

    /// Text sent before the tool calls.
    ///
    /// # Panics
    /// If this is not a tool-call turn.
    #[must_use]
    pub fn with_text(mut self, preamble: impl Into<String>) -> Self {
        match self.answer() {
            Self::ToolCalls { text, .. } => *text = Some(preamble.into()),
            other => panic!("with_text applies to tool-call turns, not {other:?}"),
        }
        self
    }

    /// An extra response header on an error turn.
    ///
    /// # Panics
    /// If this is not an error turn.
    #[must_use]
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        match &mut self {
            Self::Error { headers, .. } => {
                headers.insert(name.into(), value.into());
            }
            other => panic!("with_header applies to error turns, not {other:?}"),
        }
        self
    }

    /// The body of an error turn: a JSON string is sent as raw text, any
    /// other value as JSON.
    ///
    /// # Panics
    /// If this is not an error turn.
    #[must_use]
    pub fn with_body(mut self, body: Value) -> Self {
        match &mut self {
            Self::Error { body: b, .. } => *b = Some(body),
            other => panic!("with_body applies to error turns, not {other:?}"),
        }
        self
    }

    /// The text or tool-call answer inside this turn, looking through delays.
    fn answer(&mut self) -> &mut Self {
        match self {
            Self::Delay { then, .. } => then.answer(),
            Self::Text { .. } | Self::ToolCalls { .. } => self,
            other => panic!("expected a text or tool-call turn, found {other:?}"),
        }
    }

    fn answer_usage(&mut self) -> &mut Usage {
        match self.answer() {
            Self::Text { usage, .. } | Self::ToolCalls { usage, .. } => usage,
            _ => unreachable!("answer() returns only answers"),
        }
    }
}

impl ToolCall {
    /// A call with a generated id.
    pub fn new(name: impl Into<String>, arguments: Value) -> Self {
        Self {
            id: None,
            name: name.into(),
            arguments,
        }
    }

    /// A call with a fixed id.
    #[must_use]
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }
}
