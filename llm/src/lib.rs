//! # The OpenLegion LLM client
//!
//! OpenAI-compatible Chat Completions and Anthropic Messages over reqwest, streaming
//! included, translated to and from our own [`types`](ChatRequest). Provider SDKs change
//! their types often and parse strictly; owning the types lets the mesh tolerate provider
//! quirks (missing ids, arguments as objects, malformed argument JSON) in one place.
//!
//! The API is three calls, [`chat`], [`chat_stream`] and [`embed`], each taking the
//! caller's `reqwest::Client` and the [`Endpoint`] to talk to. Every failure is an
//! [`LlmError`] classified for failover ([`LlmError::kind`]); no error or log line carries
//! the endpoint's key.
//!
//! This crate talks to one endpoint at a time. Choosing the endpoint (the vault), retrying
//! and falling over, and charging the call live in the mesh's proxy above it.

mod anthropic;
mod client;
mod deadline;
mod endpoint;
mod error;
#[cfg(test)]
mod fuzz;
mod lenient;
mod openai;
mod secret;
mod sse;
mod stream;
mod transport;
mod types;

pub use client::{chat, chat_stream, embed};
pub use endpoint::{Endpoint, Protocol};
pub use error::{FailureKind, LlmError};
pub use secret::Secret;
pub use types::{
    ChatRequest, ChatResponse, EmbedRequest, EmbedResponse, Message, Role, StreamEvent, ToolCall,
    ToolSpec, Usage,
};
