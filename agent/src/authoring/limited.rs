//! Running a compiler as a child process under a wall-clock and a memory limit.
//!
//! The compilers run the agent's code (a Python module's or a JavaScript module's top
//! level is executed while building), so a build can loop or allocate without end. The
//! child gets:
//! - its own process group, killed whole when the time is up or the call is abandoned;
//! - `RLIMIT_DATA` (set by `ulimit -d` in a `/bin/sh` that then `exec`s the compiler):
//!   it bounds the memory a process writes to, and not the large address-space
//!   reservations the compilers' own WebAssembly engines make (`RLIMIT_AS` would refuse
//!   those and break every build);
//! - a cleared environment: PATH, HOME/TMPDIR in its build directory, and the compiler's
//!   own variables (cargo's CARGO_HOME and RUSTC);
//! - stdin closed, stdout and stderr captured up to a bound.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;

/// Output kept per stream; the rest is read and dropped (a compiler printing without end
/// must not fill the agent's memory, nor block on a full pipe).
const MAX_CAPTURE_BYTES: usize = 512 * 1024;

/// The limits of one compiler run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RunLimits {
    pub(crate) wall_clock: Duration,
    pub(crate) memory_mib: u64,
}

/// How a run ended.
#[derive(Debug)]
pub(crate) struct RunOutput {
    /// The exit code, or `None` if killed by a signal (or by the wall-clock limit).
    pub(crate) code: Option<i32>,
    /// The signal that killed it, if one did (SIGKILL from the kernel's OOM killer when the
    /// sandbox runs out of memory).
    pub(crate) signal: Option<i32>,
    pub(crate) timed_out: bool,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
    pub(crate) elapsed: Duration,
}

impl RunOutput {
    pub(crate) fn success(&self) -> bool {
        self.code == Some(0) && !self.timed_out
    }
}

/// Kills the child's whole process group when dropped: on timeout, and when the call that
/// started it is abandoned.
struct GroupGuard(Option<Pid>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(pid) = self.0 {
            let _ = killpg(pid, Signal::SIGKILL);
        }
    }
}

/// Runs `program args` in `dir` under `limits`. `Err` means it could not be started.
pub(crate) async fn run(
    program: &Path,
    args: &[impl AsRef<std::ffi::OsStr>],
    env: &[(String, String)],
    dir: &Path,
    limits: RunLimits,
) -> std::io::Result<RunOutput> {
    let started = Instant::now();
    let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into());
    let mut child = Command::new("/bin/sh")
        .arg("-c")
        .arg("ulimit -d \"$0\" && exec \"$@\"")
        .arg((limits.memory_mib * 1024).to_string())
        .arg(program)
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", path)
        .env("HOME", dir)
        .env("TMPDIR", dir)
        .env("LANG", "C.UTF-8")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()?;
    let mut guard = GroupGuard(child.id().map(|id| Pid::from_raw(id as i32)));
    let stdout = capture(child.stdout.take());
    let stderr = capture(child.stderr.take());
    let outputs = async { tokio::join!(stdout, stderr) };
    let waited = tokio::time::timeout(limits.wall_clock, async {
        let (out, err) = outputs.await;
        let status = child.wait().await;
        (status, out, err)
    })
    .await;
    match waited {
        Ok((status, stdout, stderr)) => {
            // The group leader has exited; whatever it left behind goes with the guard.
            drop(guard);
            let status = status?;
            Ok(RunOutput {
                code: status.code(),
                signal: std::os::unix::process::ExitStatusExt::signal(&status),
                timed_out: false,
                stdout,
                stderr,
                elapsed: started.elapsed(),
            })
        }
        Err(_elapsed) => {
            if let Some(pid) = guard.0.take() {
                let _ = killpg(pid, Signal::SIGKILL);
            }
            let _ = child.wait().await;
            Ok(RunOutput {
                code: None,
                signal: None,
                timed_out: true,
                stdout: String::new(),
                stderr: String::new(),
                elapsed: started.elapsed(),
            })
        }
    }
}

/// Reads a stream to its end, keeping the first [`MAX_CAPTURE_BYTES`].
async fn capture(stream: Option<impl AsyncRead + Unpin>) -> String {
    let Some(mut stream) = stream else {
        return String::new();
    };
    let mut kept = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = MAX_CAPTURE_BYTES.saturating_sub(kept.len());
                kept.extend_from_slice(&chunk[..n.min(room)]);
            }
        }
    }
    String::from_utf8_lossy(&kept).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(wall_clock_ms: u64, memory_mib: u64) -> RunLimits {
        RunLimits {
            wall_clock: Duration::from_millis(wall_clock_ms),
            memory_mib,
        }
    }

    #[tokio::test]
    async fn output_and_exit_code_come_back() {
        let dir = tempfile::tempdir().unwrap();
        let out = run(
            Path::new("/bin/sh"),
            &["-c", "echo out; echo err >&2; pwd; exit 3"],
            &[] as &[(String, String)],
            dir.path(),
            limits(10_000, 512),
        )
        .await
        .unwrap();
        assert_eq!(out.code, Some(3));
        assert!(!out.success());
        let pwd = dir.path().canonicalize().unwrap();
        assert_eq!(out.stdout, format!("out\n{}\n", pwd.display()));
        assert_eq!(out.stderr, "err\n");
    }

    #[tokio::test]
    async fn a_compiler_that_never_ends_is_killed_with_its_children() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("survived");
        let script = format!("(sleep 3; touch {}) & sleep 30", marker.display());
        let out = run(
            Path::new("/bin/sh"),
            &["-c", &script],
            &[] as &[(String, String)],
            dir.path(),
            limits(500, 512),
        )
        .await
        .unwrap();
        assert!(out.timed_out);
        assert!(out.elapsed < Duration::from_secs(5), "{:?}", out.elapsed);
        tokio::time::sleep(Duration::from_millis(3500)).await;
        assert!(
            !marker.exists(),
            "a child of the compiler outlived the limit"
        );
    }

    #[tokio::test]
    async fn memory_beyond_the_limit_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        // A 64 MiB buffer in a process allowed 16 MiB of data.
        let greedy = "dd if=/dev/zero of=/dev/null bs=64M count=1";
        let out = run(
            Path::new("/bin/sh"),
            &["-c", greedy],
            &[] as &[(String, String)],
            dir.path(),
            limits(20_000, 16),
        )
        .await
        .unwrap();
        assert!(!out.success(), "{out:?}");
        assert!(out.stderr.contains("memory exhausted"), "{out:?}");
        let fine = run(
            Path::new("/bin/sh"),
            &["-c", greedy],
            &[] as &[(String, String)],
            dir.path(),
            limits(20_000, 512),
        )
        .await
        .unwrap();
        assert!(fine.success(), "{fine:?}");
    }
}
