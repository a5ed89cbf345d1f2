//! # The OpenLegion skill host
//!
//! Every tool an agent can call is a WebAssembly component of the world `skill`
//! (`wit/skill.wit`). This crate loads those components and runs them: one wasmtime
//! [`Engine`](wasmtime::Engine) per [`SkillHost`], a pooling allocator, and a fresh store
//! for every call under the skill's fuel, memory and wall-clock [`Limits`], so that a
//! trapping, spinning or greedy tool fails only its own call.
//!
//! A skill is a directory holding `skill.wasm` and its [`Manifest`] `skill.yaml`. Loading
//! validates the component's imports (only `openlegion:skill/*` and `wasi:*`), compiles it
//! off the async threads into a `.cwasm` cache on disk (reusing every function compiled
//! before, from a cache of Cranelift's output), and asks it to `describe` its tools. [`SkillHost::watch`] polls a skills directory and swaps new versions in while
//! calls in flight finish on the old one.
//!
//! What a skill may touch is the intersection of the [`Capability`]s its manifest asks for
//! and those the agent's permissions allow ([`Capabilities::allowed`]). The `workspace`
//! capability is implemented here, confined to the agent's data directory; `http`, `mesh`,
//! `process`, `skills`, `memory` and `browser` are delegated to the agent through the
//! [`HttpCap`], [`MeshCap`], [`ProcessCap`], [`SkillsCap`], [`MemoryCap`] and
//! [`BrowserCap`] traits, whose default methods refuse. WASI is linked with an empty context: no files, environment,
//! arguments, sockets or stdio reach a skill through it.
//!
//! This crate does not decide permissions, talk to the mesh, or build components from
//! source; the agent does, and hands the results in.

mod bindings;
mod cache;
mod call_state;
mod capability;
mod config;
mod engine;
mod error;
mod functions;
#[cfg(test)]
mod fuzz;
mod host;
mod invoke;
mod load;
mod manifest;
mod ports;
mod registry;
mod skill_dir;
mod skill_host;
pub mod testing;
mod validate;
mod watch;
mod workspace;

pub use capability::Capability;
pub use config::{Limits, LimitsOverride, MAX_MEMORY_BYTES, MAX_TIMEOUT, SkillHostSettings};
pub use error::{HostError, ToolError};
pub use functions::{FILE as FUNCTION_CACHE_FILE, FunctionReuse, copy_function_cache};
pub use load::{DirLock, LoadReport};
pub use manifest::Manifest;
pub use ports::Capabilities;
pub use ports::browser::{BrowserCap, DenyBrowser};
pub use ports::http::{DenyHttp, HttpCap, HttpRequest, HttpResponse};
pub use ports::memory::{
    DEFAULT_RESULTS, DenyMemory, FactRequest, MAX_FACT_KEY_BYTES, MAX_FACT_LABEL_BYTES,
    MAX_FACT_VALUE_BYTES, MAX_QUERY_BYTES, MAX_RESULTS, MemoryCap,
};
pub use ports::mesh::{DenyMesh, MeshCap};
pub use ports::process::{
    DEFAULT_PROCESS_TIMEOUT, DenyProcess, MAX_PROCESS_OUTPUT_CHARS, MAX_PROCESS_TIMEOUT,
    ProcessCap, ProcessOutput, ProcessRequest,
};
pub use ports::skills::{
    DenySkills, MAX_SOURCE_BYTES, MAX_TOOLS_JSON_BYTES, SkillSource, SkillsCap,
};
pub use registry::{CacheOutcome, SkillInfo, ToolInfo};
pub use skill_host::{MAX_ANSWER_BYTES, MAX_ARGS_BYTES, SkillHost, WeakSkillHost};
pub use validate::check_authored;
pub use workspace::{is_partial_write, resolve_path};

/// The WIT package every skill is built against (`wit/skill.wit`), for the agent's
/// compilers: it builds agent-written skills against exactly the version it links.
pub const WIT: &str = include_str!("../../wit/skill.wit");
