//! Model ids (`provider/model`) and the providers we know the defaults of.

use openlegion_llm::Protocol;

use super::VaultError;

/// A provider's protocol, default base URL and whether it needs a key.
#[derive(Debug, Clone, Copy)]
pub(super) struct Known {
    pub(super) protocol: Protocol,
    pub(super) base_url: &'static str,
    pub(super) needs_key: bool,
}

const fn openai(base_url: &'static str) -> Known {
    Known {
        protocol: Protocol::OpenAi,
        base_url,
        needs_key: true,
    }
}

pub(super) fn known(provider: &str) -> Option<Known> {
    Some(match provider {
        "openai" => openai("https://api.openai.com/v1"),
        "anthropic" => Known {
            protocol: Protocol::Anthropic,
            base_url: "https://api.anthropic.com",
            needs_key: true,
        },
        "groq" => openai("https://api.groq.com/openai/v1"),
        "openrouter" => openai("https://openrouter.ai/api/v1"),
        "deepseek" => openai("https://api.deepseek.com/v1"),
        "mistral" => openai("https://api.mistral.ai/v1"),
        "together" => openai("https://api.together.xyz/v1"),
        "xai" => openai("https://api.x.ai/v1"),
        "gemini" => openai("https://generativelanguage.googleapis.com/v1beta/openai"),
        "ollama" => Known {
            protocol: Protocol::OpenAi,
            base_url: "http://localhost:11434/v1",
            needs_key: false,
        },
        "llamacpp" => Known {
            protocol: Protocol::OpenAi,
            base_url: "http://localhost:8080/v1",
            needs_key: false,
        },
        "vllm" => Known {
            protocol: Protocol::OpenAi,
            base_url: "http://localhost:8000/v1",
            needs_key: false,
        },
        _ => return None,
    })
}

/// A parsed model id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ModelRef {
    pub provider: String,
    /// The model as the provider names it; may itself contain `/` (OpenRouter).
    pub name: String,
}

impl ModelRef {
    /// `provider/name`, the id the rest of the mesh uses.
    pub fn id(&self) -> String {
        format!("{}/{}", self.provider, self.name)
    }

    /// Whether calls to this model cost nothing (a local server).
    pub fn is_local(&self) -> bool {
        matches!(
            self.provider.as_str(),
            "ollama" | "llamacpp" | "vllm" | "local"
        )
    }
}

/// Parses `provider/model`. A bare name is accepted for the two obvious families
/// (`claude-*` → anthropic, `gpt-*`/`o1`/`o3`/`o4`/`text-embedding-*` → openai).
pub fn parse_model(id: &str) -> Result<ModelRef, VaultError> {
    let id = id.trim();
    if let Some((provider, name)) = id.split_once('/')
        && !provider.is_empty()
        && !name.is_empty()
    {
        return Ok(ModelRef {
            provider: provider.to_ascii_lowercase(),
            name: name.to_owned(),
        });
    }
    let provider = if id.starts_with("claude") {
        "anthropic"
    } else if ["gpt-", "o1", "o3", "o4", "text-embedding-", "chatgpt-"]
        .iter()
        .any(|p| id.starts_with(p))
    {
        "openai"
    } else {
        return Err(VaultError::NoProvider {
            model: id.to_owned(),
        });
    };
    Ok(ModelRef {
        provider: provider.into(),
        name: id.to_owned(),
    })
}
