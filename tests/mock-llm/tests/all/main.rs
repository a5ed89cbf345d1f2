//! Integration tests of the mock LLM server over real HTTP, one module per
//! topic. `support` holds the raw HTTP client and the SSE reassembly.

mod anthropic;
mod binary;
mod embeddings;
mod failures;
mod openai;
mod quirks;
mod script;
mod support;
