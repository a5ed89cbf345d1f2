//! # An agent's long-term memory
//!
//! Facts the agent keeps across sessions — a key, a value, a category, where it came from
//! and how sure it is — in one SQLite file per agent (`/data/memory.db`), searched by
//! meaning (sqlite-vec KNN over embeddings) and by words (FTS5 BM25) at once, and ranked
//! by how much each fact has been used lately (salience).
//!
//! - [`MemoryStore`]: open, [`save`](MemoryStore::save) (near-duplicates update instead of
//!   piling up), [`search`](MemoryStore::search) (three tiers: the query's categories, the
//!   facts in them, then everything), [`decay`](MemoryStore::decay),
//!   [`backfill`](MemoryStore::backfill).
//! - [`Embedder`]: where vectors come from. The agent's goes through the mesh; this crate
//!   never reaches the network. Without one, or while it fails, search is keyword-only
//!   and says so once in the log; nothing fails for want of vectors.
//! - [`eval`]: the labelled set of facts and questions, and recall@5 over it.
//!
//! - [`WorkspaceIndex`]: BM25 (tantivy) over the workspace's markdown files, brought up to
//!   date before each search by comparing each file's modification time and size.
//!
//! Not here: the memory tools skills call (a `memory` capability of the skill host, served
//! by the agent).

mod db;
mod embedder;
mod error;
pub mod eval;
mod keywords;
mod nearest;
mod search;
mod store;
mod workspace;

pub use embedder::{EmbedError, Embedder};
pub use error::MemoryError;
pub use search::{Hit, SearchOptions, Tier};
pub use store::{
    Fact, MAX_KEY_BYTES, MAX_LABEL_BYTES, MAX_SALIENCE, MAX_VALUE_BYTES, MemoryConfig, MemoryStore,
    NewFact, Saved, boosted_salience,
};
pub use workspace::{FileHit, MAX_FILE_CHARS, MAX_FILES, Refreshed, WorkspaceIndex};
