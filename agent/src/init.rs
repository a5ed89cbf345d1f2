//! The agent as PID 1 of its container. Something there must reap the orphans of the
//! commands `exec` runs (the children of a timed-out command, a server left in the
//! background): unreaped, they stay zombies until the pids limit refuses every new command.
//! So PID 1 stays a small init — it reaps every child, forwards SIGTERM/SIGINT/SIGHUP, and
//! exits with the agent's status — and runs the agent itself as its child.
//!
//! Both processes make themselves non-dumpable: a command runs as the same user, and this
//! keeps it from reading their environment (the agent's mesh token) through /proc or from
//! attaching to them.

use std::process::{Command, ExitCode};

use anyhow::{Context, Result};
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::Pid;

/// Set in the agent started by the init, so it does not start another.
const CHILD: &str = "OPENLEGION_AGENT_UNDER_INIT";

/// Hides this process from others of its user. Then, if this process is PID 1 (and not
/// already the init's child), runs the agent as a child and returns its exit code once it
/// ends; `None` means: carry on as the agent.
pub(crate) fn run_as_init_if_pid1() -> Result<Option<ExitCode>> {
    nix::sys::prctl::set_dumpable(false).context("prctl(PR_SET_DUMPABLE)")?;
    if nix::unistd::getpid() != Pid::from_raw(1) || std::env::var_os(CHILD).is_some() {
        return Ok(None);
    }
    let agent = this_program()
        .args(std::env::args_os().skip(1))
        .env(CHILD, "1")
        .spawn()
        .context("cannot start the agent under its init")?;
    let agent = Pid::from_raw(agent.id() as i32);
    forward_signals(agent)?;
    loop {
        match waitpid(Pid::from_raw(-1), None) {
            Ok(WaitStatus::Exited(pid, code)) if pid == agent => {
                return Ok(Some(ExitCode::from(code.clamp(0, 255) as u8)));
            }
            Ok(WaitStatus::Signaled(pid, signal, _)) if pid == agent => {
                return Ok(Some(ExitCode::from(128 + signal as u8)));
            }
            // An orphan reaped, or a stop/continue report.
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e).context("waitpid"),
        }
    }
}

/// A command that runs this program again. Usually `/proc/self/exe`; but when the image
/// starts the agent through its own copy of the dynamic loader (`ld-linux… --library-path
/// DIR agent`, so that it does not depend on the image's glibc), that is the loader, and the
/// agent is `argv[0]`.
fn this_program() -> Command {
    let exe = std::env::current_exe().unwrap_or_default();
    let is_loader = exe
        .file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with("ld-linux"));
    match (is_loader, std::env::args_os().next(), exe.parent()) {
        (true, Some(program), Some(libs)) => {
            let mut command = Command::new(&exe);
            command.arg("--library-path").arg(libs).arg(program);
            command
        }
        _ => Command::new("/proc/self/exe"),
    }
}

/// Passes the signals that stop or reload the agent on to it (PID 1 ignores signals it has
/// no handler for, so without this `docker stop` would wait out its grace period).
fn forward_signals(agent: Pid) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    let mut streams = Vec::new();
    for (kind, signal) in [
        (
            tokio::signal::unix::SignalKind::terminate(),
            Signal::SIGTERM,
        ),
        (tokio::signal::unix::SignalKind::interrupt(), Signal::SIGINT),
        (tokio::signal::unix::SignalKind::hangup(), Signal::SIGHUP),
    ] {
        let stream = runtime.block_on(async { tokio::signal::unix::signal(kind) })?;
        streams.push((stream, signal));
    }
    std::thread::Builder::new()
        .name("init-signals".into())
        .spawn(move || {
            runtime.block_on(async move {
                let forwards = streams.into_iter().map(|(mut stream, signal)| async move {
                    while stream.recv().await.is_some() {
                        let _ = kill(agent, signal);
                    }
                });
                futures_util::future::join_all(forwards).await;
            });
        })?;
    Ok(())
}
