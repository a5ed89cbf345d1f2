//! The transformer: a decoder-only model of the llama family read from a GGUF file, run on
//! the CPU with candle, with its key/value cache.
//!
//! One implementation covers the architectures whose GGUF tensors share llama's names:
//! `llama` (Llama, SmolLM, Mistral-style), `qwen2` (adds q/k/v biases and rotates halves
//! instead of pairs) and `qwen3` (adds a norm on queries and keys). candle-transformers has
//! a module per architecture, but each hides its cache; owning the forward pass lets a
//! request reuse the cache of the previous one up to the first token that differs (an
//! agent's next call repeats its whole conversation so far).
//!
//! Weights are dequantized to f32 at load when they fit [`DEQUANTIZE_BELOW`]: candle's f32
//! matrix products choose AVX2/AVX-512 at run time, while its quantized kernels for the
//! small-block formats are chosen at compile time and, without `-C target-cpu`, fall back
//! to scalar code four times slower (figures in BENCHMARKS.md). Larger models stay
//! quantized, since f32 would need four to eight times their file size in memory.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use candle_core::quantized::{GgmlDType, QMatMul, QTensor, gguf_file};
use candle_core::{D, DType, Device, Module, Tensor};

use crate::LocalLlmError;

/// Models whose weights take less than this in f32 are dequantized at load (SmolLM2-135M:
/// ~540 MB); larger ones keep their file's quantization.
pub const DEQUANTIZE_BELOW: u64 = 1 << 30;

/// Positions a model attends to at most, whatever its GGUF allows: the cache of every
/// position is kept in f32 (SmolLM2-135M: 46 KiB a position, so 368 MiB at this length).
pub const MAX_CONTEXT: usize = 8192;

/// Prompt tokens per forward pass: bounds the attention scores' memory
/// (heads × chunk × context floats) and lets a long prompt be cancelled between chunks.
pub(crate) const PREFILL_CHUNK: usize = 256;

/// How the weights are held in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Weights {
    /// f32 below [`DEQUANTIZE_BELOW`], as in the file above.
    #[default]
    Auto,
    F32,
    F16,
    /// As stored in the file.
    Quantized,
}

/// The architectures this module runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    Llama,
    Qwen2,
    Qwen3,
}

impl Arch {
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "llama" => Arch::Llama,
            "qwen2" => Arch::Qwen2,
            "qwen3" => Arch::Qwen3,
            _ => return None,
        })
    }

    /// GGUF's llama convention rotates adjacent pairs; Qwen's rotates halves (NEOX).
    fn rope_halves(self) -> bool {
        !matches!(self, Arch::Llama)
    }
}

/// The shape of a model, from the GGUF metadata.
#[derive(Debug, Clone)]
pub struct Hparams {
    pub arch: Arch,
    pub layers: usize,
    pub embedding: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    pub context: usize,
    pub vocab: usize,
    eps: f64,
    rope_base: f32,
}

/// One attention-and-MLP block.
struct Layer {
    attn_norm: Tensor,
    q: QMatMul,
    k: QMatMul,
    v: QMatMul,
    /// Qwen2's q/k/v biases.
    biases: Option<[Tensor; 3]>,
    /// Qwen3's norms on each head of q and k.
    qk_norm: Option<[Tensor; 2]>,
    o: QMatMul,
    ffn_norm: Tensor,
    gate: QMatMul,
    up: QMatMul,
    down: QMatMul,
}

/// A loaded model and its key/value cache (one conversation at a time).
pub struct Transformer {
    pub hparams: Hparams,
    embeddings: Tensor,
    layers: Vec<Layer>,
    norm: Tensor,
    output: QMatMul,
    cos: Tensor,
    sin: Tensor,
    /// Per layer: keys and values, `(1, kv_heads, capacity, head_dim)`, of which the first
    /// `cached` positions are valid.
    cache: Vec<Option<(Tensor, Tensor)>>,
    cached: usize,
    /// How the weights are held.
    pub weights: Weights,
}

impl std::fmt::Debug for Transformer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transformer")
            .field("hparams", &self.hparams)
            .field("cached", &self.cached)
            .finish_non_exhaustive()
    }
}

/// The metadata and tensors of a GGUF file, read once.
pub(crate) struct Gguf {
    pub(crate) content: gguf_file::Content,
    reader: BufReader<File>,
    path: std::path::PathBuf,
}

impl Gguf {
    pub(crate) fn open(path: &Path) -> Result<Self, LocalLlmError> {
        let file = File::open(path).map_err(|e| LocalLlmError::io(path, e))?;
        let mut reader = BufReader::new(file);
        let content = gguf_file::Content::read(&mut reader).map_err(|e| LocalLlmError::Load {
            path: path.to_owned(),
            problem: format!("not a GGUF file: {e}"),
        })?;
        Ok(Self {
            content,
            reader,
            path: path.to_owned(),
        })
    }

    pub(crate) fn bad(&self, problem: impl Into<String>) -> LocalLlmError {
        LocalLlmError::Load {
            path: self.path.clone(),
            problem: problem.into(),
        }
    }

    pub(crate) fn meta(&self, key: &str) -> Option<&gguf_file::Value> {
        self.content.metadata.get(key)
    }

    fn meta_usize(&self, key: &str) -> Result<usize, LocalLlmError> {
        let value = self
            .meta(key)
            .ok_or_else(|| self.bad(format!("metadata {key} is missing")))?;
        value
            .to_u64()
            .or_else(|_| value.to_u32().map(u64::from))
            .map(|v| v as usize)
            .map_err(|e| self.bad(format!("metadata {key}: {e}")))
    }

    fn meta_f32(&self, key: &str) -> Option<f32> {
        self.meta(key).and_then(|v| v.to_f32().ok())
    }

    fn has(&self, name: &str) -> bool {
        self.content.tensor_infos.contains_key(name)
    }

    fn qtensor(&mut self, name: &str) -> Result<QTensor, LocalLlmError> {
        if !self.has(name) {
            return Err(self.bad(format!("tensor {name} is missing")));
        }
        self.content
            .tensor(&mut self.reader, name, &Device::Cpu)
            .map_err(|e| self.bad(format!("tensor {name}: {e}")))
    }

    fn tensor(&mut self, name: &str) -> Result<Tensor, LocalLlmError> {
        let q = self.qtensor(name)?;
        q.dequantize(&Device::Cpu)
            .map_err(|e| self.bad(format!("tensor {name}: {e}")))
    }

    fn matmul(&mut self, name: &str, weights: Weights) -> Result<QMatMul, LocalLlmError> {
        let q = self.qtensor(name)?;
        let bad = |e: candle_core::Error| self.bad(format!("tensor {name}: {e}"));
        let float = matches!(q.dtype(), GgmlDType::F32 | GgmlDType::F16 | GgmlDType::BF16);
        match weights {
            Weights::F16 => Ok(QMatMul::TensorF16(
                q.dequantize_f16(&Device::Cpu).map_err(bad)?,
            )),
            Weights::Quantized if !float => QMatMul::from_qtensor(q).map_err(bad),
            _ => Ok(QMatMul::Tensor(q.dequantize(&Device::Cpu).map_err(bad)?)),
        }
    }

    /// Bytes of all tensors as stored.
    fn weight_bytes(&self) -> u64 {
        self.content
            .tensor_infos
            .values()
            .map(|t| {
                let elems = t.shape.elem_count() as u64;
                elems * t.ggml_dtype.type_size() as u64 / t.ggml_dtype.block_size() as u64
            })
            .sum()
    }

    fn params(&self) -> u64 {
        self.content
            .tensor_infos
            .values()
            .map(|t| t.shape.elem_count() as u64)
            .sum()
    }

    pub(crate) fn hparams(&self) -> Result<Hparams, LocalLlmError> {
        let name = self
            .meta("general.architecture")
            .and_then(|v| v.to_string().ok())
            .cloned()
            .unwrap_or_default();
        let arch = Arch::parse(&name).ok_or_else(|| {
            self.bad(format!(
                "architecture {name:?} is not supported (llama, qwen2 and qwen3 are)"
            ))
        })?;
        let key = |k: &str| format!("{name}.{k}");
        let embedding = self.meta_usize(&key("embedding_length"))?;
        let heads = self.meta_usize(&key("attention.head_count"))?;
        let kv_heads = self
            .meta_usize(&key("attention.head_count_kv"))
            .unwrap_or(heads);
        let head_dim = self
            .meta_usize(&key("attention.key_length"))
            .unwrap_or(embedding / heads.max(1));
        let vocab = self
            .content
            .tensor_infos
            .get("token_embd.weight")
            .map(|t| t.shape.dims()[0])
            .ok_or_else(|| self.bad("tensor token_embd.weight is missing"))?;
        if heads == 0
            || kv_heads == 0
            || !heads.is_multiple_of(kv_heads)
            || !head_dim.is_multiple_of(2)
        {
            return Err(self.bad(format!(
                "{heads} heads, {kv_heads} key/value heads of {head_dim}: not a shape this runs"
            )));
        }
        Ok(Hparams {
            arch,
            layers: self.meta_usize(&key("block_count"))?,
            embedding,
            heads,
            kv_heads,
            head_dim,
            context: self
                .meta_usize(&key("context_length"))
                .unwrap_or(2048)
                .min(MAX_CONTEXT),
            vocab,
            eps: f64::from(
                self.meta_f32(&key("attention.layer_norm_rms_epsilon"))
                    .unwrap_or(1e-5),
            ),
            rope_base: self.meta_f32(&key("rope.freq_base")).unwrap_or(10_000.0),
        })
    }
}

/// Candle's error, with the operation that failed.
pub(crate) fn op(what: &'static str) -> impl Fn(candle_core::Error) -> LocalLlmError {
    move |e| LocalLlmError::Inference {
        what,
        message: e.to_string(),
    }
}

impl Transformer {
    /// Reads the weights of `gguf` (whose metadata was already checked by the caller).
    pub(crate) fn load(gguf: &mut Gguf, weights: Weights) -> Result<Self, LocalLlmError> {
        let hp = gguf.hparams()?;
        let dequantize = match weights {
            Weights::Auto if gguf.params() * 4 < DEQUANTIZE_BELOW => Weights::F32,
            Weights::Auto => Weights::Quantized,
            chosen => chosen,
        };
        tracing::debug!(
            weight_bytes = gguf.weight_bytes(),
            params = gguf.params(),
            ?dequantize,
            "loading GGUF weights"
        );
        let embeddings = gguf.tensor("token_embd.weight")?;
        let output = if gguf.has("output.weight") {
            gguf.matmul("output.weight", dequantize)?
        } else {
            // Tied embeddings (SmolLM2, small Qwens).
            gguf.matmul("token_embd.weight", dequantize)?
        };
        let norm = gguf.tensor("output_norm.weight")?;
        let mut layers = Vec::with_capacity(hp.layers);
        for i in 0..hp.layers {
            let name = |t: &str| format!("blk.{i}.{t}");
            let biases = if gguf.has(&name("attn_q.bias")) {
                Some([
                    gguf.tensor(&name("attn_q.bias"))?,
                    gguf.tensor(&name("attn_k.bias"))?,
                    gguf.tensor(&name("attn_v.bias"))?,
                ])
            } else {
                None
            };
            let qk_norm = if gguf.has(&name("attn_q_norm.weight")) {
                Some([
                    gguf.tensor(&name("attn_q_norm.weight"))?,
                    gguf.tensor(&name("attn_k_norm.weight"))?,
                ])
            } else {
                None
            };
            layers.push(Layer {
                attn_norm: gguf.tensor(&name("attn_norm.weight"))?,
                q: gguf.matmul(&name("attn_q.weight"), dequantize)?,
                k: gguf.matmul(&name("attn_k.weight"), dequantize)?,
                v: gguf.matmul(&name("attn_v.weight"), dequantize)?,
                biases,
                qk_norm,
                o: gguf.matmul(&name("attn_output.weight"), dequantize)?,
                ffn_norm: gguf.tensor(&name("ffn_norm.weight"))?,
                gate: gguf.matmul(&name("ffn_gate.weight"), dequantize)?,
                up: gguf.matmul(&name("ffn_up.weight"), dequantize)?,
                down: gguf.matmul(&name("ffn_down.weight"), dequantize)?,
            });
        }
        let (cos, sin) = rope_tables(&hp).map_err(op("rope tables"))?;
        Ok(Self {
            cache: vec![None; hp.layers],
            hparams: hp,
            embeddings,
            layers,
            norm,
            output,
            cos,
            sin,
            cached: 0,
            weights: dequantize,
        })
    }

    /// How many positions the cache holds.
    pub fn cached(&self) -> usize {
        self.cached
    }

    /// Forgets every cached position from `len` on (they are overwritten in place).
    pub fn truncate(&mut self, len: usize) {
        self.cached = self.cached.min(len);
    }

    /// Runs `tokens` at the positions after the cached ones, caches them, and returns the
    /// logits of the last one (`vocab` floats).
    pub fn forward(&mut self, tokens: &[u32]) -> Result<Vec<f32>, LocalLlmError> {
        let pos = self.cached;
        if tokens.is_empty() {
            return Err(LocalLlmError::Inference {
                what: "forward",
                message: "no tokens".into(),
            });
        }
        if pos + tokens.len() > self.hparams.context {
            return Err(LocalLlmError::ContextFull {
                context: self.hparams.context,
            });
        }
        let logits = self.forward_inner(tokens, pos);
        if logits.is_err() {
            // A half-written cache is worse than none.
            self.cache.iter_mut().for_each(|e| *e = None);
            self.cached = 0;
        }
        logits
    }

    fn forward_inner(&mut self, tokens: &[u32], pos: usize) -> Result<Vec<f32>, LocalLlmError> {
        let hp = self.hparams.clone();
        let seq = tokens.len();
        let ids = Tensor::new(tokens, &Device::Cpu).map_err(op("tokens"))?;
        let mut x = self
            .embeddings
            .index_select(&ids, 0)
            .and_then(|t| t.unsqueeze(0))
            .map_err(op("embedding"))?;
        let mask = causal_mask(seq, pos).map_err(op("mask"))?;
        let cos = self.cos.narrow(0, pos, seq).map_err(op("rope"))?;
        let sin = self.sin.narrow(0, pos, seq).map_err(op("rope"))?;
        for (layer, cache) in self.layers.iter().zip(self.cache.iter_mut()) {
            x = layer
                .forward(&x, &hp, &cos, &sin, mask.as_ref(), (cache, pos))
                .map_err(op("layer"))?;
        }
        let last = x
            .narrow(1, seq - 1, 1)
            .and_then(|t| candle_nn::ops::rms_norm(&t, &self.norm, hp.eps as f32))
            .and_then(|t| self.output.forward(&t))
            .and_then(|t| t.flatten_all())
            .and_then(|t| t.to_dtype(DType::F32))
            .and_then(|t| t.to_vec1::<f32>())
            .map_err(op("output"))?;
        self.cached = pos + seq;
        Ok(last)
    }
}

impl Layer {
    fn forward(
        &self,
        x: &Tensor,
        hp: &Hparams,
        cos: &Tensor,
        sin: &Tensor,
        mask: Option<&Tensor>,
        (cache, pos): (&mut Option<(Tensor, Tensor)>, usize),
    ) -> candle_core::Result<Tensor> {
        let (b, seq, _) = x.dims3()?;
        let h = candle_nn::ops::rms_norm(x, &self.attn_norm, hp.eps as f32)?;
        let (mut q, mut k, mut v) = (
            self.q.forward(&h)?,
            self.k.forward(&h)?,
            self.v.forward(&h)?,
        );
        if let Some([bq, bk, bv]) = &self.biases {
            q = q.broadcast_add(bq)?;
            k = k.broadcast_add(bk)?;
            v = v.broadcast_add(bv)?;
        }
        let mut q = q
            .reshape((b, seq, hp.heads, hp.head_dim))?
            .transpose(1, 2)?;
        let mut k = k
            .reshape((b, seq, hp.kv_heads, hp.head_dim))?
            .transpose(1, 2)?;
        let v = v
            .reshape((b, seq, hp.kv_heads, hp.head_dim))?
            .transpose(1, 2)?
            .contiguous()?;
        if let Some([nq, nk]) = &self.qk_norm {
            q = candle_nn::ops::rms_norm(&q.contiguous()?, nq, hp.eps as f32)?;
            k = candle_nn::ops::rms_norm(&k.contiguous()?, nk, hp.eps as f32)?;
        }
        let rope = if hp.arch.rope_halves() {
            candle_nn::rotary_emb::rope
        } else {
            candle_nn::rotary_emb::rope_i
        };
        let q = rope(&q.contiguous()?, cos, sin)?;
        let k = rope(&k.contiguous()?, cos, sin)?;
        let (k, v) = cached_kv(cache, pos, &k, &v, hp.context)?;
        let groups = hp.heads / hp.kv_heads;
        let (k, v) = (repeat_kv(k, groups)?, repeat_kv(v, groups)?);
        let scores = (q.matmul(&k.t()?)? / (hp.head_dim as f64).sqrt())?;
        let scores = match mask {
            Some(m) => scores.broadcast_add(m)?,
            None => scores,
        };
        let attn = candle_nn::ops::softmax_last_dim(&scores)?.matmul(&v.contiguous()?)?;
        let attn = attn
            .transpose(1, 2)?
            .reshape((b, seq, hp.heads * hp.head_dim))?;
        let x = (x + self.o.forward(&attn)?)?;
        let h = candle_nn::ops::rms_norm(&x, &self.ffn_norm, hp.eps as f32)?;
        let gated = (candle_nn::ops::silu(&self.gate.forward(&h)?)? * self.up.forward(&h)?)?;
        x + self.down.forward(&gated)?
    }
}

/// Writes `k` and `v` at `pos` into the layer's cache buffers, growing them by
/// [`CACHE_GROWTH`] positions at a time up to `context`, and returns the keys and values
/// of every position up to the new ones.
fn cached_kv(
    cache: &mut Option<(Tensor, Tensor)>,
    pos: usize,
    k: &Tensor,
    v: &Tensor,
    context: usize,
) -> candle_core::Result<(Tensor, Tensor)> {
    let seq = k.dim(2)?;
    let end = pos + seq;
    let capacity = cache.as_ref().map_or(0, |(ck, _)| ck.dim(2).unwrap_or(0));
    if end > capacity {
        let grown = end
            .div_ceil(CACHE_GROWTH)
            .saturating_mul(CACHE_GROWTH)
            .min(context.max(end));
        let (b, heads, _, d) = k.dims4()?;
        let fresh = |old: Option<&Tensor>| -> candle_core::Result<Tensor> {
            let buffer = Tensor::zeros((b, heads, grown, d), k.dtype(), k.device())?;
            if let Some(old) = old
                && pos > 0
            {
                buffer.slice_set(&old.narrow(2, 0, pos)?.contiguous()?, 2, 0)?;
            }
            Ok(buffer)
        };
        let (ok, ov) = match cache.as_ref() {
            Some((ck, cv)) => (Some(ck), Some(cv)),
            None => (None, None),
        };
        *cache = Some((fresh(ok)?, fresh(ov)?));
    }
    let (ck, cv) = cache.as_ref().expect("the cache was just allocated");
    ck.slice_set(&k.contiguous()?, 2, pos)?;
    cv.slice_set(&v.contiguous()?, 2, pos)?;
    Ok((ck.narrow(2, 0, end)?, cv.narrow(2, 0, end)?))
}

/// Positions added to a layer's cache buffers when they are full.
const CACHE_GROWTH: usize = 512;

/// `(1, kv_heads, len, d)` → `(1, kv_heads × groups, len, d)`, each head repeated in place.
fn repeat_kv(x: Tensor, groups: usize) -> candle_core::Result<Tensor> {
    if groups == 1 {
        return x.contiguous();
    }
    let (b, heads, len, d) = x.dims4()?;
    x.unsqueeze(2)?
        .expand((b, heads, groups, len, d))?
        .reshape((b, heads * groups, len, d))
}

/// Additive mask for `seq` new positions after `pos` cached ones: `-inf` where a position
/// would see a later one. None for a single token, which sees everything.
fn causal_mask(seq: usize, pos: usize) -> candle_core::Result<Option<Tensor>> {
    if seq == 1 {
        return Ok(None);
    }
    let total = pos + seq;
    let mask: Vec<f32> = (0..seq)
        .flat_map(|i| (0..total).map(move |j| if j > pos + i { f32::NEG_INFINITY } else { 0.0 }))
        .collect();
    Tensor::from_vec(mask, (seq, total), &Device::Cpu).map(Some)
}

fn rope_tables(hp: &Hparams) -> candle_core::Result<(Tensor, Tensor)> {
    let inv: Vec<f32> = (0..hp.head_dim)
        .step_by(2)
        .map(|i| 1.0 / hp.rope_base.powf(i as f32 / hp.head_dim as f32))
        .collect();
    let inv = Tensor::new(inv.as_slice(), &Device::Cpu)?;
    let positions = Tensor::arange(0u32, hp.context as u32, &Device::Cpu)?
        .to_dtype(DType::F32)?
        .reshape((hp.context, 1))?;
    let freqs = positions.broadcast_mul(&inv.reshape((1, inv.dim(D::Minus1)?))?)?;
    Ok((freqs.cos()?, freqs.sin()?))
}
