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
use crate::call_state::CallState;
use crate::capability::Capability;
use crate::host::bounded;
use crate::ports::process::{
    DEFAULT_PROCESS_TIMEOUT, MAX_PROCESS_OUTPUT_CHARS, MAX_PROCESS_TIMEOUT, ProcessRequest,
};
use crate::workspace::MAX_PATH_BYTES;

/// Longest command a guest may pass: far beyond any command line a model writes, and
/// below Linux's 128 KiB limit on one argument (`MAX_ARG_STRLEN`).
const MAX_COMMAND_BYTES: usize = 64 * 1024;

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
