//! The agent's [`ProcessCap`]: the `process` interface's commands, run with `/bin/sh -c`
//! inside the agent's own sandbox (busybox `sh` in the minimal image).
//!
//! The skill host has already checked the grant, bounded the command and capped the
//! timeout; this module owns what only the agent can do, with the original platform's
//! semantics (`run_command`):
//! - the working directory: the data directory, or a `workdir` under it that obeys the
//!   `workspace` path rules, else "workdir must be under /data, got: …";
//! - the environment: cleared, then only an allowlist with the agent's values ([`env`]);
//! - stdin closed, and the command in a process group of its own, so that a timeout, or
//!   the call being abandoned, kills everything it started;
//! - output: stdout and stderr drained, each kept up to 100,000 characters ([`capture`]);
//! - on timeout: exit code -1, no stdout, stderr "Command timed out after Ns".
//!
//! Whether the agent may run commands at all is not decided here: the mesh grants
//! `process` (container backends, or `runtime.allow_exec`) and the skill host enforces it.

mod capture;
mod env;
#[cfg(test)]
mod tests;

use std::ffi::OsString;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use openlegion_skill_host::{ProcessCap, ProcessOutput, ProcessRequest, resolve_path};
use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};
use tokio::time::Instant;

use capture::Capture;

/// The shell every command runs in.
const SHELL: &str = "/bin/sh";
/// How long output from children the shell left in the background is still read after the
/// shell exits. Without a bound, `server &` would hold the pipes open and the call would
/// last until its timeout; with it, the call returns and the children keep running.
const GRACE_AFTER_EXIT: Duration = Duration::from_secs(1);
/// Bytes read from a pipe at a time.
const READ_CHUNK: usize = 16 * 1024;

/// Runs the commands of the agent's skills.
#[derive(Debug, Clone)]
pub(crate) struct Exec {
    /// The data directory, canonical: the default working directory and the root of
    /// every `workdir`.
    root: PathBuf,
    /// What a command's environment holds (already filtered).
    env: Vec<(OsString, OsString)>,
}

impl Exec {
    /// Commands under `data_dir`, with the allowlisted part of this process's environment.
    pub(crate) fn new(data_dir: &Path) -> std::io::Result<Self> {
        Self::with_env(data_dir, std::env::vars_os())
    }

    /// The same, taking the environment from `vars` (then filtered).
    pub(crate) fn with_env(
        data_dir: &Path,
        vars: impl IntoIterator<Item = (OsString, OsString)>,
    ) -> std::io::Result<Self> {
        Ok(Exec {
            root: data_dir.canonicalize()?,
            env: env::filtered(vars),
        })
    }

    /// The directory a command runs in.
    fn workdir(&self, requested: Option<&str>) -> Result<PathBuf, String> {
        let Some(path) = requested else {
            return Ok(self.root.clone());
        };
        let real = resolve_path(&self.root, path)
            .map_err(|_| format!("workdir must be under /data, got: {path}"))?;
        match std::fs::metadata(&real) {
            Ok(meta) if meta.is_dir() => Ok(real),
            Ok(_) => Err(format!("workdir is not a directory: {path}")),
            Err(_) => Err(format!("workdir does not exist: {path}")),
        }
    }

    async fn execute(&self, request: &ProcessRequest) -> Result<ProcessOutput, String> {
        let dir = self.workdir(request.workdir.as_deref())?;
        let deadline = Instant::now() + request.timeout;
        let mut child = Command::new(SHELL)
            .arg("-c")
            .arg(&request.command)
            .current_dir(&dir)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start {SHELL}: {e}"))?;
        // Armed from here on: if this future is dropped (the skill's own call timed out),
        // the guard still kills the group.
        let mut group = Group::of(&child);
        match drive(&mut child, deadline).await? {
            Finished::Exited(status, stdout, stderr) => {
                // The shell is done; children it left in the background may live on.
                group.disarm();
                let (stdout, cut_out) = stdout.into_text();
                let (stderr, cut_err) = stderr.into_text();
                Ok(ProcessOutput {
                    exit_code: exit_code(status),
                    stdout,
                    stderr,
                    timed_out: false,
                    truncated: cut_out || cut_err,
                })
            }
            Finished::TimedOut => {
                group.kill();
                // Reap the shell (it was killed with the group, so this returns at once).
                let _ = child.wait().await;
                Ok(ProcessOutput {
                    exit_code: -1,
                    stdout: String::new(),
                    stderr: format!("Command timed out after {}s", seconds(request.timeout)),
                    timed_out: true,
                    truncated: false,
                })
            }
        }
    }
}

#[async_trait::async_trait]
impl ProcessCap for Exec {
    async fn run(&self, skill: &str, request: ProcessRequest) -> Result<ProcessOutput, String> {
        let started = Instant::now();
        let result = self.execute(&request).await;
        match &result {
            Ok(output) => tracing::info!(
                skill,
                exit_code = output.exit_code,
                timed_out = output.timed_out,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "command ran"
            ),
            Err(error) => tracing::info!(skill, %error, "command refused"),
        }
        result
    }
}

/// How a command ended.
enum Finished {
    Exited(ExitStatus, Capture, Capture),
    TimedOut,
}

/// Reads both pipes while waiting for the shell, until it has exited and both pipes are
/// closed, or [`GRACE_AFTER_EXIT`] after it exited, or the deadline.
async fn drive(child: &mut Child, deadline: Instant) -> Result<Finished, String> {
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let (mut out, mut err) = (Capture::default(), Capture::default());
    let (mut out_buf, mut err_buf) = (vec![0; READ_CHUNK], vec![0; READ_CHUNK]);
    let mut status = None;
    let mut until = deadline;
    loop {
        if status.is_some() && stdout.is_none() && stderr.is_none() {
            break;
        }
        // Every branch is cancel-safe: a read or wait that loses the race is retried.
        tokio::select! {
            read = read_some(&mut stdout, &mut out_buf) => match read {
                Some(n) => out.push(&out_buf[..n]),
                None => stdout = None,
            },
            read = read_some(&mut stderr, &mut err_buf) => match read {
                Some(n) => err.push(&err_buf[..n]),
                None => stderr = None,
            },
            exited = child.wait(), if status.is_none() => {
                let exited = exited.map_err(|e| format!("cannot wait for {SHELL}: {e}"))?;
                status = Some(exited);
                until = deadline.min(Instant::now() + GRACE_AFTER_EXIT);
            }
            () = tokio::time::sleep_until(until) => break,
        }
    }
    Ok(match status {
        Some(status) => Finished::Exited(status, out, err),
        None => Finished::TimedOut,
    })
}

/// The next bytes of `pipe` into `buf`: `Some(n)`, or `None` at its end (or on an error,
/// which ends it too). A pipe already closed never answers.
async fn read_some<R: AsyncReadExt + Unpin>(pipe: &mut Option<R>, buf: &mut [u8]) -> Option<usize> {
    match pipe {
        Some(reader) => match reader.read(buf).await {
            Ok(0) | Err(_) => None,
            Ok(n) => Some(n),
        },
        None => std::future::pending().await,
    }
}

/// The command's process group, killed when dropped unless disarmed.
struct Group(Option<Pid>);

impl Group {
    /// The group `child` leads (it was spawned with `process_group(0)`).
    fn of(child: &Child) -> Self {
        Group(
            child
                .id()
                .and_then(|id| i32::try_from(id).ok())
                .map(Pid::from_raw),
        )
    }

    fn kill(&mut self) {
        if let Some(pgid) = self.0.take() {
            // ESRCH: everything in it is gone already.
            let _ = killpg(pgid, Signal::SIGKILL);
        }
    }

    fn disarm(&mut self) {
        self.0 = None;
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The shell's exit status as the WIT reports it: its code, or -N for signal N.
fn exit_code(status: ExitStatus) -> i32 {
    status
        .code()
        .or_else(|| status.signal().map(|signal| -signal))
        .unwrap_or(-1)
}

/// `30` for whole seconds, `1.5` or `0.25` otherwise.
fn seconds(duration: Duration) -> String {
    if duration.subsec_millis() == 0 {
        return duration.as_secs().to_string();
    }
    let text = format!("{:.3}", duration.as_secs_f64());
    text.trim_end_matches('0').to_owned()
}
