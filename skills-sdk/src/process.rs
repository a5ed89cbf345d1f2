//! Shell commands inside the agent's own sandbox (the `process` interface; needs the
//! `process` capability, which the mesh grants only where the sandbox is the boundary).
//!
//! The command runs with `/bin/sh -c` in the data directory (or `workdir` under it), with
//! an environment cut down to PATH, HOME, locale and time zone, stdin closed. Timeouts
//! default to 30 s and are capped at 300 s by the host; on timeout the whole process
//! group is killed and [`Output::timed_out`] is set. stdout and stderr come back cut at
//! 100,000 characters each ([`Output::truncated`]). A command that fails is an `Ok` with
//! its exit code; `Err` is a refusal ("workdir must be under /data, got: …", not granted)
//! meant for the model unchanged.

use crate::imports::process as host;

pub use crate::bindings::openlegion::skill::process::Output;

/// Runs `/bin/sh -c command` in `workdir` (relative to /data; default /data), waiting at
/// most `timeout_ms` (default 30 s, capped at 300 s).
pub fn run(
    command: &str,
    workdir: Option<&str>,
    timeout_ms: Option<u32>,
) -> Result<Output, String> {
    host::run(command, workdir, timeout_ms)
}

impl Output {
    /// Whether the command ran to the end and exited with 0.
    pub fn success(&self) -> bool {
        self.exit_code == 0 && !self.timed_out
    }
}
