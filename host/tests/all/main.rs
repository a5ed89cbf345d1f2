//! In-process tests of the mesh: a whole [`Instance`] started inside the test, its HTTP
//! API driven with `tower::ServiceExt::oneshot` (no sockets, no processes), so they run in
//! milliseconds. Modules by topic.

mod instance;
