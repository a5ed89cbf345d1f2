//! Skills the agent writes at run time (the `skills` interface; needs the `skills`
//! capability, which the mesh grants only where the agent's sandbox is the boundary:
//! compiling runs the source's own code).
//!
//! The agent compiles the source inside its own sandbox, checks that the component
//! imports nothing but `openlegion:skill`, writes it to `/data/skills/<name>/` and loads
//! it at once. Every answer is JSON text meant for the model, and every error (a refusal,
//! the compiler's errors with line numbers) is the text the model reads.

use crate::imports::skills as host;

pub use crate::bindings::openlegion::skill::skills::{Limits, Source};

/// Compiles, checks and loads `source`; returns the agent's report as JSON text.
pub fn create(source: &Source) -> Result<String, String> {
    host::create(source)
}

/// The agent-written skills, as a JSON array.
pub fn list() -> Result<String, String> {
    host::list_skills()
}

/// Unloads and deletes the agent-written skill `name`.
pub fn remove(name: &str) -> Result<String, String> {
    host::remove(name)
}

/// Loads every skill of the skills directory again, now.
pub fn reload() -> Result<String, String> {
    host::reload()
}
