//! Where the vectors come from, and what the store does when they do not come.
//!
//! The store asks an [`Embedder`] (in the agent: the mesh, `/mesh/api` `embed`) and never
//! fails a call because it did not answer: without vectors, a fact is saved without one and
//! a search ranks by keywords only. The switch to keyword-only is logged once, and the
//! switch back once, not on every call.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// The error of an [`Embedder`]: whatever its transport says.
pub type EmbedError = Box<dyn std::error::Error + Send + Sync>;

/// Turns texts into vectors: one per text, in order, all of the same length.
#[async_trait::async_trait]
pub trait Embedder: Send + Sync + std::fmt::Debug {
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError>;
}

/// The store's side of an embedder: checks what comes back and degrades quietly.
#[derive(Debug)]
pub(crate) struct Vectors {
    embedder: Option<Arc<dyn Embedder>>,
    dimensions: usize,
    /// Whether the last attempt failed (and that was logged).
    degraded: AtomicBool,
    /// The last single text embedded and its vector: saving a fact without a category
    /// embeds it to choose one, then again to save it.
    last: Mutex<Option<(String, Vec<f32>)>>,
}

impl Vectors {
    pub(crate) fn new(embedder: Option<Arc<dyn Embedder>>, dimensions: usize) -> Self {
        Self {
            embedder,
            dimensions,
            degraded: AtomicBool::new(false),
            last: Mutex::default(),
        }
    }

    /// Whether vectors can be expected: an embedder is set and its last answer was good.
    pub(crate) fn available(&self) -> bool {
        self.embedder.is_some() && !self.degraded.load(Ordering::Relaxed)
    }

    /// Vectors for `texts`, or `None` when no embedder answers properly.
    pub(crate) async fn embed(&self, texts: &[String]) -> Option<Vec<Vec<f32>>> {
        let embedder = self.embedder.as_ref()?;
        let single = match texts {
            [text] => Some(text),
            _ => None,
        };
        let last = || self.last.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(text) = single
            && let Some((_, vector)) = last().as_ref().filter(|(t, _)| t == text)
        {
            return Some(vec![vector.clone()]);
        }
        let problem = match embedder.embed(texts).await {
            Ok(vectors) => match self.check(texts.len(), &vectors) {
                None => {
                    if self.degraded.swap(false, Ordering::Relaxed) {
                        tracing::info!("the embedder answers again: memory search is hybrid again");
                    }
                    if let Some(text) = single {
                        *last() = Some((text.clone(), vectors[0].clone()));
                    }
                    return Some(vectors);
                }
                Some(problem) => problem,
            },
            Err(e) => e.to_string(),
        };
        if self.degraded.swap(true, Ordering::Relaxed) {
            tracing::debug!(error = %problem, "embedder still unavailable");
        } else {
            tracing::warn!(
                error = %problem,
                "no embeddings: memory search is keyword-only until the embedder answers"
            );
        }
        None
    }

    fn check(&self, wanted: usize, vectors: &[Vec<f32>]) -> Option<String> {
        if vectors.len() != wanted {
            return Some(format!("{} vectors for {wanted} texts", vectors.len()));
        }
        vectors.iter().find_map(|v| {
            if v.len() != self.dimensions {
                Some(format!(
                    "a vector of {} dimensions, not {}",
                    v.len(),
                    self.dimensions
                ))
            } else if !v.iter().all(|x| x.is_finite()) || v.iter().all(|&x| x == 0.0) {
                Some("a vector that is zero or not finite".to_owned())
            } else {
                None
            }
        })
    }
}

/// Cosine similarity of two vectors of the same length.
pub(crate) fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let (mut dot, mut na, mut nb) = (0.0f32, 0.0f32, 0.0f32);
    for (x, y) in a.iter().zip(b) {
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na.sqrt() * nb.sqrt())
    }
}

/// A vector as sqlite-vec stores it: little-endian f32.
pub(crate) fn to_blob(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub(crate) fn from_blob(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}
