//! `openlegion:skill/process`: commands in the agent's own sandbox, as the skill host asks
//! for them.
//!
//! The agent implements [`ProcessCap`] (workdir rules, environment allowlist, killing the
//! process group); [`crate::host`] checks the grant, bounds the request and cuts the answer
//! to these limits.

use std::time::Duration;

use crate::capability::{Capability, not_granted};

/// The WIT contract: 30 s by default, at most 300 s (the original platform's bounds).
pub const DEFAULT_PROCESS_TIMEOUT: Duration = Duration::from_secs(30);
pub const MAX_PROCESS_TIMEOUT: Duration = Duration::from_secs(300);
/// The WIT contract: stdout and stderr reach the guest cut to this many characters each
/// (the original platform's limit).
pub const MAX_PROCESS_OUTPUT_CHARS: usize = 100_000;

/// A command from a skill, checked and bounded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessRequest {
    /// For `/bin/sh -c`; not empty, at most 64 KiB, no NUL byte.
    pub command: String,
    /// As the guest wrote it (relative to the data directory, or under `/data/`); the
    /// implementation confines it. At most 4 KiB, no NUL byte.
    pub workdir: Option<String>,
    /// The guest's timeout, defaulted and capped.
    pub timeout: Duration,
}

/// What a command did. Output over [`MAX_PROCESS_OUTPUT_CHARS`] is cut by the host (and
/// `truncated` set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessOutput {
    pub exit_code: i32,
    pub stdout: String,
    pub stderr: String,
    pub timed_out: bool,
    pub truncated: bool,
}

/// The agent's way to run commands in its sandbox. Refuses unless implemented.
#[async_trait::async_trait]
pub trait ProcessCap: Send + Sync {
    /// Runs `request` for `skill`. `Err` is the text the skill sees.
    async fn run(&self, skill: &str, request: ProcessRequest) -> Result<ProcessOutput, String> {
        let _ = request;
        Err(not_granted(Capability::Process, skill))
    }
}

/// No commands at all.
#[derive(Debug, Clone, Copy, Default)]
pub struct DenyProcess;

impl ProcessCap for DenyProcess {}
