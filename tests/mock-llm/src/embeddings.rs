//! OpenAI embeddings: `POST /v1/embeddings`. Vectors are not scripted: each is
//! derived from a hash of its input text, so the same text always gets the
//! same unit-length vector and tests can compute the expected vector with
//! [`embedding`].
//!
//! A scripted turn is used only when the request's model has a queue of its
//! own (never the default queue, which belongs to the chat models). Errors,
//! raw responses, delays, hangs and cuts act as for chat; a text or tool-call
//! turn means "answer normally", so `Turn::text("").delayed(d)` delays a
//! normal answer.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::api_error::{self, Invalid};
use crate::exchange::Received;
use crate::play::{self, Played};
use crate::recording::Api;
use crate::shared::Shared;
use crate::split;
use crate::sse;

/// The largest `dimensions` a request may ask for; anything bigger is a
/// client bug, and answering it would only waste memory.
const MAX_DIMENSIONS: usize = 65_536;

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/v1/embeddings", post(embeddings))
        .route("/embeddings", post(embeddings))
}

/// The deterministic embedding of `text`: `dimensions` components, L2 norm 1.
/// This is exactly what the server answers for that text.
#[must_use]
pub fn embedding(text: &str, dimensions: usize) -> Vec<f32> {
    let seed = fnv1a(text.as_bytes());
    let raw: Vec<f64> = (0..dimensions as u64)
        .map(|index| {
            let bits = splitmix64(seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            // The top 53 bits as a float in [0, 1), then moved to [-1, 1).
            let unit = (bits >> 11) as f64 / (1_u64 << 53) as f64;
            unit * 2.0 - 1.0
        })
        .collect();
    let norm = raw.iter().map(|x| x * x).sum::<f64>().sqrt();
    let norm = if norm > 0.0 { norm } else { 1.0 };
    // Embeddings are f32 on the wire.
    raw.iter().map(|x| (x / norm) as f32).collect()
}

struct EmbeddingRequest {
    model: String,
    inputs: Vec<String>,
    dimensions: usize,
    base64: bool,
}

async fn embeddings(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    let received = Received {
        method,
        uri,
        headers,
        bytes,
    };
    let request = match received
        .record(&shared, Api::Embeddings)
        .and_then(|(body, _)| parse(&body, shared.embedding_dim))
    {
        Ok(request) => request,
        Err(invalid) => return api_error::rejected(Api::Embeddings, &invalid),
    };
    let turn = shared.queues().next_own(&request.model);
    if let Some(turn) = turn {
        match play::play(&shared, Api::Embeddings, turn).await {
            Played::Done(response) => return response,
            Played::Answer(answer) if answer.cut_after.is_some() => {
                return sse::cut_connection();
            }
            Played::Answer(_) => {}
        }
    }
    Json(answer(&request)).into_response()
}

fn parse(body: &Value, default_dimensions: usize) -> Result<EmbeddingRequest, Invalid> {
    let model = match body.get("model").and_then(Value::as_str) {
        Some(model) if !model.is_empty() => model.to_owned(),
        _ => return Err(Invalid::new("`model` must be a non-empty string")),
    };
    let inputs = match body.get("input") {
        Some(Value::String(text)) => vec![text.clone()],
        Some(Value::Array(items)) if items.iter().all(Value::is_number) && !items.is_empty() => {
            // One input given as token ids: hash their JSON text.
            vec![Value::Array(items.clone()).to_string()]
        }
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .map(|item| match item {
                Value::String(text) => Ok(text.clone()),
                Value::Array(_) => Ok(item.to_string()),
                _ => Err(Invalid::new(
                    "`input` items must be strings or token arrays",
                )),
            })
            .collect::<Result<_, _>>()?,
        _ => {
            return Err(Invalid::new(
                "`input` must be a string or a non-empty array",
            ));
        }
    };
    let dimensions = match body.get("dimensions") {
        None | Some(Value::Null) => default_dimensions,
        Some(value) => match value.as_u64().and_then(|n| usize::try_from(n).ok()) {
            Some(n) if (1..=MAX_DIMENSIONS).contains(&n) => n,
            _ => {
                return Err(Invalid::new(format!(
                    "`dimensions` must be an integer from 1 to {MAX_DIMENSIONS}"
                )));
            }
        },
    };
    let base64 = match body.get("encoding_format").and_then(Value::as_str) {
        None | Some("float") => false,
        Some("base64") => true,
        Some(_) => {
            return Err(Invalid::new(
                "`encoding_format` must be \"float\" or \"base64\"",
            ));
        }
    };
    Ok(EmbeddingRequest {
        model,
        inputs,
        dimensions,
        base64,
    })
}

fn answer(request: &EmbeddingRequest) -> Value {
    let data: Vec<Value> = request
        .inputs
        .iter()
        .enumerate()
        .map(|(index, text)| {
            let vector = embedding(text, request.dimensions);
            let encoded = if request.base64 {
                json!(base64_f32(&vector))
            } else {
                json!(vector)
            };
            json!({"object": "embedding", "index": index, "embedding": encoded})
        })
        .collect();
    let chars: usize = request.inputs.iter().map(|text| text.chars().count()).sum();
    let tokens = split::estimate_tokens(chars);
    json!({
        "object": "list",
        "data": data,
        "model": request.model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    })
}

/// 64-bit FNV-1a: tiny, stable across Rust versions and platforms, unlike
/// `std`'s hashers.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// One step of SplitMix64, to spread the text hash over the components.
fn splitmix64(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The vector as OpenAI's `base64` encoding: little-endian f32s, standard
/// alphabet with padding.
fn base64_f32(vector: &[f32]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes: Vec<u8> = vector.iter().flat_map(|x| x.to_le_bytes()).collect();
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for group in bytes.chunks(3) {
        let b = [
            group[0],
            *group.get(1).unwrap_or(&0),
            *group.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (position, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if position <= group.len() {
                out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_text_same_unit_vector() {
        let a = embedding("hello", 8);
        assert_eq!(a, embedding("hello", 8));
        assert_ne!(a, embedding("hello!", 8));
        let norm: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "norm {norm}");
        assert_eq!(embedding("", 3).len(), 3);
    }

    #[test]
    fn base64_matches_the_standard_encoding() {
        // 1.0f32 is 00 00 80 3f little-endian.
        assert_eq!(base64_f32(&[1.0]), "AACAPw==");
        assert_eq!(base64_f32(&[1.0, 1.0, 1.0]), "AACAPwAAgD8AAIA/");
    }
}
