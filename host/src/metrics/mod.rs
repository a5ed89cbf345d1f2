//! The mesh's metrics, served at `GET /metrics` in the OpenMetrics text format (the
//! Prometheus exposition format Prometheus scrapes), with prometheus-client.
//!
//! Two kinds:
//! - **Counted as it happens**, in [`crate::counters`] (a leaf module the proxy, lanes and
//!   others call): HTTP requests, LLM calls, tokens and dollars, errors and refusals,
//!   restarts, webhook deliveries and watcher fires.
//! - **Read at scrape time** ([`scrape`]): lane depths and oldest ages from the lanes, and
//!   the skill calls, errors and traps each running agent reports in its `GET /status`
//!   (the calls happen inside the agent's sandbox, where the mesh cannot see them; the
//!   agent counts them since it started, so a restart resets them, as a Prometheus counter
//!   reset).
//!
//! This module sits above the mesh (it reads it); nothing below the mesh imports it.

mod http;
mod scrape;

pub use http::{layer, routes};
