//! Meshes that run real agents (the `openlegion-agent` binary on the process backend),
//! talking to a scripted mock LLM.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use openlegion_mock_llm::MockLlm;
use serde_json::{Value, json};

use crate::bins::binary;
use crate::mesh::{MeshOptions, MeshProcess};

/// The model every test agent uses; the mock's queue for it is `MODEL_NAME`.
pub const MODEL: &str = "openai/mock";
pub const MODEL_NAME: &str = "mock";

/// Starts a mesh whose agents (in `agents_yaml`, each defaulting to [`MODEL`]) run as
/// processes and whose LLM is `mock`, and waits until every agent answers.
///
/// Every entry of `permissions` (and a `default` one, added if missing) is given the `llm`
/// service, which every agent needs to think.
pub async fn agent_mesh(mock: &MockLlm, agents_yaml: &str, permissions: Value) -> MeshProcess {
    agent_mesh_with(mock, agents_yaml, permissions, "").await
}

/// [`agent_mesh`] with more top-level sections of mesh.yaml (`http:` …).
pub async fn agent_mesh_with(
    mock: &MockLlm,
    agents_yaml: &str,
    permissions: Value,
    mesh_yaml: &str,
) -> MeshProcess {
    agent_mesh_env(mock, agents_yaml, permissions, mesh_yaml, Vec::new()).await
}

/// [`agent_mesh_with`], the mesh also getting the variables `env`.
pub async fn agent_mesh_env(
    mock: &MockLlm,
    agents_yaml: &str,
    permissions: Value,
    mesh_yaml: &str,
    env: Vec<(String, String)>,
) -> MeshProcess {
    agent_mesh_within(
        mock,
        agents_yaml,
        permissions,
        mesh_yaml,
        env,
        Duration::from_secs(60),
    )
    .await
}

/// [`agent_mesh_env`], waiting up to `limit` for each agent (VMs under emulation boot for
/// a while, and the first one builds its root disk).
pub async fn agent_mesh_within(
    mock: &MockLlm,
    agents_yaml: &str,
    permissions: Value,
    mesh_yaml: &str,
    env: Vec<(String, String)>,
    limit: Duration,
) -> MeshProcess {
    agent_mesh_at(None, mock, agents_yaml, permissions, mesh_yaml, env, limit).await
}

/// [`agent_mesh_with`] in the directory `dir`, prepared by the caller (see
/// [`MeshProcess::start_in`]).
pub async fn agent_mesh_in(
    dir: &Path,
    mock: &MockLlm,
    agents_yaml: &str,
    permissions: Value,
    mesh_yaml: &str,
) -> MeshProcess {
    let limit = Duration::from_secs(60);
    agent_mesh_at(
        Some(dir),
        mock,
        agents_yaml,
        permissions,
        mesh_yaml,
        Vec::new(),
        limit,
    )
    .await
}

async fn agent_mesh_at(
    dir: Option<&Path>,
    mock: &MockLlm,
    agents_yaml: &str,
    mut permissions: Value,
    mesh_yaml: &str,
    env: Vec<(String, String)>,
    limit: Duration,
) -> MeshProcess {
    let agent_bin = binary("openlegion-agent", "openlegion-agent");
    let entries = permissions
        .as_object_mut()
        .expect("permissions is an object");
    entries.entry("default").or_insert_with(|| json!({}));
    for entry in entries.values_mut() {
        entry
            .as_object_mut()
            .expect("an entry is an object")
            .entry("allowed_apis")
            .or_insert_with(|| json!(["llm"]));
    }
    let options = MeshOptions {
        permissions: Some(json!({ "permissions": permissions })),
        agents_yaml: agents_yaml.into(),
        mesh_yaml: format!(
            "llm:\n  default_model: {MODEL}\n  max_tokens: 512\n{}{mesh_yaml}",
            if mesh_yaml.contains("runtime:") {
                String::new()
            } else {
                format!(
                    "runtime:\n  isolation: process\n  agent_binary: {}\n",
                    agent_bin.display()
                )
            }
        ),
        env: [
            ("OPENLEGION_CRED_OPENAI_API_BASE".into(), mock.openai_base()),
            (
                "OPENLEGION_CRED_OPENAI_API_KEY".into(),
                "sk-test-agents-0000000000".into(),
            ),
        ]
        .into_iter()
        .chain(env)
        .collect(),
        ..MeshOptions::default()
    };
    let mesh = match dir {
        Some(dir) => MeshProcess::start_in(dir, options).await,
        None => MeshProcess::start(options).await,
    };
    let ids: Vec<String> = agents_yaml
        .lines()
        .filter(|l| l.starts_with("  ") && !l.starts_with("   ") && l.trim_end().ends_with(':'))
        .map(|l| l.trim().trim_end_matches(':').to_owned())
        .collect();
    for id in ids {
        mesh.wait_agent_within(&id, limit).await;
    }
    mesh
}

impl MeshProcess {
    /// The data directory of agent `id` (its `/data`).
    pub fn agent_data(&self, id: &str) -> PathBuf {
        self.state_dir().join("agents").join(id).join("data")
    }

    /// What agent `id` logged: its log file on the process backend, its container's output
    /// otherwise.
    pub fn agent_log(&self, id: &str) -> String {
        let file = self
            .state_dir()
            .join("agents")
            .join(id)
            .join("run/agent.log");
        if let Ok(log) = std::fs::read_to_string(file) {
            return log;
        }
        let container = format!("openlegion-{}-{id}", self.instance());
        match std::process::Command::new("docker")
            .args(["logs", &container])
            .output()
        {
            Ok(out) => format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
            Err(_) => String::new(),
        }
    }

    /// Waits until agent `id` answers `GET /status` through the mesh.
    pub async fn wait_agent(&self, id: &str) {
        self.wait_agent_within(id, Duration::from_secs(60)).await;
    }

    /// [`wait_agent`](Self::wait_agent) with a longer bound (a VM under emulation, or the
    /// first start that builds its disk).
    pub async fn wait_agent_within(&self, id: &str, limit: Duration) {
        let op = self.operator();
        let deadline = Instant::now() + limit;
        loop {
            let reply = op.get(&format!("/mesh/agents/{id}/api/status")).await;
            if reply.status == 200 {
                return;
            }
            let log = self.agent_log(id);
            assert!(
                Instant::now() < deadline,
                "agent {id} did not come up: {}\nagent log:\n{log}\nmesh log:\n{}",
                reply.body,
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The pid of agent `id`'s process (process backend), found by its working directory.
    pub fn agent_pid(&self, id: &str) -> i32 {
        self.running_agent_pid(id)
            .unwrap_or_else(|| panic!("no process for agent {id}"))
    }

    /// [`agent_pid`](Self::agent_pid), `None` while no process of agent `id` runs (between
    /// a crash and the restart).
    pub fn running_agent_pid(&self, id: &str) -> Option<i32> {
        let data = self.agent_data(id).canonicalize().ok()?;
        std::fs::read_dir("/proc")
            .ok()?
            .flatten()
            .find_map(|entry| {
                let pid = entry.file_name().to_string_lossy().parse::<i32>().ok()?;
                let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).ok()?;
                let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok()?;
                (cwd == data && exe.to_string_lossy().contains("openlegion-agent")).then_some(pid)
            })
    }

    /// Waits (up to `limit`) until agent `id` runs in a process other than `old` and
    /// answers through the mesh: the process backend restarting it after a crash.
    pub async fn wait_agent_restarted(&self, id: &str, old: i32, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            if self.running_agent_pid(id).is_some_and(|p| p != old)
                && self
                    .operator()
                    .get(&format!("/mesh/agents/{id}/api/status"))
                    .await
                    .status
                    == 200
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "agent {id} was not restarted:\n{}",
                self.agent_log(id)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// One chat turn with agent `id`; returns the ChatResponse JSON.
    pub async fn chat(&self, id: &str, message: &str) -> Value {
        chat_as(&self.operator(), id, message).await
    }

    /// [`chat`](Self::chat), waiting up to `timeout` for the answer (a model on the CPU).
    pub async fn chat_within(&self, id: &str, message: &str, timeout: Duration) -> Value {
        chat_as(&self.operator().with_timeout(timeout), id, message).await
    }
}

async fn chat_as(client: &crate::Client, id: &str, message: &str) -> Value {
    client
        .post(
            &format!("/mesh/agents/{id}/api/chat"),
            &json!({ "message": message }),
        )
        .await
        .expect(200)
}

/// On every container and volume the tests make; `.ci/run` removes what carries it at the
/// end, whatever a failed test left behind.
pub const TEST_LABEL: &str = "dev.openlegion.test";

/// The `runtime:` section of mesh.yaml that runs agents under `isolation` (`docker`,
/// `gvisor`) with the agent binary of this build; `extra` lines go under it.
pub fn container_runtime(isolation: &str, extra: &str) -> String {
    format!(
        "runtime:\n  isolation: {isolation}\n  agent_binary: {}\n  labels:\n    {TEST_LABEL}: \"1\"\n{extra}",
        binary("openlegion-agent", "openlegion-agent").display()
    )
}
