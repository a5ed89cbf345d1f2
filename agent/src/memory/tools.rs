//! The `memory` skill capability, served from [`Memory`]: `save`, `search` and `recall`,
//! each answering JSON text for the model.
//!
//! `search` merges two rankings: workspace files (BM25 from the index, refreshed first so
//! edits are seen) and facts (hybrid score × salience). The scales differ, so each source's
//! scores are taken relative to its own best hit (1.0) and the results are merged by that;
//! on a tie the fact comes first (facts are distilled, files are raw). When embeddings are
//! unavailable the answer says so once (`keyword_only` and a `note`); a query of only stop
//! words gets an empty answer with a note saying why, not an error.

use std::sync::Arc;

use openlegion_memory::{FileHit, Hit, MemoryError, Saved, SearchOptions, WorkspaceIndex};
use openlegion_skill_host::{Capability, FactRequest, MemoryCap};
use serde_json::{Map, Value, json};

use super::{CategoryChoice, Memory};

const KEYWORD_ONLY_NOTE: &str = "no embeddings are available right now, so this was matched \
    by words only, not by meaning: try the exact words you expect in the fact";
const NO_WORDS_NOTE: &str = "the query has no searchable words (only common words such as \
    'the', 'is', 'of'); ask with the words that matter, such as a name or a topic";

/// A `MemoryCap` for an agent whose memory could not be opened at all: every call says why.
#[derive(Debug, Clone)]
pub struct Unavailable(pub String);

#[async_trait::async_trait]
impl MemoryCap for Unavailable {
    async fn save(&self, _skill: &str, _fact: FactRequest) -> Result<String, String> {
        Err(self.0.clone())
    }
    async fn search(&self, _skill: &str, _query: &str, _limit: usize) -> Result<String, String> {
        Err(self.0.clone())
    }
    async fn recall(
        &self,
        _skill: &str,
        _query: &str,
        _category: Option<&str>,
        _limit: usize,
    ) -> Result<String, String> {
        Err(self.0.clone())
    }
}

impl Memory {
    /// The notes every answer may carry: keyword-only search, the startup problem.
    fn finish(&self, mut answer: Map<String, Value>, searched: bool) -> String {
        if searched && self.store.keyword_only() {
            answer.insert("keyword_only".into(), Value::Bool(true));
            answer
                .entry("note")
                .or_insert_with(|| Value::String(KEYWORD_ONLY_NOTE.into()));
        }
        if let Some(notice) = self.take_notice() {
            answer.insert("memory_problem".into(), Value::String(notice));
        }
        Value::Object(answer).to_string()
    }

    /// The workspace files matching `query`, after bringing the index up to date, and what
    /// kept it from being brought up to date (a full disk, say): then the index is searched
    /// as it was, rather than not at all.
    async fn search_files(
        &self,
        query: &str,
        limit: usize,
    ) -> Result<(Vec<FileHit>, Option<String>), String> {
        let Some(index) = self.index.clone() else {
            return Ok((Vec::new(), None));
        };
        let query = query.to_owned();
        tokio::task::spawn_blocking(move || {
            let stale = index.refresh().err().map(|e| {
                tracing::warn!(error = %e, "the workspace index was not refreshed");
                format!(
                    "the workspace index could not be brought up to date, so file results \
                     may miss recent changes: {}",
                    if e.is_disk_full() {
                        "No space left on device".to_owned()
                    } else {
                        e.to_string()
                    }
                )
            });
            index.search(&query, limit).map(|hits| (hits, stale))
        })
        .await
        .map_err(|e| format!("the workspace search failed: {e}"))?
        .map_err(|e| e.to_string())
    }
}

fn saved_json(saved: Saved) -> (&'static str, i64) {
    match saved {
        Saved::Added(id) => ("added", id),
        Saved::Updated(id) => ("updated", id),
    }
}

fn fact_json(hit: &Hit, relative: Option<f64>) -> Value {
    let mut v = json!({
        "kind": "fact",
        "key": hit.fact.key,
        "value": hit.fact.value,
        "category": hit.fact.category,
        "source": hit.fact.source,
        "updated_at": hit.fact.updated_at.to_rfc3339(),
        "score": round3(relative.unwrap_or(hit.score)),
    });
    if relative.is_none() {
        v.as_object_mut().map(|m| m.remove("kind"));
    }
    v
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn text(e: MemoryError) -> String {
    if e.is_disk_full() {
        return format!(
            "No space left on device: the disk holding the agent's memory is full, so \
             nothing was saved (facts saved before are intact); free space (delete files you \
             no longer need) before saving again ({e})"
        );
    }
    e.to_string()
}

#[async_trait::async_trait]
impl MemoryCap for Memory {
    async fn save(&self, _skill: &str, fact: FactRequest) -> Result<String, String> {
        let source = fact.source.clone().unwrap_or_else(|| "agent".into());
        let mut kept = self
            .remember(vec![(fact.key, fact.value, fact.category)], &source)
            .await
            .map_err(text)?;
        let kept = kept.pop().ok_or("nothing was saved")?;
        let (saved, id) = saved_json(kept.saved);
        let mut answer = Map::new();
        answer.insert("saved".into(), json!(saved));
        answer.insert("id".into(), json!(id));
        answer.insert("key".into(), json!(kept.key));
        answer.insert("category".into(), json!(kept.category));
        answer.insert("category_chosen_by".into(), json!(kept.chosen_by));
        answer.insert(
            "logged_to".into(),
            json!(format!(
                "memory/{}.md",
                chrono::Utc::now().date_naive().format("%Y-%m-%d")
            )),
        );
        if kept.chosen_by == CategoryChoice::Default {
            answer.insert(
                "hint".into(),
                json!("no category given and none near: saved as 'general'"),
            );
        }
        Ok(self.finish(answer, false))
    }

    async fn search(&self, _skill: &str, query: &str, limit: usize) -> Result<String, String> {
        let mut answer = Map::new();
        answer.insert("query".into(), json!(query));
        if !WorkspaceIndex::searchable(query) {
            answer.insert("results".into(), json!([]));
            answer.insert("count".into(), json!(0));
            answer.insert("note".into(), json!(NO_WORDS_NOTE));
            return Ok(self.finish(answer, false));
        }
        let (files, stale) = self.search_files(query, limit).await?;
        if let Some(stale) = stale {
            answer.insert("files_note".into(), json!(stale));
        }
        let options = SearchOptions {
            limit,
            ..SearchOptions::default()
        };
        let facts = self.store.search(query, options).await.map_err(text)?;
        let best_file = files.iter().map(|f| f64::from(f.score)).fold(0.0, f64::max);
        let best_fact = facts.iter().map(|h| h.score).fold(0.0, f64::max);
        let mut merged: Vec<(f64, u8, Value)> = Vec::new();
        for hit in &facts {
            let relative = if best_fact > 0.0 {
                hit.score / best_fact
            } else {
                0.0
            };
            merged.push((relative, 0, fact_json(hit, Some(relative))));
        }
        for file in &files {
            let relative = if best_file > 0.0 {
                f64::from(file.score) / best_file
            } else {
                0.0
            };
            merged.push((
                relative,
                1,
                json!({"kind": "file", "path": file.path, "snippet": file.snippet,
                       "score": round3(relative)}),
            ));
        }
        merged.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        merged.truncate(limit);
        answer.insert("count".into(), json!(merged.len()));
        answer.insert(
            "results".into(),
            Value::Array(merged.into_iter().map(|(_, _, v)| v).collect()),
        );
        Ok(self.finish(answer, true))
    }

    async fn recall(
        &self,
        _skill: &str,
        query: &str,
        category: Option<&str>,
        limit: usize,
    ) -> Result<String, String> {
        let mut answer = Map::new();
        answer.insert("query".into(), json!(query));
        if let Some(category) = category {
            answer.insert("category".into(), json!(category));
        }
        if !WorkspaceIndex::searchable(query) {
            answer.insert("facts".into(), json!([]));
            answer.insert("count".into(), json!(0));
            answer.insert("note".into(), json!(NO_WORDS_NOTE));
            return Ok(self.finish(answer, false));
        }
        let options = SearchOptions {
            limit,
            ..SearchOptions::default()
        };
        let hits = match category {
            Some(c) => {
                self.store
                    .search_in(query, &c.trim().to_lowercase(), options)
                    .await
            }
            None => self.store.search(query, options).await,
        }
        .map_err(text)?;
        answer.insert("count".into(), json!(hits.len()));
        answer.insert(
            "facts".into(),
            Value::Array(hits.iter().map(|h| fact_json(h, None)).collect()),
        );
        if hits.is_empty() {
            answer.insert(
                "note".into(),
                json!("no saved fact matches; memory_search also looks in the workspace notes"),
            );
        }
        Ok(self.finish(answer, true))
    }
}

/// The capability to hand the skill host: the memory, or a refusal saying why there is none.
pub fn capability(memory: Option<&Arc<Memory>>, why: &str) -> Arc<dyn MemoryCap> {
    match memory {
        Some(m) => Arc::clone(m) as Arc<dyn MemoryCap>,
        None => Arc::new(Unavailable(format!(
            "the agent's memory is unavailable: {why} (capability '{}')",
            Capability::Memory
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Without an embedder: answers say keyword-only once, nothing fails, and a category
    /// cannot be picked by meaning (so `general`).
    #[tokio::test]
    async fn keyword_only_memory_says_so_and_still_works() {
        let dir = tempfile::tempdir().unwrap();
        let workspace = dir.path().join("workspace");
        std::fs::create_dir_all(&workspace).unwrap();
        std::fs::write(
            workspace.join("USER.md"),
            "The user sails a boat named Petrel.",
        )
        .unwrap();
        let memory = Memory::open(dir.path(), &workspace, None).unwrap();
        let fact = FactRequest {
            key: "boat".into(),
            value: "The user's boat is called Petrel".into(),
            category: None,
            source: None,
        };
        let saved: Value =
            serde_json::from_str(&memory.save("memory", fact).await.unwrap()).unwrap();
        assert_eq!(saved["category"], "general", "{saved}");
        assert_eq!(saved["category_chosen_by"], "default", "{saved}");
        let found: Value =
            serde_json::from_str(&memory.search("memory", "Petrel boat", 5).await.unwrap())
                .unwrap();
        assert_eq!(found["keyword_only"], true, "{found}");
        assert!(found["note"].as_str().unwrap().contains("by words only"));
        let kinds: Vec<&str> = found["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["kind"].as_str().unwrap())
            .collect();
        assert!(
            kinds.contains(&"fact") && kinds.contains(&"file"),
            "{found}"
        );
        let recalled: Value = serde_json::from_str(
            &memory
                .recall("memory", "Petrel", Some("general"), 5)
                .await
                .unwrap(),
        )
        .unwrap();
        assert_eq!(recalled["facts"][0]["key"], "boat", "{recalled}");
        let log = std::fs::read_dir(workspace.join("memory")).unwrap().count();
        assert_eq!(log, 1, "the save went to the daily log too");
    }
}
