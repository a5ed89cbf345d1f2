//! The model's tokenizer, rebuilt from the GGUF metadata (its vocabulary and merges), and
//! the chat format its special tokens reveal.
//!
//! Only byte-level BPE vocabularies (`tokenizer.ggml.model: gpt2`: SmolLM2, Qwen, Llama 3)
//! are read. Special tokens are never parsed out of text: a message that contains
//! `<|im_end|>` is encoded as the characters it is, so no user or tool output can close a
//! turn or forge one. The prompt's structure is assembled from token ids instead.

use std::collections::HashMap;

use candle_core::quantized::gguf_file::Value;
use tokenizers::models::bpe::{BPE, Vocab};
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::tokenizer::SplitDelimiterBehavior;

use crate::LocalLlmError;
use crate::model::Gguf;

/// How turns are marked, by the family of the model's special tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatFormat {
    /// `<|im_start|>role\n…<|im_end|>\n` (SmolLM2, Qwen).
    ChatMl,
    /// `<|start_header_id|>role<|end_header_id|>\n\n…<|eot_id|>` (Llama 3).
    Llama3,
}

/// Token ids of a chat format's markers.
#[derive(Debug, Clone)]
pub(crate) struct Markers {
    pub(crate) format: ChatFormat,
    /// Opens a turn (ChatML `<|im_start|>`, Llama 3 `<|start_header_id|>`).
    pub(crate) open: u32,
    /// Llama 3's `<|end_header_id|>`.
    pub(crate) header_end: Option<u32>,
    /// Closes a turn (`<|im_end|>`, `<|eot_id|>`).
    pub(crate) close: u32,
    /// Llama 3's `<|begin_of_text|>`.
    pub(crate) bos: Option<u32>,
    /// Tokens that end the answer.
    pub(crate) stops: Vec<u32>,
}

/// The tokenizer, each token's bytes and the chat markers.
#[derive(Clone)]
pub struct Tokenizer {
    inner: tokenizers::Tokenizer,
    /// The bytes of each token; special tokens carry toktrie's 0xFF marker first.
    pub(crate) bytes: Vec<Vec<u8>>,
    pub(crate) markers: Markers,
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokenizer")
            .field("vocab", &self.bytes.len())
            .field("markers", &self.markers)
            .finish_non_exhaustive()
    }
}

/// The GPT-2 regex variant of Qwen2 (single digits).
const REGEX_QWEN2: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
/// Llama 3's (digits in threes).
const REGEX_LLAMA3: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

fn strings(gguf: &Gguf, key: &str) -> Result<Vec<String>, LocalLlmError> {
    let bad = |what: &str| gguf.bad(format!("metadata {key}: {what}"));
    let values = gguf
        .meta(key)
        .ok_or_else(|| bad("missing"))?
        .to_vec()
        .map_err(|_| bad("not an array"))?;
    values
        .iter()
        .map(|v| match v {
            Value::String(s) => Ok(s.clone()),
            _ => Err(bad("not strings")),
        })
        .collect()
}

fn id(gguf: &Gguf, key: &str) -> Option<u32> {
    gguf.meta(key).and_then(|v| v.to_u32().ok())
}

/// The pre-tokenizer llama.cpp applies for `tokenizer.ggml.pre`.
fn pre_tokenizer(pre: &str) -> Result<PreTokenizerWrapper, String> {
    let split = |regex: &str| {
        Split::new(
            SplitPattern::Regex(regex.to_owned()),
            SplitDelimiterBehavior::Isolated,
            false,
        )
        .map_err(|e| e.to_string())
    };
    Ok(match pre {
        "qwen2" | "qwen35" | "deepseek-r1-qwen" => Sequence::new(vec![
            split(REGEX_QWEN2)?.into(),
            ByteLevel::new(false, false, false).into(),
        ])
        .into(),
        "llama-bpe" | "llama3" | "smaug-bpe" => Sequence::new(vec![
            split(REGEX_LLAMA3)?.into(),
            ByteLevel::new(false, true, false).into(),
        ])
        .into(),
        // Digits one by one, then GPT-2's own regex.
        "smollm" | "starcoder" | "refact" | "codeshell" => Sequence::new(vec![
            Digits::new(true).into(),
            ByteLevel::new(false, true, true).into(),
        ])
        .into(),
        _ => ByteLevel::new(false, true, true).into(),
    })
}

impl Tokenizer {
    pub(crate) fn from_gguf(gguf: &Gguf) -> Result<Self, LocalLlmError> {
        let kind = gguf
            .meta("tokenizer.ggml.model")
            .and_then(|v| v.to_string().ok())
            .cloned()
            .unwrap_or_default();
        if kind != "gpt2" {
            return Err(gguf.bad(format!(
                "tokenizer {kind:?} is not supported (byte-level BPE, `gpt2`, is)"
            )));
        }
        let tokens = strings(gguf, "tokenizer.ggml.tokens")?;
        let merges = strings(gguf, "tokenizer.ggml.merges")?
            .into_iter()
            .map(|m| match m.split_once(' ') {
                Some((a, b)) => Ok((a.to_owned(), b.to_owned())),
                None => Err(gguf.bad(format!("merge {m:?} is not two tokens"))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let vocab: Vocab = tokens
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), i as u32))
            .collect();
        let bpe = BPE::builder()
            .vocab_and_merges(vocab, merges)
            .build()
            .map_err(|e| gguf.bad(format!("tokenizer: {e}")))?;
        let mut inner = tokenizers::Tokenizer::new(bpe);
        let pre = gguf
            .meta("tokenizer.ggml.pre")
            .and_then(|v| v.to_string().ok())
            .cloned()
            .unwrap_or_default();
        inner.with_pre_tokenizer(Some(
            pre_tokenizer(&pre).map_err(|e| gguf.bad(format!("pre-tokenizer {pre}: {e}")))?,
        ));
        let types: Vec<u32> = gguf
            .meta("tokenizer.ggml.token_type")
            .and_then(|v| v.to_vec().ok())
            .map(|v| v.iter().map(|t| t.to_i32().unwrap_or(1) as u32).collect())
            .unwrap_or_default();
        let decode = byte_decoder();
        let bytes = tokens
            .iter()
            .enumerate()
            .map(|(i, t)| {
                // Types 3 (control) and 4 (user-defined) are not text.
                if matches!(types.get(i), Some(3 | 4)) {
                    let mut b = vec![toktrie::TokTrie::SPECIAL_TOKEN_MARKER];
                    b.extend_from_slice(t.as_bytes());
                    b
                } else {
                    t.chars()
                        .map(|c| decode.get(&c).copied().unwrap_or(b'?'))
                        .collect()
                }
            })
            .collect();
        let index: HashMap<&str, u32> = tokens
            .iter()
            .enumerate()
            .map(|(i, t)| (t.as_str(), i as u32))
            .collect();
        let eos = id(gguf, "tokenizer.ggml.eos_token_id")
            .ok_or_else(|| gguf.bad("metadata tokenizer.ggml.eos_token_id is missing"))?;
        let markers = markers(&index, eos).ok_or_else(|| {
            gguf.bad("no chat format known for its special tokens (ChatML and Llama 3 are)")
        })?;
        Ok(Self {
            inner,
            bytes,
            markers,
        })
    }

    /// The tokens of `text`, none of them special.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, LocalLlmError> {
        if text.is_empty() {
            return Ok(Vec::new());
        }
        self.inner
            .encode_fast(text, false)
            .map(|e| e.get_ids().to_vec())
            .map_err(|e| LocalLlmError::Inference {
                what: "tokenize",
                message: e.to_string(),
            })
    }

    /// The text bytes of `token` (nothing for special tokens).
    pub fn token_bytes(&self, token: u32) -> &[u8] {
        match self.bytes.get(token as usize) {
            Some(b) if b.first() != Some(&toktrie::TokTrie::SPECIAL_TOKEN_MARKER) => b,
            _ => &[],
        }
    }

    pub fn vocab_size(&self) -> usize {
        self.bytes.len()
    }

    pub fn format(&self) -> ChatFormat {
        self.markers.format
    }
}

fn markers(index: &HashMap<&str, u32>, eos: u32) -> Option<Markers> {
    let get = |t: &str| index.get(t).copied();
    if let (Some(open), Some(close)) = (get("<|im_start|>"), get("<|im_end|>")) {
        let mut stops = vec![close, eos];
        stops.extend(get("<|endoftext|>"));
        stops.dedup();
        return Some(Markers {
            format: ChatFormat::ChatMl,
            open,
            header_end: None,
            close,
            bos: None,
            stops,
        });
    }
    if let (Some(open), Some(end), Some(close)) = (
        get("<|start_header_id|>"),
        get("<|end_header_id|>"),
        get("<|eot_id|>"),
    ) {
        let mut stops = vec![close, eos];
        stops.extend(get("<|eom_id|>"));
        stops.extend(get("<|end_of_text|>"));
        stops.dedup();
        return Some(Markers {
            format: ChatFormat::Llama3,
            open,
            header_end: Some(end),
            close,
            bos: get("<|begin_of_text|>"),
            stops,
        });
    }
    None
}

/// GPT-2's map from the printable characters byte-level BPE uses back to bytes.
fn byte_decoder() -> HashMap<char, u8> {
    let mut map = HashMap::with_capacity(256);
    let mut next = 256u32;
    for b in 0..=255u8 {
        let printable = matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
        let c = if printable {
            char::from(b)
        } else {
            let c = char::from_u32(next).expect("below the surrogates");
            next += 1;
            c
        };
        map.insert(c, b);
    }
    map
}
