//! The provider part of `openlegion setup`: which LLM provider and default model, and the
//! provider's credential (a key typed without echo into `.env`, or a server's address).

use anyhow::{Context, Result, bail};
use serde_json::Value;

use super::ask::Ask;
use super::{Plan, SetupArgs};

/// The bundled chat model of the `local` provider (`openlegion_mesh::local_llm`'s default,
/// spelt out because a `&'static str` cannot be built from its two constants; a test
/// checks they agree).
pub(crate) const LOCAL_CHAT_MODEL: &str = "local/smollm2-135m-instruct";

/// A provider the wizard offers.
#[derive(Debug, Clone, Copy)]
pub(super) struct Provider {
    pub(super) name: &'static str,
    label: &'static str,
    default_model: &'static str,
    /// Whether it needs an API key (else a base URL at most).
    needs_key: bool,
}

pub(super) const PROVIDERS: [Provider; 6] = [
    Provider {
        name: "openai",
        label: "OpenAI",
        default_model: "openai/gpt-4o-mini",
        needs_key: true,
    },
    Provider {
        name: "anthropic",
        label: "Anthropic",
        default_model: "anthropic/claude-haiku-4-5",
        needs_key: true,
    },
    Provider {
        name: "groq",
        label: "Groq",
        default_model: "groq/llama-3.3-70b-versatile",
        needs_key: true,
    },
    Provider {
        name: "openrouter",
        label: "OpenRouter",
        default_model: "openrouter/openai/gpt-4o-mini",
        needs_key: true,
    },
    Provider {
        name: "ollama",
        label: "Ollama (a server on this machine; no key)",
        default_model: "ollama/llama3.2",
        needs_key: false,
    },
    Provider {
        name: "local",
        label: "local: a small model the mesh runs itself (no key, works offline)",
        default_model: LOCAL_CHAT_MODEL,
        needs_key: false,
    },
];

/// The embedding model the `local` provider comes with.
fn local_embedding_model() -> String {
    format!(
        "{}/{}",
        openlegion_mesh::embeddings::PROVIDER,
        openlegion_mesh::embeddings::MODEL_NAME
    )
}

impl Plan {
    /// The provider, the default model and the provider's credential.
    pub(super) fn provider(&mut self, ask: &Ask, args: &SetupArgs) -> Result<()> {
        let current = self
            .mesh
            .get("llm", "default_model")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let current_provider = current
            .as_deref()
            .and_then(|m| m.split_once('/'))
            .map(|(p, _)| p.to_owned());
        let provider = match (&args.provider, &args.model) {
            (Some(name), _) => *PROVIDERS
                .iter()
                .find(|p| p.name == name)
                .expect("clap checked"),
            (None, Some(model)) => {
                let name = model.split_once('/').map_or("", |(p, _)| p);
                *PROVIDERS.iter().find(|p| p.name == name).with_context(|| {
                    format!(
                        "--model {model}: give it as provider/model, with a provider of {}",
                        names()
                    )
                })?
            }
            (None, None) => {
                let default = current_provider
                    .as_deref()
                    .and_then(|c| PROVIDERS.iter().position(|p| p.name == c))
                    .unwrap_or(0);
                let labels: Vec<String> = PROVIDERS.iter().map(|p| p.label.to_owned()).collect();
                PROVIDERS[ask.select("Which LLM provider do the agents use?", &labels, default)?]
            }
        };
        let model_default = match &current {
            Some(m) if current_provider.as_deref() == Some(provider.name) => m.clone(),
            _ => provider.default_model.to_owned(),
        };
        let model = match &args.model {
            Some(m) => m.clone(),
            None if provider.name == "local" => model_default,
            None => ask.input("Default model (provider/model)", &model_default)?,
        };
        if !model.starts_with(&format!("{}/", provider.name)) {
            bail!(
                "the model {model} is not one of {}'s (write it as {}/MODEL)",
                provider.name,
                provider.name
            );
        }
        openlegion_mesh::vault::parse_model(&model).map_err(|e| anyhow::anyhow!("{model}: {e}"))?;
        if current.as_deref() != Some(model.as_str()) {
            self.mesh
                .set("llm", "default_model", Value::from(model.clone()));
            self.changes
                .push(format!("mesh.yaml: llm.default_model {model}"));
        }
        if provider.name == "local" {
            let embedding = local_embedding_model();
            let current = self
                .mesh
                .get("llm", "embedding_model")
                .and_then(Value::as_str);
            if current != Some(embedding.as_str()) {
                self.mesh
                    .set("llm", "embedding_model", Value::from(embedding.clone()));
                self.changes
                    .push(format!("mesh.yaml: llm.embedding_model {embedding}"));
            }
        }
        self.credentials(ask, args, provider)
    }

    fn credentials(&mut self, ask: &Ask, args: &SetupArgs, provider: Provider) -> Result<()> {
        let upper = provider.name.to_uppercase();
        let base_var = format!("OPENLEGION_CRED_{upper}_API_BASE");
        let base = match (&args.api_base, provider.name) {
            (Some(url), _) => Some(url.clone()),
            (None, "ollama") => {
                let current = self
                    .dotenv
                    .get(&base_var)
                    .unwrap_or_else(|| "http://localhost:11434/v1".into());
                let url = ask.input("Ollama's address", &current)?;
                (Some(&url) != self.dotenv.get(&base_var).as_ref()
                    && url != "http://localhost:11434/v1")
                    .then_some(url)
            }
            _ => None,
        };
        if let Some(url) = base {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                bail!("{url} is not an http(s) URL");
            }
            self.dotenv.set(&base_var, &url)?;
            self.changes.push(format!(".env: {base_var}={url}"));
        }
        if !provider.needs_key {
            return Ok(());
        }
        let key_var = format!("OPENLEGION_CRED_{upper}_API_KEY");
        let in_file = self.dotenv.get(&key_var).is_some();
        let in_env = std::env::var(&key_var).is_ok_and(|v| !v.is_empty());
        let key = if let Some(var) = &args.api_key_env {
            let value = std::env::var(var)
                .ok()
                .filter(|v| !v.trim().is_empty())
                .with_context(|| format!("--api-key-env {var}: the variable is not set"))?;
            Some(value.trim().to_owned())
        } else if in_file
            && !ask.replace(&format!("The {} key ({key_var} in .env)", provider.label))?
        {
            None
        } else if ask.interactive() {
            ask.secret(&format!(
                "Paste your {} API key (hidden; Enter to skip)",
                provider.label
            ))?
        } else {
            None
        };
        match key {
            Some(key) => {
                if key.chars().any(char::is_whitespace) {
                    bail!("an API key has no spaces or line breaks; check what was pasted");
                }
                self.dotenv.set(&key_var, &key)?;
                self.changes
                    .push(format!(".env: {key_var} (hidden; the file is mode 0600)"));
            }
            None if !in_file && !in_env => self.notes.push(format!(
                "no {} key yet: put {key_var}=… in {} (or in the environment) before `start`",
                provider.label,
                self.project_path.with_file_name(".env").display()
            )),
            None => {}
        }
        Ok(())
    }
}

fn names() -> String {
    PROVIDERS.map(|p| p.name).join(", ")
}

#[cfg(test)]
mod tests {
    use openlegion_mesh::local_llm;

    #[test]
    fn the_local_chat_model_is_the_one_the_mesh_bundles() {
        assert_eq!(
            super::LOCAL_CHAT_MODEL,
            format!("{}/{}", local_llm::PROVIDER, local_llm::DEFAULT)
        );
    }
}
