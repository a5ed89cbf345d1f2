//! The process backend: each agent is a child process of the mesh with its own data and
//! socket directories, an environment stripped to what the agent needs, and a supervisor
//! that restarts it with backoff when it dies.
//!
//! It gives no OS isolation: the agent runs as the mesh's user with the mesh's view of the
//! machine. Its tools are still confined by wasmtime, and `exec` and `create_skill` are
//! refused unless `runtime.allow_exec` and `runtime.allow_skill_compile` say otherwise. It exists for development and tests, and must be
//! chosen explicitly.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use backon::{BackoffBuilder, ExponentialBuilder};
use futures_util::future::BoxFuture;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::process::{Child, Command};
use tokio_util::sync::CancellationToken;

use super::{AgentSpec, Inside, RuntimeBackend, RuntimeError};

/// How long an agent gets to exit after SIGTERM before it is killed.
const GRACE: Duration = Duration::from_secs(10);
/// A run this long counts as healthy: the restart backoff starts over.
const STABLE: Duration = Duration::from_secs(60);

#[derive(Debug)]
struct Supervised {
    stop: CancellationToken,
    /// The pid of the current child (0 between restarts).
    pid: Arc<Mutex<u32>>,
    done: tokio::task::JoinHandle<()>,
}

#[derive(Debug)]
pub struct ProcessBackend {
    binary: PathBuf,
    agents: tokio::sync::Mutex<HashMap<String, Supervised>>,
}

impl ProcessBackend {
    /// Agents run `binary` (the `openlegion-agent` executable).
    pub fn new(binary: PathBuf) -> Self {
        tracing::warn!(
            "isolation: process — agents run as plain processes with no OS isolation; \
             use it for development only"
        );
        Self {
            binary,
            agents: tokio::sync::Mutex::new(HashMap::new()),
        }
    }
}

/// Starts one agent process: empty environment but the spec's, its data directory as the
/// working directory, output appended to `agent.log` in its run directory.
fn spawn(binary: &Path, spec: &AgentSpec) -> std::io::Result<Child> {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(spec.run_dir.join("agent.log"))?;
    let mut cmd = Command::new(binary);
    cmd.env_clear()
        .envs(spec.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .current_dir(&spec.data_dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .kill_on_drop(true)
        .process_group(0);
    cmd.spawn()
}

fn restart_delays() -> impl Iterator<Item = Duration> {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_secs(1))
        .with_max_delay(Duration::from_secs(60))
        .without_max_times()
        .build()
}

/// SIGTERM, a grace period, then SIGKILL.
async fn terminate(child: &mut Child, agent: &str) {
    if let Some(pid) = child.id() {
        let _ = kill(Pid::from_raw(pid as i32), Signal::SIGTERM);
        if tokio::time::timeout(GRACE, child.wait()).await.is_ok() {
            return;
        }
        tracing::warn!(
            agent,
            "agent ignored SIGTERM for {}s; killing it",
            GRACE.as_secs()
        );
    }
    let _ = child.kill().await;
}

impl RuntimeBackend for ProcessBackend {
    fn name(&self) -> &'static str {
        "process"
    }

    fn inside(&self, spec: &AgentSpec) -> Inside {
        Inside {
            data_dir: spec.data_dir.clone(),
            run_dir: spec.run_dir.clone(),
            // The agent dies with the mesh: nothing else would supervise it.
            env: [(
                openlegion_protocol::env::EXIT_WITH_PARENT.to_owned(),
                "1".to_owned(),
            )]
            .into_iter()
            // Where the skill compilers are, and compiled code made ahead of time by
            // `openlegion-agent warm` (a container's image says both itself).
            .chain(
                ["SKILL_COMPILERS", "SKILL_CACHE_SEED_DIR"]
                    .into_iter()
                    .filter_map(|name| {
                        std::env::var(name)
                            .ok()
                            .filter(|v| !v.is_empty())
                            .map(|v| (name.to_owned(), v))
                    }),
            )
            .collect(),
        }
    }

    fn restart<'a>(&'a self, spec: &'a AgentSpec) -> BoxFuture<'a, Result<(), RuntimeError>> {
        Box::pin(async move {
            // Killing the process is enough: its supervisor starts a fresh one.
            let pid = self.pid(spec.id.as_str()).await;
            match pid {
                Some(pid) => {
                    let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
                    Ok(())
                }
                None => {
                    let _ = self.stop(spec.id.as_str()).await;
                    self.start(spec).await
                }
            }
        })
    }

    fn purge<'a>(&'a self, spec: &'a AgentSpec) -> BoxFuture<'a, Result<(), RuntimeError>> {
        Box::pin(async move {
            match std::fs::remove_dir_all(&spec.data_dir) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(RuntimeError::Stop {
                    agent: spec.id.to_string(),
                    problem: e.to_string(),
                }),
            }
        })
    }

    fn start<'a>(&'a self, spec: &'a AgentSpec) -> BoxFuture<'a, Result<(), RuntimeError>> {
        Box::pin(async move {
            let agent = spec.id.to_string();
            let err = |problem: String| RuntimeError::Start {
                agent: agent.clone(),
                problem,
            };
            if !self.binary.is_file() {
                return Err(err(format!(
                    "the agent binary {} does not exist (build it with cargo build -p openlegion-agent, or set runtime.agent_binary)",
                    self.binary.display()
                )));
            }
            let mut agents = self.agents.lock().await;
            if agents.contains_key(&agent) {
                return Ok(());
            }
            let mut child = spawn(&self.binary, spec).map_err(|e| err(e.to_string()))?;
            let stop = CancellationToken::new();
            let pid = Arc::new(Mutex::new(child.id().unwrap_or(0)));
            let (spec, stopping, pid_slot) = (spec.clone(), stop.clone(), Arc::clone(&pid));
            let binary = self.binary.clone();
            let done = tokio::spawn(async move {
                let mut delays = restart_delays();
                loop {
                    let started = Instant::now();
                    tokio::select! {
                        status = child.wait() => {
                            *pid_slot.lock().expect("pid lock") = 0;
                            tracing::warn!(agent = %spec.id, ?status, "agent exited; restarting");
                        }
                        () = stopping.cancelled() => {
                            terminate(&mut child, spec.id.as_str()).await;
                            return;
                        }
                    }
                    if started.elapsed() > STABLE {
                        delays = restart_delays();
                    }
                    let delay = delays.next().unwrap_or(Duration::from_secs(60));
                    tokio::select! {
                        () = tokio::time::sleep(delay) => {}
                        () = stopping.cancelled() => return,
                    }
                    match spawn(&binary, &spec) {
                        Ok(c) => {
                            crate::counters::agent_restarted(spec.id.as_str());
                            *pid_slot.lock().expect("pid lock") = c.id().unwrap_or(0);
                            child = c;
                        }
                        Err(e) => {
                            tracing::error!(agent = %spec.id, error = %e, "cannot restart agent; giving up");
                            return;
                        }
                    }
                }
            });
            agents.insert(agent, Supervised { stop, pid, done });
            Ok(())
        })
    }

    fn stop<'a>(&'a self, agent: &'a str) -> BoxFuture<'a, Result<(), RuntimeError>> {
        Box::pin(async move {
            let supervised = self.agents.lock().await.remove(agent);
            let Some(s) = supervised else {
                return Err(RuntimeError::NotRunning {
                    agent: agent.to_owned(),
                });
            };
            s.stop.cancel();
            let _ = s.done.await;
            tracing::info!(agent, "agent stopped");
            Ok(())
        })
    }

    fn stop_all(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let all: Vec<String> = self.agents.lock().await.keys().cloned().collect();
            let stops = all.iter().map(|a| self.stop(a));
            futures_util::future::join_all(stops).await;
        })
    }
}

impl ProcessBackend {
    /// The pid of `agent`'s current process, if it runs (for tests and status).
    pub async fn pid(&self, agent: &str) -> Option<u32> {
        let agents = self.agents.lock().await;
        let pid = *agents.get(agent)?.pid.lock().expect("pid lock");
        (pid != 0).then_some(pid)
    }
}
