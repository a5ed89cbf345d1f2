//! # OpenLegion's scripted mock LLM provider
//!
//! Tests of the LLM proxy and the agent runtime talk to this server over real
//! HTTP instead of OpenAI or Anthropic. Nothing is generated: every answer is a
//! [`Turn`] a test queued beforehand, so a test decides exactly what the
//! "model" says, how it fails and how slowly it answers.
//!
//! ```no_run
//! # async fn demo() {
//! use openlegion_mock_llm::{MockLlm, Turn};
//! use serde_json::json;
//!
//! let mock = MockLlm::start().await;
//! mock.push(Turn::tool_call("write_file", json!({"path": "a.txt"})));
//! mock.push(Turn::text("Done."));
//! // Point the client under test at `mock.openai_base()` or `mock.anthropic_base()`.
//! assert_eq!(mock.requests().len(), 0);
//! # }
//! ```
//!
//! What it serves:
//! - OpenAI Chat Completions (`POST /v1/chat/completions`), JSON and SSE;
//! - Anthropic Messages (`POST /v1/messages`), JSON and SSE with named events;
//! - OpenAI embeddings (`POST /v1/embeddings`), deterministic vectors;
//! - a control API under `/_mock/` so the `mock-llm` binary can be scripted
//!   from another process.
//!
//! Requests are checked roughly the way the real providers check them (a tool
//! result must answer a tool call, Anthropic needs `max_tokens`, ...), so a
//! client bug shows up as a 400 instead of passing silently.

mod anthropic;
mod api_error;
mod control;
mod embeddings;
mod error;
mod exchange;
mod openai;
mod play;
mod queues;
mod recording;
mod script;
mod server;
mod shared;
mod split;
mod sse;

pub use embeddings::embedding;
pub use error::MockError;
pub use recording::{Api, RecordedRequest};
pub use script::{Quirks, Script, ToolCall, Turn, Usage};
pub use server::{MockConfig, MockLlm};
