//! # The OpenLegion LLM client
//!
//! OpenAI-compatible Chat Completions and Anthropic Messages over reqwest, streaming
//! included, translated to and from our own [`types`](ChatRequest). Provider SDKs change
//! their types often and parse strictly; owning the types lets the mesh tolerate provider
//! quirks (missing ids, arguments as objects, malformed argument JSON) in one place.
//!
//! This crate talks to one endpoint at a time. Choosing the endpoint (the vault), retrying
//! and falling over, and charging the call live in the mesh's proxy above it.

mod endpoint;
mod error;
mod secret;
mod types;

pub use endpoint::{Endpoint, Protocol};
pub use error::{FailureKind, LlmError};
pub use secret::Secret;
pub use types::{
    ChatRequest, ChatResponse, EmbedRequest, EmbedResponse, Message, Role, StreamEvent, ToolCall,
    ToolSpec, Usage,
};
