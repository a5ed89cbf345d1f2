//! Triggers: what makes an agent act without anyone typing to it. Each trigger lives in the
//! mesh (so it survives agent restarts) and reaches its agent through the agent's lane.
//!
//! - [`watchers`]: files appearing in a directory of an agent's data (`config/watchers.yaml`).

pub mod watchers;
