//! `openlegion stop`: SIGTERM the mesh and wait until it has drained and exited.

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use openlegion_mesh::config::Config;
use openlegion_mesh::state_dir::StateDir;

pub(crate) fn run(config_dir: &Path, timeout: u64) -> Result<ExitCode> {
    let config = Config::load(config_dir)?;
    let state = StateDir::new(config.state_dir());
    if !state.is_locked() {
        let _ = std::fs::remove_file(state.pid_file());
        println!("the mesh is not running");
        return Ok(ExitCode::SUCCESS);
    }
    let pid: i32 = StateDir::read_trimmed(&state.pid_file())
        .context("the mesh holds its lock but has no pid file")?
        .parse()
        .context("the pid file does not hold a pid")?;
    kill(Pid::from_raw(pid), Signal::SIGTERM)
        .with_context(|| format!("cannot signal pid {pid}"))?;
    // The lock is released when the process is gone, however it ends.
    let deadline = Instant::now() + Duration::from_secs(timeout);
    while state.is_locked() {
        if Instant::now() > deadline {
            bail!("the mesh (pid {pid}) did not stop within {timeout}s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    println!("mesh stopped (pid {pid})");
    Ok(ExitCode::SUCCESS)
}
