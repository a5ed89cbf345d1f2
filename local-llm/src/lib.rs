//! # The mesh's local instruct model
//!
//! So that a new installation can chat with no provider account, the mesh runs a small
//! instruct model itself, on the CPU: by default SmolLM2-135M-Instruct (Apache-2.0), and
//! any GGUF file of a llama, qwen2 or qwen3 architecture with a byte-level BPE vocabulary
//! and a ChatML or Llama 3 chat format that the operator points it at.
//!
//! - [`Transformer`] is the model (candle), with a key/value cache reused across calls.
//! - [`Tokenizer`] is rebuilt from the GGUF metadata; special tokens never come from text.
//! - Tool calls are decoded under a grammar derived from the offered tools' JSON schemas
//!   (llguidance), so every call names an offered tool and its arguments validate; a
//!   plain answer is not constrained.
//! - [`Engine`] owns the model on one thread: requests queue, each is bounded in tokens
//!   and wall time, stops when its caller goes away, and a panic fails that call only.
//!
//! Downloading the model is the caller's business (the mesh's `openlegion setup`), so this
//! crate never touches the network.

mod engine;
mod error;
mod files;
mod generate;
mod grammar;
mod loaded;
mod model;
mod prompt;
mod shortlist;
mod tokenizer;

pub use engine::Engine;
pub use error::LocalLlmError;
pub use files::{
    DEFAULT_MODEL, MODEL_DIR, WHEEL_FILES, WHEEL_SHA256, WHEEL_SIZE, WHEEL_URL, default_model_file,
};
pub use generate::{Answer, CALL_THRESHOLD, Piece, Request, ToolChoice};
pub use grammar::{Grammars, call_grammar, call_schema};
pub use loaded::Loaded;
pub use model::{Arch, DEQUANTIZE_BELOW, Hparams, MAX_CONTEXT, Transformer, Weights};
pub use prompt::describe_tools;
pub use shortlist::{SMALL_MODEL_PARAMS, SMALL_MODEL_TOOLS, shortlist};
pub use tokenizer::{ChatFormat, Tokenizer};

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tiny;
