//! Where the wrappers' calls go: the real imports in a component, the test double natively.
//!
//! The generated import functions do compile natively, but only as `unreachable!()` stubs;
//! routing them through here lets `cargo test` on the host exercise a skill end to end
//! against [`crate::testing`]. Both sides have the same signatures as the bindings.

#[cfg(target_arch = "wasm32")]
pub(crate) use crate::bindings::openlegion::skill::{
    browser, http, log, memory, mesh, process, skills, workspace,
};

#[cfg(not(target_arch = "wasm32"))]
pub(crate) use crate::testing::imports::{
    browser, http, log, memory, mesh, process, skills, workspace,
};
