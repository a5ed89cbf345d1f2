//! `openlegion:skill/memory`: the agent's long-term memory, as the skill host asks for it.
//!
//! The agent implements [`MemoryCap`] (its facts database, daily log and workspace index);
//! [`crate::host`] checks the grant and these bounds first.

use crate::capability::{Capability, not_granted};

/// Longest key: a key names a fact, it is not the fact.
pub const MAX_FACT_KEY_BYTES: usize = 256;
/// Longest value: a fact is a sentence or a paragraph; documents belong in workspace files.
pub const MAX_FACT_VALUE_BYTES: usize = 16 * 1024;
/// Longest category and source.
pub const MAX_FACT_LABEL_BYTES: usize = 64;
/// Longest query: a question, not a document.
pub const MAX_QUERY_BYTES: usize = 4 * 1024;
/// Most results of one search; 0 asks for [`DEFAULT_RESULTS`].
pub const MAX_RESULTS: u32 = 50;
pub const DEFAULT_RESULTS: u32 = 5;

/// A fact to keep, as the guest gave it, bounded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactRequest {
    pub key: String,
    pub value: String,
    pub category: Option<String>,
    pub source: Option<String>,
}

/// The agent's memory as skills see it. Every method refuses unless implemented. `Ok` and
/// `Err` are the texts the skill (and so the model) sees; `Ok` is JSON.
#[async_trait::async_trait]
pub trait MemoryCap: Send + Sync {
    async fn save(&self, skill: &str, fact: FactRequest) -> Result<String, String> {
        let _ = fact;
        Err(not_granted(Capability::Memory, skill))
    }

    async fn search(&self, skill: &str, query: &str, limit: usize) -> Result<String, String> {
        let _ = (query, limit);
        Err(not_granted(Capability::Memory, skill))
    }

    async fn recall(
        &self,
        skill: &str,
        query: &str,
        category: Option<&str>,
        limit: usize,
    ) -> Result<String, String> {
        let _ = (query, category, limit);
        Err(not_granted(Capability::Memory, skill))
    }
}

/// No memory at all.
#[derive(Debug, Clone, Copy, Default)]
pub struct DenyMemory;

impl MemoryCap for DenyMemory {}
