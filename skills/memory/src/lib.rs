//! The built-in `memory` skill: `memory_save`, `memory_search` and `memory_recall`
//! (capability `memory`).
//!
//! The agent does the work (its facts database, its daily log, the index of its workspace
//! markdown); this crate maps the model's arguments onto the WIT calls and passes the
//! agent's JSON answers through as JSON.

use openlegion_skill_sdk::prelude::*;
use openlegion_skill_sdk::serde_json;

// The tests use the SDK's native stand-in for the host, so they run on the host target only.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;

/// Arguments of `memory_save`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Save {
    /// A short name for the fact, e.g. "user_cat_name" (at most 256 bytes). Saving the same
    /// key again updates the fact.
    key: String,
    /// The fact itself, one sentence or a short paragraph (at most 16 KiB), e.g. "The
    /// user's cat is called Whiskerino."
    value: String,
    /// A category such as "personal", "preferences", "work", "project" (at most 64 bytes).
    /// Leave it out to let the memory pick the nearest existing category.
    category: Option<String>,
    /// Where the fact came from, e.g. "user" or "web" (default "agent").
    source: Option<String>,
}

/// Arguments of `memory_search`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Search {
    /// What to look for, in words (at most 4 KiB).
    query: String,
    /// Results at most, 1 to 50 (default 5).
    limit: Option<u32>,
}

/// Arguments of `memory_recall`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Recall {
    /// What you want to remember, e.g. "the user's cat's name".
    query: String,
    /// Only facts of this category.
    category: Option<String>,
    /// Facts at most, 1 to 50 (default 5).
    limit: Option<u32>,
}

/// The agent's answers are JSON text: pass them on as JSON, not as a quoted string.
fn answer(text: String) -> Result<Value, String> {
    Ok(serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

fn memory_save(args: Save) -> Result<Value, String> {
    memory::save(
        &args.key,
        &args.value,
        args.category.as_deref(),
        args.source.as_deref(),
    )
    .and_then(answer)
}

fn memory_search(args: Search) -> Result<Value, String> {
    memory::search(&args.query, args.limit.unwrap_or(0)).and_then(answer)
}

fn memory_recall(args: Recall) -> Result<Value, String> {
    memory::recall(
        &args.query,
        args.category.as_deref(),
        args.limit.unwrap_or(0),
    )
    .and_then(answer)
}

openlegion_skill_sdk::skill! {
    memory_save: "Remember a fact for later sessions (it survives restarts and resets): \
        the user's name, preferences, decisions, things you found out. Written to today's \
        log and to your facts memory; the same key, or nearly the same meaning, updates \
        the fact instead of duplicating it. Give a category when you know one (e.g. \
        personal, preferences, work); otherwise the nearest existing one is chosen."
        => memory_save,
    memory_search: "Search everything you remember: your saved facts and your workspace \
        notes (AGENTS.md, USER.md, MEMORY.md, daily logs memory/YYYY-MM-DD.md, \
        learnings). Returns files with snippets and facts, best first."
        => memory_search,
    memory_recall: "Recall saved facts by meaning (e.g. \"what is the user's cat called\"), \
        optionally only one category. Use it before answering questions about the user or \
        earlier sessions."
        => memory_recall,
}
