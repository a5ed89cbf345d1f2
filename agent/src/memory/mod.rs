//! The agent's long-term memory: the facts database (`<data>/memory.db`, the store of
//! `openlegion-memory`, with embeddings from the mesh), the BM25 index of the workspace's
//! markdown (kept in `<data>/index/workspace/`, outside the workspace), and the daily log.
//!
//! [`Memory`] is what the rest of the agent uses: [`Memory::remember`] keeps facts (the
//! context manager calls it), the `memory` skill capability is served from it
//! ([`tools`]), and the prompt shows its most salient facts. A damaged `memory.db` found at
//! start is moved aside: the agent starts anyway, logs it as an error, and reports it in
//! its first memory tool answer and in `/history`.
//!
//! Not here: the workspace templates written at first start ([`scaffold`]), and the
//! embedding transport ([`embedder`]).

mod embedder;
mod scaffold;
mod tools;
pub mod upkeep;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use openlegion_memory::{
    Embedder, Fact, MemoryConfig, MemoryError, MemoryStore, NewFact, Saved, WorkspaceIndex,
};

pub use embedder::MeshEmbedder;
pub use scaffold::{scaffold, scaffold_with};
pub use tools::{Unavailable, capability};

use crate::journal;

/// The database file under the agent's data directory.
pub const DB_FILE: &str = "memory.db";
/// The workspace index's directory under the data directory.
pub const INDEX_DIR: &str = "index/workspace";
/// Facts shown at the start of every prompt, at most, and characters of each.
const PROMPT_FACTS: usize = 8;
const PROMPT_FACT_CHARS: usize = 300;
/// Cosine similarity between a new fact and an existing category's centroid at which the
/// fact joins that category when the model gave none. Below the store's search threshold
/// (0.5): a centroid of a few facts is an average, nearer to nothing in particular, and a
/// wrong guess costs little (search looks beyond a query's categories anyway).
const CATEGORY_PICK_SIMILARITY: f32 = 0.4;

/// How a saved fact's category was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CategoryChoice {
    /// The caller (the model) gave it.
    Caller,
    /// The existing category nearest the fact's meaning.
    Nearest,
    /// `general`: no category given and none near enough.
    Default,
}

/// One fact kept by [`Memory::remember`].
#[derive(Debug, Clone, PartialEq)]
pub struct Remembered {
    pub key: String,
    pub category: String,
    pub chosen_by: CategoryChoice,
    pub saved: Saved,
}

/// Facts the context manager extracts before it compacts a conversation go here.
#[async_trait::async_trait]
impl crate::context::FactStore for Memory {
    async fn remember(
        &self,
        facts: &[crate::context::Fact],
        source: &str,
    ) -> Result<usize, String> {
        let facts = facts
            .iter()
            .map(|f| (f.key.clone(), f.value.clone(), f.category.clone()))
            .collect();
        Memory::remember(self, facts, source)
            .await
            .map(|kept| kept.len())
            .map_err(|e| e.to_string())
    }
}

/// The agent's memory. Share it as `Arc<Memory>`.
#[derive(Debug)]
pub struct Memory {
    store: MemoryStore,
    /// `None` when the index cannot be opened (logged): search then covers facts only.
    index: Option<Arc<WorkspaceIndex>>,
    workspace: PathBuf,
    /// What went wrong at open that the user should hear about (a database moved aside),
    /// until the first memory tool answer has carried it.
    notice: Mutex<Option<String>>,
    startup_problem: Option<String>,
}

impl Memory {
    /// Opens the memory of the agent whose data directory is `data_dir` and workspace
    /// `workspace`, creating what is missing. A damaged database is moved aside (see
    /// [`Memory::startup_problem`]); a damaged index is rebuilt; only a database that cannot
    /// be created at all is an error.
    pub fn open(
        data_dir: &Path,
        workspace: &Path,
        embedder: Option<Arc<dyn Embedder>>,
    ) -> Result<Self, MemoryError> {
        let store = MemoryStore::open(&data_dir.join(DB_FILE), embedder, MemoryConfig::default())?;
        let startup_problem = store.moved_aside().map(|aside| {
            format!(
                "the memory database {} was damaged and has been moved aside to {}; facts \
                 saved before are not in memory now (the old file is kept for recovery), new \
                 facts are saved normally",
                store.path().display(),
                aside.display()
            )
        });
        if let Some(problem) = &startup_problem {
            tracing::error!("MEMORY DATABASE DAMAGED: {problem}");
        }
        let index = match WorkspaceIndex::open(workspace, &data_dir.join(INDEX_DIR)) {
            Ok(index) => Some(Arc::new(index)),
            Err(e) => {
                tracing::error!(error = %e, "no workspace index: memory search covers facts only");
                None
            }
        };
        Ok(Self {
            store,
            index,
            workspace: workspace.to_owned(),
            notice: Mutex::new(startup_problem.clone()),
            startup_problem,
        })
    }

    /// The facts store.
    pub fn store(&self) -> &MemoryStore {
        &self.store
    }

    /// What went wrong when the memory was opened (a damaged database moved aside), for
    /// `/history` and the like; `None` when it opened cleanly.
    pub fn startup_problem(&self) -> Option<&str> {
        self.startup_problem.as_deref()
    }

    /// The startup problem, once: the first memory tool answer carries it to the model
    /// (and so to the user).
    fn take_notice(&self) -> Option<String> {
        self.notice.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    /// Keeps `facts` — (key, value, category) — from `source` (e.g. "user", "context"):
    /// each is written to today's daily log and saved in the database (near-duplicates
    /// update). Without a category, the nearest existing category by meaning is used, or
    /// `general`. Every fact is attempted even when one fails; the first failure is then
    /// returned (a fact too large or empty, named by field), the others are kept.
    pub async fn remember(
        &self,
        facts: Vec<(String, String, Option<String>)>,
        source: &str,
    ) -> Result<Vec<Remembered>, MemoryError> {
        let mut kept = Vec::with_capacity(facts.len());
        let mut first_error = None;
        for (key, value, category) in facts {
            match self.remember_one(key, value, category, source).await {
                Ok(r) => kept.push(r),
                Err(e) => {
                    tracing::warn!(error = %e, "a fact was not kept");
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(kept),
        }
    }

    async fn remember_one(
        &self,
        key: String,
        value: String,
        category: Option<String>,
        source: &str,
    ) -> Result<Remembered, MemoryError> {
        let category = category
            .map(|c| c.trim().to_lowercase())
            .filter(|c| !c.is_empty());
        let (category, chosen_by) = match category {
            Some(c) => (c, CategoryChoice::Caller),
            None => match self
                .store
                .nearest_category_for(&key, &value, CATEGORY_PICK_SIMILARITY)
                .await?
            {
                Some((c, s)) => {
                    tracing::debug!(category = %c, similarity = s, "category picked by meaning");
                    (c, CategoryChoice::Nearest)
                }
                None => ("general".to_owned(), CategoryChoice::Default),
            },
        };
        let mut fact = NewFact::new(key.clone(), value.clone()).category(category.clone());
        fact.source = Some(source.to_owned());
        // The database first: it validates (sizes, empty fields), and the log should not
        // claim a fact that was refused.
        let saved = self.store.save(fact).await?;
        journal::append(
            &self.workspace,
            &format!("Remembered [{category}] {key}: {value}"),
        );
        Ok(Remembered {
            key,
            category,
            chosen_by,
            saved,
        })
    }

    /// The most salient facts, for the start of the system prompt (bounded).
    pub fn prompt_section(&self) -> Option<String> {
        let facts: Vec<Fact> = match self.store.salient(PROMPT_FACTS) {
            Ok(facts) => facts,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the salient facts");
                return None;
            }
        };
        if facts.is_empty() {
            return None;
        }
        let mut section = String::from(
            "Facts you saved in earlier sessions (most used first; memory_recall finds more):\n",
        );
        for fact in facts {
            let value: String = fact.value.chars().take(PROMPT_FACT_CHARS).collect();
            let value = value.split_whitespace().collect::<Vec<_>>().join(" ");
            section.push_str(&format!("- [{}] {}: {value}\n", fact.category, fact.key));
        }
        Some(section)
    }
}
