//! The memory store against real SQLite files, with real embeddings of all-MiniLM-L6-v2
//! precomputed into `data/vectors.json` (regenerated and checked against the model by the
//! end-to-end test `memory::precomputed_vectors_are_the_models`).

mod fixture;
mod recovery;
mod search;
mod store;
mod workspace;
