//! # The OpenLegion agent
//!
//! One agent per sandbox: a small static binary that serves the agent's HTTP API on a Unix
//! socket, runs the loop (model → tools → model) with every model call going through the
//! mesh, and runs every tool as a WebAssembly component.
//!
//! - [`config`]: the environment the mesh starts the agent with.
//! - [`mesh_client`]: the one door out of the sandbox.
//! - [`agent`]: conversation, tasks and status; [`server`] is its HTTP face.
//! - [`turn`]: one turn of the loop, with loop detection; [`learnings`] keeps what went
//!   wrong for later sessions; [`memory`] keeps facts, searched by meaning and by words.
//! - [`context`]: keeps each conversation inside the model's window, facts first.
//! - [`tools`]: what the loop needs from the tools; [`skills`] runs them, `exec` runs
//!   their shell commands inside the sandbox, and `authoring` compiles the skills the agent
//!   writes, inside the sandbox too.
//! - [`heartbeat`]: the heartbeat probes that run inside the agent, without the LLM.

pub mod agent;
mod authoring;
pub mod config;
pub mod context;
mod exec;
mod files;
pub mod heartbeat;
mod journal;
pub mod learnings;
pub mod memory;
pub mod mesh_client;
mod origin;
mod prompt;
pub mod server;
pub mod skills;
pub mod tools;
pub mod turn;

/// `openlegion-agent warm DIR`: see [`authoring::warm`].
pub use authoring::warm;
