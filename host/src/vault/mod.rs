//! The credential vault: provider API keys and base URLs, from `OPENLEGION_CRED_*` (and the
//! original's `OPENLEGION_SYSTEM_*`) environment variables and the project's `.env` file.
//!
//! Keys live only in the mesh. Agents name a *service* (`llm`, …) and never see a key;
//! the [`Redactor`] scrubs every key value from provider error messages before they are
//! logged or returned, because providers quote keys back ("Incorrect API key provided: …").

mod providers;
mod redact;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use openlegion_llm::{Endpoint, Secret};

pub use providers::{ModelRef, parse_model};
pub use redact::{REDACTED, Redactor};

/// Environment prefixes whose variables are credentials (`_NAME` lower-cased is the name).
const PREFIXES: [&str; 2] = ["OPENLEGION_CRED_", "OPENLEGION_SYSTEM_"];

/// A problem with the credential sources.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    #[error("{}:{line}: cannot parse {content:?} (expected NAME=value)", path.display())]
    DotenvLine {
        path: PathBuf,
        line: usize,
        content: String,
    },
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A model id names a provider we have no way to reach.
    #[error("No API key configured for model {model} (set OPENLEGION_CRED_{}_API_KEY)", provider.to_uppercase())]
    NoCredentials { model: String, provider: String },
    #[error(
        "model id {model:?} has no provider prefix (use provider/model, e.g. openai/gpt-4o-mini)"
    )]
    NoProvider { model: String },
}

/// All credentials, by lower-case name (`openai_api_key`, `ollama_api_base`, …).
#[derive(Debug, Clone, Default)]
pub struct Vault {
    credentials: BTreeMap<String, Secret>,
    redactor: Redactor,
}

impl Vault {
    /// Reads `.env` at `dotenv` (if it exists), then the process environment `env`, which
    /// wins over the file as with python-dotenv's default.
    pub fn load(
        dotenv: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, VaultError> {
        let mut credentials = BTreeMap::new();
        for (key, value) in read_dotenv(dotenv)?.into_iter().chain(env) {
            if let Some(name) = credential_name(&key)
                && !value.trim().is_empty()
            {
                credentials.insert(name, Secret::new(value.trim()));
            }
        }
        let redactor = Redactor::new(
            credentials
                .iter()
                .filter(|(name, _)| !name.ends_with("_api_base"))
                .map(|(_, s)| s.expose()),
        );
        Ok(Self {
            credentials,
            redactor,
        })
    }

    pub fn get(&self, name: &str) -> Option<&Secret> {
        self.credentials.get(name)
    }

    /// The names of the stored credentials (never their values).
    pub fn names(&self) -> Vec<String> {
        self.credentials.keys().cloned().collect()
    }

    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// The endpoint serving `model` (`provider/model`), with its key.
    pub fn endpoint(&self, model: &ModelRef) -> Result<Endpoint, VaultError> {
        let provider = &model.provider;
        let key = self.get(&format!("{provider}_api_key")).cloned();
        let base = self
            .get(&format!("{provider}_api_base"))
            .map(|b| b.expose().trim_end_matches('/').to_owned());
        let known = providers::known(provider);
        let (protocol, base_url) = match (known, base) {
            (Some(k), Some(base)) => (k.protocol, base),
            (Some(k), None) => (k.protocol, k.base_url.to_owned()),
            // Any other OpenAI-compatible server, once its base URL is configured.
            (None, Some(base)) => (openlegion_llm::Protocol::OpenAi, base),
            (None, None) => {
                return Err(VaultError::NoCredentials {
                    model: model.id(),
                    provider: provider.clone(),
                });
            }
        };
        let keyless = known.is_some_and(|k| !k.needs_key);
        if key.is_none() && !keyless && known.is_some() {
            return Err(VaultError::NoCredentials {
                model: model.id(),
                provider: provider.clone(),
            });
        }
        Ok(Endpoint {
            provider: provider.clone(),
            protocol,
            base_url,
            api_key: key,
        })
    }
}

fn credential_name(key: &str) -> Option<String> {
    PREFIXES
        .iter()
        .find_map(|p| key.strip_prefix(p))
        .filter(|n| !n.is_empty())
        .map(str::to_lowercase)
}

/// The variables of a `.env` file, in file order; none if the file does not exist.
fn read_dotenv(path: &Path) -> Result<Vec<(String, String)>, VaultError> {
    let iter = match dotenvy::from_path_iter(path) {
        Ok(iter) => iter,
        Err(dotenvy::Error::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Vec::new());
        }
        Err(dotenvy::Error::Io(source)) => {
            return Err(VaultError::Read {
                path: path.to_owned(),
                source,
            });
        }
        Err(_) => return Ok(Vec::new()),
    };
    let mut vars = Vec::new();
    for item in iter {
        match item {
            Ok(pair) => vars.push(pair),
            Err(dotenvy::Error::LineParse(content, _)) => {
                let text = std::fs::read_to_string(path).unwrap_or_default();
                let line = text
                    .lines()
                    .position(|l| l.contains(content.trim()))
                    .map_or(0, |i| i + 1);
                return Err(VaultError::DotenvLine {
                    path: path.to_owned(),
                    line,
                    content,
                });
            }
            Err(dotenvy::Error::Io(source)) => {
                return Err(VaultError::Read {
                    path: path.to_owned(),
                    source,
                });
            }
            // An undefined ${VAR} in a value: dotenvy already substitutes it with "".
            Err(dotenvy::Error::EnvVar(_)) => {}
            Err(_) => {}
        }
    }
    Ok(vars)
}

#[cfg(test)]
mod tests;
