//! The default without an account: when no provider credential is configured at all, every
//! chat model that cannot be reached falls over to the local model, so a new installation
//! chats out of the box. `start` says so in one line, with how to add a key, and installs
//! the model first if it is missing.
//!
//! One credential of any provider (a key, or a base URL such as Ollama's) turns this off:
//! an operator who configured a provider wants to hear when it fails.

use openlegion_local_llm::DEFAULT_MODEL;

use crate::config::{AgentsFile, LlmSection};
use crate::vault::{ModelRef, Vault, parse_model};

use super::PROVIDER;

/// The model that stands in for unreachable ones.
pub fn fallback_model() -> ModelRef {
    ModelRef {
        provider: PROVIDER.into(),
        name: DEFAULT_MODEL.into(),
    }
}

/// Whether the vault holds no credential at all, which is when the local model stands in.
pub fn is_keyless(vault: &Vault) -> bool {
    vault.names().is_empty()
}

/// The chat models of mesh.yaml and agents.yaml (the default, the utility model, each
/// agent's own) that the vault cannot reach, by id, each once.
pub fn unreachable(llm: &LlmSection, agents: &AgentsFile, vault: &Vault) -> Vec<String> {
    let configured = [llm.default_model.clone(), llm.utility_model.clone()]
        .into_iter()
        .flatten()
        .chain(agents.agents.values().filter_map(|a| a.model.clone()));
    let mut out: Vec<String> = Vec::new();
    for id in configured {
        let Ok(model) = parse_model(&id) else {
            continue;
        };
        if model.provider != PROVIDER
            && vault.endpoint(&model).is_err()
            && !out.contains(&model.id())
        {
            out.push(model.id());
        }
    }
    out
}

/// The line `start` prints when the local model stands in, or `None` when it does not.
pub fn notice(llm: &LlmSection, agents: &AgentsFile, vault: &Vault) -> Option<String> {
    if !is_keyless(vault) {
        return None;
    }
    let missing = unreachable(llm, agents, vault);
    let first = parse_model(missing.first()?).ok()?;
    Some(format!(
        "No provider key is configured: agents chat with the local model {} (small, on this \
         CPU) instead of {}. To use {}, put OPENLEGION_CRED_{}_API_KEY=… in .env beside the \
         config directory and restart.",
        fallback_model().id(),
        missing.join(", "),
        first.id(),
        first.provider.to_uppercase()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn llm(default: &str) -> LlmSection {
        LlmSection {
            default_model: Some(default.into()),
            ..LlmSection::default()
        }
    }

    #[test]
    fn no_credentials_at_all_means_the_local_model_stands_in() {
        let vault = Vault::load(std::path::Path::new("/nonexistent/.env"), []).unwrap();
        let line = notice(&llm("openai/gpt-4o-mini"), &AgentsFile::default(), &vault).unwrap();
        assert!(line.contains("local/smollm2-135m-instruct"), "{line}");
        assert!(line.contains("OPENLEGION_CRED_OPENAI_API_KEY"), "{line}");
    }

    #[test]
    fn any_credential_turns_it_off() {
        let vault = Vault::load(
            std::path::Path::new("/nonexistent/.env"),
            [("OPENLEGION_CRED_GROQ_API_KEY".to_owned(), "k".to_owned())],
        )
        .unwrap();
        assert!(notice(&llm("openai/gpt-4o-mini"), &AgentsFile::default(), &vault).is_none());
    }

    #[test]
    fn a_local_default_needs_no_notice() {
        let vault = Vault::load(std::path::Path::new("/nonexistent/.env"), []).unwrap();
        let local = llm("local/smollm2-135m-instruct");
        assert!(notice(&local, &AgentsFile::default(), &vault).is_none());
        assert!(unreachable(&local, &AgentsFile::default(), &vault).is_empty());
    }
}
