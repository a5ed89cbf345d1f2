//! `openlegion-vm-init`: process 1 of an agent's microVM, after the initramfs's busybox
//! script has loaded the virtio modules and mounted the root, `/data`, `/run` and `/tmp`.
//!
//! It reads what the host handed over ([`Handoff`]), lays out `/run/mesh` as a container
//! agent sees it (its socket directory, the token in a file the agent deletes once read,
//! the project brief), bridges that directory's sockets to the host over the link port,
//! starts the agent as its unprivileged user with its output on the log port, and reaps
//! every orphan. When the agent exits or the host closes the link, it stops the agent,
//! unmounts `/data` and reboots, which ends QEMU (`-no-reboot`).
//!
//! It logs to the console (the VM's serial port, `console.log` on the host).

mod ports;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

use nix::sys::resource::{Resource, setrlimit};
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{Gid, Pid, Uid};
use openlegion_protocol::env;
use openlegion_vmlink::{
    Ended, HANDOFF_PATH, Handoff, LINK_PORT, LOG_PORT, SEEDS_DIR, Side, bridge,
};
use tokio::signal::unix::{SignalKind, signal};

/// The agent's directories, as in a container.
const RUN: &str = "/run/mesh";
const DATA: &str = "/data";
const AGENT: &str = "/openlegion-agent";
/// How long the agent gets to exit after SIGTERM.
const GRACE: Duration = Duration::from_secs(5);
/// The agent's processes and threads, as a container's `pids_limit`: a fork bomb from its
/// `exec` tool is refused there instead of filling the VM's memory and process table.
const MAX_PROCESSES: u64 = 256;

macro_rules! say {
    ($($arg:tt)*) => { eprintln!("openlegion-vm-init: {}", format_args!($($arg)*)) };
}

fn main() -> ExitCode {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    match runtime {
        Ok(rt) => match rt.block_on(run()) {
            Ok(why) => say!("{why}; shutting down"),
            Err(e) => say!("{e}; shutting down"),
        },
        Err(e) => say!("cannot start the runtime: {e}"),
    }
    power_off()
}

/// Why the VM goes down.
async fn run() -> Result<String, String> {
    let handoff = take_handoff()?;
    if let Err(e) = nix::unistd::sethostname(&handoff.agent) {
        say!("cannot set the host name: {e}");
    }
    if handoff.precompile {
        return precompile();
    }
    let env = prepare_run_dir(&handoff)?;
    limit_processes()?;
    let link = ports::open_link(LINK_PORT).await?;
    let log = ports::open_log(LOG_PORT).await?;
    // Watch children before there is one, so an agent that dies at once is not missed.
    let mut children =
        signal(SignalKind::child()).map_err(|e| format!("cannot watch children: {e}"))?;
    let agent = spawn_agent(&handoff, env, log)?;
    say!("agent {} started (pid {agent})", handoff.agent);

    let (closed_tx, mut closed) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let ended = bridge(
            link,
            Side::Guest,
            &Path::new(RUN).join("mesh.sock"),
            &Path::new(RUN).join("agent.sock"),
            std::future::pending(),
        )
        .await;
        let _ = closed_tx.send(ended);
    });
    let why = loop {
        tokio::select! {
            _ = children.recv() => {
                if let Some(status) = reap(Some(agent)) {
                    break format!("the agent exited ({status:?})");
                }
            }
            ended = &mut closed => {
                break match ended {
                    Ok(Ok(Ended::Closed | Ended::Stopped)) => "the host closed the link".to_owned(),
                    Ok(Err(e)) => format!("the link failed: {e}"),
                    Err(_) => "the link task ended".to_owned(),
                };
            }
        }
    };
    stop_agent(agent);
    Ok(why)
}

/// Compiles the agent's built-in skills into [`SEEDS_DIR`] (output on the console).
fn precompile() -> Result<String, String> {
    let status = std::process::Command::new(AGENT)
        .arg("precompile")
        .arg(SEEDS_DIR)
        .env_clear()
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .status()
        .map_err(|e| format!("cannot run {AGENT} precompile: {e}"))?;
    reap(None);
    if !status.success() {
        return Err(format!("{AGENT} precompile failed ({status})"));
    }
    Ok(format!("the built-in skills are compiled into {SEEDS_DIR}"))
}

fn take_handoff() -> Result<Handoff, String> {
    let text = std::fs::read_to_string(HANDOFF_PATH)
        .map_err(|e| format!("cannot read {HANDOFF_PATH}: {e}"))?;
    // Read once: nothing in the guest finds the token there afterwards.
    let _ = std::fs::remove_file(HANDOFF_PATH);
    serde_json::from_str(&text).map_err(|e| format!("{HANDOFF_PATH}: {e}"))
}

/// Makes `/run/mesh` the agent's (0700) with its token file and project brief; returns
/// the agent's environment with the token replaced by the file's path.
fn prepare_run_dir(handoff: &Handoff) -> Result<Vec<(String, String)>, String> {
    let io = |what: &str, e: std::io::Error| format!("{what}: {e}");
    let (uid, gid) = (
        Some(Uid::from_raw(handoff.uid)),
        Some(Gid::from_raw(handoff.gid)),
    );
    let run = Path::new(RUN);
    for dir in [run.to_owned(), run.join("cache")] {
        std::fs::create_dir_all(&dir).map_err(|e| io(RUN, e))?;
        nix::unistd::chown(&dir, uid, gid).map_err(|e| format!("chown {}: {e}", dir.display()))?;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| io(RUN, e))?;
    }
    let mut env: Vec<(String, String)> = Vec::with_capacity(handoff.env.len() + 1);
    for (key, value) in &handoff.env {
        if key == env::MESH_AUTH_TOKEN {
            let path = run.join("token");
            std::fs::write(&path, value).map_err(|e| io("the token file", e))?;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| io("the token file", e))?;
            nix::unistd::chown(&path, uid, gid).map_err(|e| format!("chown the token: {e}"))?;
            env.push((
                env::MESH_AUTH_TOKEN_FILE.to_owned(),
                path.display().to_string(),
            ));
        } else {
            env.push((key.clone(), value.clone()));
        }
    }
    if let Some(brief) = &handoff.project_brief {
        std::fs::write(run.join("PROJECT.md"), brief).map_err(|e| io("PROJECT.md", e))?;
    }
    Ok(env)
}

/// Sets `RLIMIT_NPROC` on this process, which the agent inherits. The kernel counts it per
/// user and exempts root: init and what it runs as root are not bound, the agent's user is,
/// and QEMU has no cgroup inside the guest to bound it otherwise.
fn limit_processes() -> Result<(), String> {
    setrlimit(Resource::RLIMIT_NPROC, MAX_PROCESSES, MAX_PROCESSES)
        .map_err(|e| format!("cannot limit the agent's processes: {e}"))
}

fn spawn_agent(
    handoff: &Handoff,
    env: Vec<(String, String)>,
    log: std::fs::File,
) -> Result<Pid, String> {
    let out = log.try_clone().map_err(|e| format!("the log port: {e}"))?;
    let child = std::process::Command::new(AGENT)
        .env_clear()
        .envs(env)
        .current_dir(DATA)
        .uid(handoff.uid)
        .gid(handoff.gid)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(log)
        .spawn()
        .map_err(|e| format!("cannot start {AGENT}: {e}"))?;
    // Reaped by `reap` (process 1 reaps everything), never through `child`.
    Ok(Pid::from_raw(child.id() as i32))
}

/// Reaps every exited child; returns the status of `agent` if it was among them.
fn reap(agent: Option<Pid>) -> Option<WaitStatus> {
    let mut agent_status = None;
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(_) => return agent_status,
            Ok(status) => {
                if status.pid().is_some() && status.pid() == agent {
                    agent_status = Some(status);
                }
            }
        }
    }
}

/// SIGTERM to the agent, a grace period, then SIGKILL to everything left.
fn stop_agent(agent: Pid) {
    if kill(agent, Signal::SIGTERM).is_ok() {
        let deadline = Instant::now() + GRACE;
        while Instant::now() < deadline {
            if reap(Some(agent)).is_some() || kill(agent, None).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    // Process 1 is spared by kill(-1).
    let _ = kill(Pid::from_raw(-1), Signal::SIGKILL);
    std::thread::sleep(Duration::from_millis(100));
    reap(None);
}

/// Flushes and unmounts `/data`, then reboots, which QEMU (`-no-reboot`) takes as the end.
fn power_off() -> ExitCode {
    nix::unistd::sync();
    if let Err(e) = nix::mount::umount(DATA) {
        say!("cannot unmount {DATA}: {e}; remounting it read-only");
        let _ = nix::mount::mount(
            None::<&str>,
            DATA,
            None::<&str>,
            nix::mount::MsFlags::MS_REMOUNT | nix::mount::MsFlags::MS_RDONLY,
            None::<&str>,
        );
    }
    nix::unistd::sync();
    let _ = nix::sys::reboot::reboot(nix::sys::reboot::RebootMode::RB_AUTOBOOT);
    // Not reached in a VM; outside one (run by hand) this is where it ends.
    ExitCode::FAILURE
}
