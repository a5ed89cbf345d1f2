//! `all-MiniLM-L6-v2` on the CPU: BERT through candle, then mean pooling over the
//! attention mask and L2 normalisation, as sentence-transformers does for this model.

use std::time::Instant;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use crate::{EmbedError, ModelFiles};

/// The model's name after `local/` in a model id.
pub const MODEL_NAME: &str = "all-minilm-l6-v2";

/// Length of every vector.
pub const DIMENSIONS: usize = 384;

/// Tokens per input; longer inputs are truncated. sentence-transformers' `max_seq_length`
/// for this model (it was trained on 128; positions go to 512).
const MAX_TOKENS: usize = 256;

/// Inputs per forward pass: padding is to the longest input of a batch, and memory grows
/// with batch × length², so large requests are cut into batches of this size.
const BATCH: usize = 32;

/// Vectors for some inputs, and how many tokens the model read (for usage accounting).
#[derive(Debug, Clone, PartialEq)]
pub struct Embedded {
    pub vectors: Vec<Vec<f32>>,
    pub tokens: u64,
}

/// The loaded model. Immutable once loaded: share one behind an `Arc` and call
/// [`LocalEmbedder::embed`] from any thread.
pub struct LocalEmbedder {
    model: BertModel,
    tokenizer: Tokenizer,
}

impl std::fmt::Debug for LocalEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalEmbedder")
            .field("model", &MODEL_NAME)
            .finish_non_exhaustive()
    }
}

impl LocalEmbedder {
    /// Loads the model from its installed files (~150 ms, ~90 MB of weights).
    pub fn load(files: &ModelFiles) -> Result<Self, EmbedError> {
        if let Some(missing) = files.missing() {
            return Err(EmbedError::NotInstalled { missing });
        }
        let started = Instant::now();
        let load_error = |source: Box<dyn std::error::Error + Send + Sync>| EmbedError::Load {
            dir: files.dir.clone(),
            source,
        };
        let read = |path: std::path::PathBuf| {
            std::fs::read(&path).map_err(|source| EmbedError::Io { path, source })
        };
        let config: Config =
            serde_json::from_slice(&read(files.config())?).map_err(|e| load_error(e.into()))?;
        let mut tokenizer = Tokenizer::from_file(files.tokenizer()).map_err(load_error)?;
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            ..PaddingParams::default()
        }));
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..TruncationParams::default()
            }))
            .map_err(load_error)?;
        // Buffered, not memory-mapped: mapping is `unsafe` (the file could change under
        // us), and the tensors are copied out of the buffer either way.
        let vb =
            VarBuilder::from_buffered_safetensors(read(files.weights())?, DType::F32, &Device::Cpu)
                .map_err(|e| load_error(e.into()))?;
        let model = BertModel::load(vb, &config).map_err(|e| load_error(e.into()))?;
        if config.hidden_size != DIMENSIONS {
            return Err(load_error(
                format!("hidden size {} is not {DIMENSIONS}", config.hidden_size).into(),
            ));
        }
        tracing::info!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            dir = %files.dir.display(),
            "loaded the local embedding model"
        );
        Ok(Self { model, tokenizer })
    }

    /// One unit-length vector of [`DIMENSIONS`] per input, in input order. Deterministic:
    /// the same input gives the same vector, whatever else is in the batch up to float
    /// rounding of the padded positions (which the mask zeroes out).
    pub fn embed(&self, inputs: &[&str]) -> Result<Embedded, EmbedError> {
        let mut out = Embedded {
            vectors: Vec::with_capacity(inputs.len()),
            tokens: 0,
        };
        for batch in inputs.chunks(BATCH) {
            let (vectors, tokens) = self.embed_batch(batch)?;
            out.vectors.extend(vectors);
            out.tokens += tokens;
        }
        Ok(out)
    }

    fn embed_batch(&self, batch: &[&str]) -> Result<(Vec<Vec<f32>>, u64), EmbedError> {
        let encodings = self
            .tokenizer
            .encode_batch(batch.to_vec(), true)
            .map_err(EmbedError::Tokenize)?;
        let len = encodings.first().map_or(0, |e| e.get_ids().len());
        let mut ids = Vec::with_capacity(batch.len() * len);
        let mut mask = Vec::with_capacity(batch.len() * len);
        for encoding in &encodings {
            ids.extend_from_slice(encoding.get_ids());
            mask.extend_from_slice(encoding.get_attention_mask());
        }
        let tokens = mask.iter().map(|&m| u64::from(m)).sum();
        let shape = (batch.len(), len);
        let ids = Tensor::from_vec(ids, shape, &Device::Cpu)?;
        let mask = Tensor::from_vec(mask, shape, &Device::Cpu)?;
        let token_types = ids.zeros_like()?;
        let hidden = self.model.forward(&ids, &token_types, Some(&mask))?;
        // Mean over the real tokens only, then unit length.
        let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
        let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
        let counts = mask.sum(1)?.clamp(1.0, f32::MAX)?;
        let mean = summed.broadcast_div(&counts)?;
        let norm = mean.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f32::MAX)?;
        let vectors = mean.broadcast_div(&norm)?.to_vec2::<f32>()?;
        Ok((vectors, tokens))
    }
}
