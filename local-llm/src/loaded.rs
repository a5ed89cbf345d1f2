//! A model file opened: its transformer and tokenizer.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::model::{Gguf, Transformer, Weights};
use crate::{LocalLlmError, Tokenizer};

/// A model ready to run.
#[derive(Debug)]
pub struct Loaded {
    pub transformer: Transformer,
    pub tokenizer: Tokenizer,
    /// How long loading took.
    pub load_time: Duration,
    /// The tokens whose keys and values the transformer's cache holds, in order.
    pub(crate) history: Vec<u32>,
    /// The logits after the last of them.
    pub(crate) last_logits: Vec<f32>,
}

impl Loaded {
    /// Reads the GGUF file at `path`, holding its weights as `weights` says.
    pub fn open(path: &Path, weights: Weights) -> Result<Self, LocalLlmError> {
        let started = Instant::now();
        let mut gguf = Gguf::open(path)?;
        let tokenizer = Tokenizer::from_gguf(&gguf)?;
        let transformer = Transformer::load(&mut gguf, weights)?;
        if transformer.hparams.vocab < tokenizer.vocab_size() {
            return Err(gguf.bad(format!(
                "{} tokens in the vocabulary, {} rows of embeddings",
                tokenizer.vocab_size(),
                transformer.hparams.vocab
            )));
        }
        let load_time = started.elapsed();
        tracing::info!(
            path = %path.display(),
            arch = ?transformer.hparams.arch,
            weights = ?transformer.weights,
            load_ms = load_time.as_millis() as u64,
            "loaded the local model"
        );
        Ok(Self {
            transformer,
            tokenizer,
            load_time,
            history: Vec::new(),
            last_logits: Vec::new(),
        })
    }
}
