//! What can go wrong with the local embedder.

use std::path::PathBuf;

/// The error type of tokenizers (and of anything else without a better one).
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A failure to install, load or run the local embedding model.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmbedError {
    /// The model files are not installed; the message says how to get them.
    #[error(
        "the local embedding model is not installed: {} is missing. Run `openlegion setup` \
         (with llm.embedding_model: local/all-minilm-l6-v2 in mesh.yaml), or set \
         {env} to a directory that holds it",
        missing.display(),
        env = crate::MODELS_DIR_ENV
    )]
    NotInstalled { missing: PathBuf },
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The model files are there but do not make a model.
    #[error("cannot load the model from {}: {source}", dir.display())]
    Load {
        dir: PathBuf,
        #[source]
        source: BoxError,
    },
    #[error("cannot tokenize the input: {0}")]
    Tokenize(#[source] BoxError),
    #[error("the model failed on the input: {0}")]
    Inference(#[from] candle_core::Error),
}
