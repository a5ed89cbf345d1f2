//! Where a model lives: the wire protocol, the base URL and the key.

use crate::Secret;

/// The two wire protocols every supported provider speaks one of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// OpenAI Chat Completions (`POST {base}/chat/completions`, `POST {base}/embeddings`):
    /// OpenAI, Groq, Ollama, OpenRouter, vLLM, llama.cpp server, …
    OpenAi,
    /// Anthropic Messages (`POST {base}/v1/messages`).
    Anthropic,
}

/// A provider endpoint, resolved from the vault.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The provider's name as in model ids (`openai`, `anthropic`, `groq`, `ollama`, …).
    pub provider: String,
    pub protocol: Protocol,
    /// Without a trailing slash. OpenAI-style bases include the version (`…/v1`);
    /// Anthropic's does not (`https://api.anthropic.com`).
    pub base_url: String,
    /// `None` for keyless local servers (Ollama, llama.cpp).
    pub api_key: Option<Secret>,
}
