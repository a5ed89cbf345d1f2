//! The agent's long-term memory (the `memory` interface; needs the `memory` capability).
//!
//! Facts go to the agent's database and its daily log; search covers the facts (by meaning
//! and by words) and the workspace's markdown files (BM25). Every answer is JSON text meant
//! for the model; every error (a parameter too long or empty, the capability not granted)
//! names what is wrong.

use crate::imports::memory as host;

/// Keeps a fact; without `category` the agent picks the nearest existing one or `general`.
pub fn save(
    key: &str,
    value: &str,
    category: Option<&str>,
    source: Option<&str>,
) -> Result<String, String> {
    host::save(key, value, category, source)
}

/// Searches the workspace files and the facts; `limit` 0 means the default (5).
pub fn search(query: &str, limit: u32) -> Result<String, String> {
    host::search(query, limit)
}

/// The facts nearest `query` in meaning, optionally in one `category`.
pub fn recall(query: &str, category: Option<&str>, limit: u32) -> Result<String, String> {
    host::recall(query, category, limit)
}
