//! In-process tests of the mesh: a whole [`Instance`] started inside the test, its HTTP
//! API driven with `tower::ServiceExt::oneshot` (no sockets, no processes), so they run in
//! milliseconds. One module per group of routes; `support` starts the mesh.

mod admin;
mod agents;
mod api;
mod blackboard;
mod instance;
mod lanes;
mod messaging;
mod support;
mod webhooks;
