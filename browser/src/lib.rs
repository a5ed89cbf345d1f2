//! # The mesh's browser service
//!
//! Agents browse through the mesh: their sandboxes have no network, so the mesh drives a
//! headless Chromium (Debian's `chromium`, never a downloaded build) over the DevTools
//! protocol with chromiumoxide, on each agent's behalf.
//!
//! - The browser is started on first use and started again if it crashes.
//! - Every agent gets its own browser context (its own cookies, storage and cache), a
//!   bounded number of tabs, and loses the context after an idle timeout; one agent's
//!   browsing never affects another's.
//! - Every request a page makes (the navigation itself, each redirect hop, each
//!   sub-resource) is paused by Chromium's request interception (the CDP Fetch domain) and
//!   let through only if the [`RequestPolicy`] the mesh gives allows it. WebSockets, which
//!   the Fetch domain cannot see, are blocked outright.
//! - Every connection goes through the proxy the policy names ([`RequestPolicy::proxy`]),
//!   and Chromium is left no way to resolve a name or connect on its own: the mesh's proxy
//!   checks each connection again and pins the address it checked (no DNS rebinding).
//!
//! This crate owns the browser; it does not decide what an agent may reach: the mesh
//! implements [`RequestPolicy`] with its HTTP allowlist and SSRF rules, and checks the
//! agent's `can_use_browser` permission before calling [`BrowserService::run`]. It lives in
//! a crate of its own because chromiumoxide's generated protocol types are the costliest
//! part of the mesh's build, and its tests need a real Chromium.

mod actions;
mod error;
mod intercept;
mod launch;
mod policy;
mod service;
mod snapshot;

pub use error::BrowserError;
pub use launch::{BrowserSettings, find_chromium};
pub use policy::RequestPolicy;
pub use service::BrowserService;
