//! Support for OpenLegion's end-to-end tests: build the real binaries once, run them as
//! child processes on loopback with a throw-away configuration, and talk to them over HTTP.
//!
//! Nothing here stubs a component: a test gets a real mesh process with a real SQLite
//! database, reached through its real HTTP API.

mod bins;
mod client;
pub mod docker;
mod fake_agent;
mod fleet;
mod mesh;
pub mod microvm;
mod models;
mod skills;
mod skip;
mod small_disk;

pub use bins::binary;
pub use client::{Client, Reply};
pub use fake_agent::FakeAgent;
pub use fleet::{
    MODEL, MODEL_NAME, TEST_LABEL, agent_mesh, agent_mesh_env, agent_mesh_in, agent_mesh_with,
    agent_mesh_within, container_runtime,
};
pub use mesh::{MeshOptions, MeshProcess, cli, start_refuses};
pub use models::{local_chat_models_dir, local_models_dir};
pub use skills::{compilers, fixture, template};
pub use skip::{skip, skip_log};
pub use small_disk::SmallDisk;
