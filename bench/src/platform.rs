//! A whole platform for a benchmark: the mock LLM, a mesh started by `openlegion start`
//! and its agents (release binaries beside the benchmark's own), driven over HTTP as the
//! operator.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

/// A child process killed when dropped.
#[derive(Debug)]
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The mock LLM and a mesh with agent `a` (process backend) answering.
#[derive(Debug)]
pub struct Platform {
    _mesh: Proc,
    _mock: Proc,
    pub mock_url: String,
    pub url: String,
    pub token: String,
    pub http: reqwest::Client,
    /// Holds config/ and the state directory (.openlegion/).
    pub dir: tempfile::TempDir,
}

/// Every agent may call the LLM, nothing more.
const DEFAULT_PERMISSIONS: &str = r#"{"permissions": {"default": {"allowed_apis": ["llm"]}}}"#;

impl Platform {
    /// Starts it; `runtime` lines go under `runtime:` in mesh.yaml, `env` to the mesh.
    pub async fn start(runtime: &str, env: &[(&str, &Path)]) -> Result<Self> {
        Self::start_isolated("process", runtime, env, Duration::from_secs(60)).await
    }

    /// [`start`](Self::start) with the agent under `isolation`, waiting up to `limit` for
    /// it (a VM's first start builds its root disk).
    pub async fn start_isolated(
        isolation: &str,
        runtime: &str,
        env: &[(&str, &Path)],
        limit: Duration,
    ) -> Result<Self> {
        Self::start_within(
            &format!("  isolation: {isolation}\n{runtime}"),
            "",
            DEFAULT_PERMISSIONS,
            env,
            limit,
        )
        .await
    }

    /// Starts it with `runtime` lines under `runtime:` (the isolation among them), `yaml`
    /// sections appended to mesh.yaml, and `permissions` as permissions.json.
    pub async fn start_with(
        runtime: &str,
        yaml: &str,
        permissions: &str,
        env: &[(&str, &Path)],
    ) -> Result<Self> {
        Self::start_within(runtime, yaml, permissions, env, Duration::from_secs(60)).await
    }

    /// [`start_with`](Self::start_with), waiting up to `limit` for the mesh and the agent.
    async fn start_within(
        runtime: &str,
        yaml: &str,
        permissions: &str,
        env: &[(&str, &Path)],
        limit: Duration,
    ) -> Result<Self> {
        let exe = std::env::current_exe()?;
        let mut mock = Command::new(exe.with_file_name("mock-llm"))
            .args(["--port", "0"])
            .stdout(Stdio::piped())
            .spawn()?;
        let mut line = String::new();
        BufReader::new(mock.stdout.take().context("mock stdout")?).read_line(&mut line)?;
        let mock_proc = Proc(mock);
        let mock_url = line
            .trim()
            .strip_prefix("listening on ")
            .context("mock address")?
            .to_owned();
        let dir = tempfile::tempdir()?;
        let config = dir.path().join("config");
        std::fs::create_dir(&config)?;
        let agent_bin: PathBuf = exe.with_file_name("openlegion-agent");
        std::fs::write(
            config.join("mesh.yaml"),
            format!(
                "mesh:\n  port: 0\nllm:\n  default_model: openai/bench\nruntime:\n  agent_binary: {}\n{runtime}{yaml}",
                agent_bin.display()
            ),
        )?;
        std::fs::write(
            config.join("agents.yaml"),
            "agents:\n  a:\n    role: bench\n    budget: {daily_usd: 1000000, monthly_usd: 1000000}\n",
        )?;
        std::fs::write(config.join("permissions.json"), permissions)?;
        let mut mesh = Command::new(exe.with_file_name("openlegion"));
        mesh.arg("--config")
            .arg(&config)
            .arg("start")
            .env("RUST_LOG", "warn")
            .env("OPENLEGION_CRED_OPENAI_API_BASE", format!("{mock_url}/v1"))
            .env("OPENLEGION_CRED_OPENAI_API_KEY", "sk-bench-0000000000000")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (key, value) in env {
            mesh.env(key, value);
        }
        let mesh = Proc(mesh.spawn()?);
        let (url, token) = crate::started_mesh(&dir.path().join(".openlegion"), limit).await?;
        let platform = Self {
            _mesh: mesh,
            _mock: mock_proc,
            mock_url,
            url,
            token,
            http: openlegion_mesh::http_client::builder()
                .timeout(Duration::from_secs(600))
                .build()?,
            dir,
        };
        let deadline = Instant::now() + limit;
        while !platform
            .http
            .get(format!("{}/mesh/agents/a/api/status", platform.url))
            .bearer_auth(&platform.token)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            if Instant::now() > deadline {
                bail!("the agent did not start");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(platform)
    }

    /// Appends model turns to the mock's script (`{"type": "text"|"tool_calls", …}`).
    pub async fn script(&self, turns: Vec<Value>) -> Result<()> {
        self.http
            .post(format!("{}/_mock/script", self.mock_url))
            .json(&json!({ "turns": turns }))
            .send()
            .await?
            .error_for_status()?;
        Ok(())
    }

    /// One chat turn with agent `a`; its reply.
    pub async fn chat(&self, message: &str) -> Result<Value> {
        Ok(self
            .http
            .post(format!("{}/mesh/agents/a/api/chat", self.url))
            .bearer_auth(&self.token)
            .json(&json!({ "message": message }))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?)
    }

    /// Stops the mesh cleanly (SIGTERM, then waits up to 2 minutes), so that it removes what
    /// it started (sub-agents' containers and volumes included); the mock stops on drop.
    pub fn stop(mut self) -> Result<()> {
        use nix::sys::signal::{Signal, kill};
        kill(
            nix::unistd::Pid::from_raw(self._mesh.0.id() as i32),
            Signal::SIGTERM,
        )?;
        let deadline = Instant::now() + Duration::from_secs(120);
        while self._mesh.0.try_wait()?.is_none() {
            if Instant::now() > deadline {
                bail!("the mesh did not stop within 2 minutes");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    /// The mesh's process id.
    pub fn mesh_pid(&self) -> u32 {
        self._mesh.0.id()
    }

    /// Agent `a`'s data directory (its `/data`).
    pub fn agent_data(&self) -> PathBuf {
        self.dir.path().join(".openlegion/agents/a/data")
    }
}
