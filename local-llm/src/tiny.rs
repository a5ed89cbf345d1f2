//! A tiny model for tests: a real GGUF file of the llama architecture with random weights,
//! a byte-level vocabulary (one token per byte, no merges) and ChatML's special tokens.
//! Its answers are noise, which is the point: whatever it "wants", the grammar must still
//! produce well-formed calls, and the bounds must still hold.

use std::path::Path;

use candle_core::quantized::gguf_file::Value;
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};

/// GPT-2's printable character for each byte (the inverse of the tokenizer's decoder).
fn byte_chars() -> Vec<char> {
    let mut next = 256u32;
    (0..=255u8)
        .map(|b| {
            if matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF) {
                char::from(b)
            } else {
                let c = char::from_u32(next).expect("below the surrogates");
                next += 1;
                c
            }
        })
        .collect()
}

/// Deterministic pseudo-random weights in [-scale, scale].
fn random(shape: &[usize], seed: u64, scale: f32) -> QTensor {
    let n: usize = shape.iter().product();
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let data: Vec<f32> = (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            ((state >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
        })
        .collect();
    let t = Tensor::from_vec(data, shape, &Device::Cpu).expect("shape matches");
    QTensor::quantize(&t, GgmlDType::F32).expect("f32 always quantizes")
}

fn ones(n: usize) -> QTensor {
    let t = Tensor::ones(n, candle_core::DType::F32, &Device::Cpu).expect("ones");
    QTensor::quantize(&t, GgmlDType::F32).expect("f32 always quantizes")
}

/// Writes the tiny model to `path`: 2 layers, 64 wide, 4 heads over 2 key/value heads,
/// 2048 positions.
pub(crate) fn write(path: &Path) {
    let (embd, heads, kv, ff, layers) = (64usize, 4usize, 2usize, 128usize, 2usize);
    let hd = embd / heads;
    let mut tokens: Vec<String> = byte_chars().iter().map(|c| c.to_string()).collect();
    tokens.extend(["<|endoftext|>", "<|im_start|>", "<|im_end|>"].map(String::from));
    let vocab = tokens.len();
    let types: Vec<Value> = (0..vocab)
        .map(|i| Value::I32(if i < 256 { 1 } else { 3 }))
        .collect();
    let meta: Vec<(&str, Value)> = vec![
        ("general.architecture", Value::String("llama".into())),
        ("llama.block_count", Value::U32(layers as u32)),
        ("llama.context_length", Value::U32(2048)),
        ("llama.embedding_length", Value::U32(embd as u32)),
        ("llama.feed_forward_length", Value::U32(ff as u32)),
        ("llama.attention.head_count", Value::U32(heads as u32)),
        ("llama.attention.head_count_kv", Value::U32(kv as u32)),
        ("llama.attention.layer_norm_rms_epsilon", Value::F32(1e-5)),
        ("llama.rope.freq_base", Value::F32(10000.0)),
        ("tokenizer.ggml.model", Value::String("gpt2".into())),
        ("tokenizer.ggml.pre", Value::String("gpt2".into())),
        (
            "tokenizer.ggml.tokens",
            Value::Array(tokens.into_iter().map(Value::String).collect()),
        ),
        ("tokenizer.ggml.token_type", Value::Array(types)),
        ("tokenizer.ggml.merges", Value::Array(Vec::new())),
        ("tokenizer.ggml.eos_token_id", Value::U32(258)),
    ];
    let mut tensors: Vec<(String, QTensor)> = vec![
        ("token_embd.weight".into(), random(&[vocab, embd], 1, 1.0)),
        ("output_norm.weight".into(), ones(embd)),
    ];
    for i in 0..layers {
        let s = 10 * (i as u64 + 1);
        let w = |name: &str, shape: &[usize], seed: u64| {
            (format!("blk.{i}.{name}"), random(shape, s + seed, 0.2))
        };
        tensors.push((format!("blk.{i}.attn_norm.weight"), ones(embd)));
        tensors.push((format!("blk.{i}.ffn_norm.weight"), ones(embd)));
        tensors.push(w("attn_q.weight", &[heads * hd, embd], 1));
        tensors.push(w("attn_k.weight", &[kv * hd, embd], 2));
        tensors.push(w("attn_v.weight", &[kv * hd, embd], 3));
        tensors.push(w("attn_output.weight", &[embd, heads * hd], 4));
        tensors.push(w("ffn_gate.weight", &[ff, embd], 5));
        tensors.push(w("ffn_up.weight", &[ff, embd], 6));
        tensors.push(w("ffn_down.weight", &[embd, ff], 7));
    }
    let meta_refs: Vec<(&str, &Value)> = meta.iter().map(|(k, v)| (*k, v)).collect();
    let tensor_refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let mut file = std::fs::File::create(path).expect("create the tiny model");
    candle_core::quantized::gguf_file::write(&mut file, &meta_refs, &tensor_refs)
        .expect("write the tiny model");
}
