//! A real mesh process on loopback, with its own temporary config and state directories.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::{Value, json};

use crate::bins::binary;
use crate::client::Client;

/// What to put in the mesh's config directory.
#[derive(Debug, Clone)]
pub struct MeshOptions {
    /// permissions.json; `None` leaves the file out (deny-all).
    pub permissions: Option<Value>,
    /// agents.yaml, verbatim.
    pub agents_yaml: String,
    /// Lines appended under `mesh:` in mesh.yaml (indented by the caller).
    pub mesh_settings: String,
    /// Top-level sections appended to mesh.yaml (`llm:` …), verbatim.
    pub mesh_yaml: String,
    /// Extra environment variables for the mesh process (credentials).
    pub env: Vec<(String, String)>,
}

impl Default for MeshOptions {
    fn default() -> Self {
        Self {
            permissions: Some(json!({"permissions": {}})),
            agents_yaml: "agents: {}\n".into(),
            mesh_settings: String::new(),
            mesh_yaml: String::new(),
            env: Vec::new(),
        }
    }
}

impl MeshOptions {
    pub fn with_permissions(permissions: Value) -> Self {
        Self {
            permissions: Some(json!({ "permissions": permissions })),
            ..Self::default()
        }
    }
}

/// A running `openlegion start` child process. Killed when dropped.
#[derive(Debug)]
pub struct MeshProcess {
    /// Holds `config/`, the state directory `.openlegion/` and the log `mesh.out`.
    dir: PathBuf,
    /// `dir`, when the mesh made it (removed when dropped).
    _made: Option<tempfile::TempDir>,
    env: Vec<(String, String)>,
    child: Option<Child>,
    url: String,
    operator_token: String,
    /// Whether its agents run in containers (removed with it).
    containers: bool,
}

impl MeshProcess {
    pub async fn start(options: MeshOptions) -> Self {
        let made = tempfile::tempdir().expect("temp dir");
        let mut mesh = Self::start_in(made.path(), options).await;
        mesh._made = Some(made);
        mesh
    }

    /// [`start`](Self::start) in the directory `dir` (which the caller removes), so that a
    /// test can prepare it first: mount a small file system at `dir/.openlegion`, say.
    pub async fn start_in(dir: &Path, options: MeshOptions) -> Self {
        let config = dir.join("config");
        std::fs::create_dir(&config).unwrap();
        std::fs::write(
            config.join("mesh.yaml"),
            format!(
                "mesh:\n  host: 127.0.0.1\n  port: 0\n{}{}",
                options.mesh_settings,
                // Agents listed in agents.yaml are not started unless a test asks for a
                // runtime (see `agent_mesh`).
                if options.mesh_yaml.contains("runtime:") {
                    options.mesh_yaml.clone()
                } else {
                    format!("{}runtime:\n  isolation: external\n", options.mesh_yaml)
                }
            ),
        )
        .unwrap();
        std::fs::write(config.join("agents.yaml"), &options.agents_yaml).unwrap();
        if let Some(perms) = &options.permissions {
            std::fs::write(config.join("permissions.json"), perms.to_string()).unwrap();
        }
        let containers = [&options.mesh_yaml, &options.agents_yaml]
            .iter()
            .any(|y| y.contains("isolation: docker") || y.contains("isolation: gvisor"))
            // Unset: Docker when an engine answers.
            || !options.mesh_yaml.contains("isolation:");
        let mut mesh = Self {
            dir: dir.to_owned(),
            _made: None,
            containers,
            env: options.env,
            child: None,
            url: String::new(),
            operator_token: String::new(),
        };
        mesh.spawn().await;
        mesh
    }

    pub fn config_dir(&self) -> PathBuf {
        self.dir.join("config")
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.join(".openlegion")
    }

    /// The id that labels this mesh's containers and volumes (`openlegion.instance`).
    pub fn instance(&self) -> String {
        openlegion_mesh::fleet::instance_id(&self.state_dir())
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("mesh is running").id()
    }

    /// Starts the process and waits until it answers `/mesh/health`.
    async fn spawn(&mut self) {
        let addr_file = self.state_dir().join("mesh.addr");
        let _ = std::fs::remove_file(&addr_file);
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .unwrap();
        let mut command = Command::new(binary("openlegion-mesh", "openlegion"));
        // Credentials come from the test alone, never from the developer's shell: without
        // any, the mesh behaves differently (the local model stands in).
        for (key, _) in std::env::vars() {
            if key.starts_with("OPENLEGION_CRED_") || key.starts_with("OPENLEGION_SYSTEM_") {
                command.env_remove(key);
            }
        }
        let child = command
            .arg("--config")
            .arg(self.config_dir())
            .arg("start")
            .env("RUST_LOG", "info,openlegion_mesh=debug")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("spawn the mesh");
        self.child = Some(child);
        let probe = Client::new("http://127.0.0.1:1", None);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!(
                    "the mesh exited during start-up ({status}):\n{}",
                    self.log()
                );
            }
            if let Ok(url) = std::fs::read_to_string(&addr_file) {
                let url = url.trim().to_owned();
                let ok = probe
                    .http()
                    .get(format!("{url}/mesh/health"))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                if ok {
                    self.url = url;
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "the mesh did not start:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.operator_token = std::fs::read_to_string(self.state_dir().join("operator.token"))
            .unwrap()
            .trim()
            .to_owned();
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("mesh.out")
    }

    /// Everything the mesh has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// A client authenticated as the operator.
    pub fn operator(&self) -> Client {
        Client::new(&self.url, Some(&self.operator_token))
    }

    /// A client with no token.
    pub fn anonymous(&self) -> Client {
        Client::new(&self.url, None)
    }

    /// Registers agent `id` as the operator and returns a client holding its token.
    pub async fn agent(&self, id: &str) -> Client {
        let reply = self
            .operator()
            .post("/mesh/register", &json!({ "agent_id": id }))
            .await;
        let body = reply.expect(200);
        let token = body["token"].as_str().expect("a token for a new agent");
        Client::new(&self.url, Some(token))
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill9(&mut self) {
        let mut child = self.child.take().expect("mesh is running");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// Starts the mesh again on the same directories.
    pub async fn restart(&mut self) {
        assert!(self.child.is_none(), "stop the mesh first");
        self.spawn().await;
    }

    pub fn signal(&self, signal: Signal) {
        kill(Pid::from_raw(self.pid() as i32), signal).unwrap();
    }

    /// SIGTERM, then wait (at most 30 s) for the process to exit.
    pub fn terminate(&mut self) -> ExitStatus {
        self.signal(Signal::SIGTERM);
        let mut child = self.child.take().unwrap();
        // A microVM under emulation gets up to 45 s to power off before QEMU is killed.
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the mesh did not exit after SIGTERM:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Writes `name` in the config directory.
    pub fn write_config(&self, name: &str, contents: &str) {
        std::fs::write(self.config_dir().join(name), contents).unwrap();
    }

    /// Runs the `openlegion` CLI against this mesh's config directory.
    pub fn cli(&self, args: &[&str]) -> Output {
        cli(&self.config_dir(), args)
    }
}

/// Runs `openlegion --config DIR start` and expects it to refuse within 20 s.
pub fn start_refuses(dir: &Path) -> String {
    let mut child = Command::new(binary("openlegion-mesh", "openlegion"))
        .arg("--config")
        .arg(dir)
        .arg("start")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("the mesh started with a broken config");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs the `openlegion` CLI with `--config dir`.
pub fn cli(dir: &Path, args: &[&str]) -> Output {
    Command::new(binary("openlegion-mesh", "openlegion"))
        .arg("--config")
        .arg(dir)
        .args(args)
        .output()
        .expect("run openlegion")
}

impl Drop for MeshProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if self.containers {
            crate::docker::remove_instance(&self.instance());
        }
    }
}
