//! `openlegion:skill/process`: shell commands inside the agent's own sandbox.
//!
//! This crate checks the grant, bounds what the guest hands over and defaults and caps the
//! timeout; the agent's [`ProcessCap`] runs the command (it owns the workdir rules, the
//! environment allowlist and the killing of the process group). The host cuts whatever the
//! agent answers to the WIT's limits, so a careless implementation cannot flood a guest.
//!
//! Nothing here runs a process: a host that was not handed a `ProcessCap` refuses every
//! call, granted or not ([`DenyProcess`]).

use std::time::Duration;

use crate::bindings::openlegion::skill::process::{Host, Output};
use crate::capability::{Capability, not_granted};
use crate::host::bounded;
use crate::state::CallState;
use crate::workspace::MAX_PATH_BYTES;

/// Longest command a guest may pass: far beyond any command line a model writes, and
/// below Linux's 128 KiB limit on one argument (`MAX_ARG_STRLEN`).
const MAX_COMMAND_BYTES: usize = 64 * 1024;
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

impl Host for CallState {
    async fn run(
        &mut self,
        command: String,
        workdir: Option<String>,
        timeout_ms: Option<u32>,
    ) -> Result<Output, String> {
        self.skill.check(Capability::Process)?;
        let request = checked(command, workdir, timeout_ms)?;
        let process = self.skill.caps.process.clone();
        let mut output = process.run(&self.skill.name, request).await?;
        output.truncated |= truncate_chars(&mut output.stdout, MAX_PROCESS_OUTPUT_CHARS);
        output.truncated |= truncate_chars(&mut output.stderr, MAX_PROCESS_OUTPUT_CHARS);
        Ok(Output {
            exit_code: output.exit_code,
            stdout: output.stdout,
            stderr: output.stderr,
            timed_out: output.timed_out,
            truncated: output.truncated,
        })
    }
}

fn checked(
    command: String,
    workdir: Option<String>,
    timeout_ms: Option<u32>,
) -> Result<ProcessRequest, String> {
    bounded("command", &command, MAX_COMMAND_BYTES)?;
    if command.trim().is_empty() {
        return Err("command is empty".into());
    }
    // An argument of `execve` ends at the first NUL: refuse rather than run a prefix.
    if command.contains('\0') {
        return Err("command contains a NUL byte".into());
    }
    if let Some(dir) = &workdir {
        bounded("workdir", dir, MAX_PATH_BYTES)?;
        if dir.contains('\0') {
            return Err("workdir contains a NUL byte".into());
        }
    }
    let timeout = timeout_ms
        .map_or(DEFAULT_PROCESS_TIMEOUT, |ms| {
            Duration::from_millis(ms.max(1).into())
        })
        .min(MAX_PROCESS_TIMEOUT);
    Ok(ProcessRequest {
        command,
        workdir,
        timeout,
    })
}

/// Cuts `text` to at most `max` characters; returns whether it did.
fn truncate_chars(text: &mut String, max: usize) -> bool {
    match text.char_indices().nth(max) {
        Some((end, _)) => {
            text.truncate(end);
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timeout(ms: Option<u32>) -> Duration {
        checked("true".into(), None, ms).unwrap().timeout
    }

    #[test]
    fn timeouts_default_to_30s_and_stop_at_300s() {
        assert_eq!(timeout(None), Duration::from_secs(30));
        assert_eq!(timeout(Some(600_000)), Duration::from_secs(300));
        assert_eq!(timeout(Some(250)), Duration::from_millis(250));
        assert_eq!(timeout(Some(0)), Duration::from_millis(1));
    }

    #[test]
    fn commands_and_workdirs_are_bounded() {
        let long = "x".repeat(MAX_COMMAND_BYTES + 1);
        assert_eq!(
            checked(long, None, None).unwrap_err(),
            "command is 65537 bytes, more than the 65536 allowed"
        );
        assert_eq!(
            checked(" \n".into(), None, None).unwrap_err(),
            "command is empty"
        );
        assert_eq!(
            checked("echo a\0b".into(), None, None).unwrap_err(),
            "command contains a NUL byte"
        );
        let deep = Some("d/".repeat(MAX_PATH_BYTES));
        assert_eq!(
            checked("true".into(), deep, None).unwrap_err(),
            "workdir is 8192 bytes, more than the 4096 allowed"
        );
        let request = checked("ls".into(), Some("/data/src".into()), None).unwrap();
        assert_eq!(request.workdir.as_deref(), Some("/data/src"));
    }

    #[test]
    fn output_is_cut_in_characters() {
        let mut text = "é".repeat(5);
        assert!(truncate_chars(&mut text, 3));
        assert_eq!(text, "ééé");
        assert!(!truncate_chars(&mut text, 3));
    }
}
