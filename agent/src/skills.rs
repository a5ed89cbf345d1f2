//! The agent's tools: its WebAssembly skills, loaded into the skill host, the bridge
//! through which their `mesh`, `http` and `browser` calls reach the mesh with the agent's identity,
//! and their `process` commands, run in this sandbox by `exec`.
//!
//! Built-in skills are compiled into this binary (see `build.rs`); skills the agent or the
//! operator adds live in `/data/skills/<name>/` and are hot-reloaded. Skills the agent
//! writes itself are compiled and loaded by `authoring`.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use openlegion_protocol::{
    ArtifactMeta, BrowserAction, BrowserReply, FetchRequest, FetchResponse, SearchRequest,
    SpawnRequest, ToolCounts,
};
use openlegion_skill_host::{
    BrowserCap, Capabilities, Capability, HttpCap, HttpRequest, HttpResponse, Manifest, MemoryCap,
    MeshCap, SkillHost, SkillHostSettings, ToolError,
};
use reqwest::Method;
use serde_json::{Value, json};

use crate::authoring::Authoring;
use crate::exec::Exec;
use crate::mesh_client::{MeshClient, MeshClientError};
use crate::tools::{ToolDef, Toolbox};

/// The built-in skills: (directory name, manifest YAML, component bytes).
pub(crate) mod builtin {
    include!(concat!(env!("OUT_DIR"), "/builtin_skills.rs"));
}

/// How the skills' `mesh` and `http` calls reach the mesh.
#[derive(Debug, Clone)]
struct Bridge {
    mesh: MeshClient,
}

fn text(e: MeshClientError) -> String {
    match e {
        MeshClientError::Status { detail, .. } => detail,
        other => other.to_string(),
    }
}

#[async_trait::async_trait]
impl MeshCap for Bridge {
    async fn read_state(&self, _skill: &str, key: &str) -> Result<Option<String>, String> {
        let mut segments = vec!["mesh", "blackboard"];
        segments.extend(key.split('/'));
        match self.mesh.get(&MeshClient::path(&segments, &[])).await {
            Ok(entry) => Ok(Some(entry.to_string())),
            Err(MeshClientError::Status { status: 404, .. }) => Ok(None),
            Err(e) => Err(text(e)),
        }
    }

    async fn write_state(
        &self,
        _skill: &str,
        key: &str,
        value_json: &str,
        ttl: Option<u32>,
    ) -> Result<String, String> {
        let value: Value =
            serde_json::from_str(value_json).map_err(|e| format!("value is not JSON: {e}"))?;
        let mut segments = vec!["mesh", "blackboard"];
        segments.extend(key.split('/'));
        let ttl = ttl.map(|t| t.to_string());
        let query: Vec<(&str, &str)> = ttl.iter().map(|t| ("ttl", t.as_str())).collect();
        let path = MeshClient::path(&segments, &query);
        self.mesh
            .call(Method::PUT, &path, Some(&value), Duration::from_secs(30))
            .await
            .map(|e| e.to_string())
            .map_err(text)
    }

    async fn list_state(&self, _skill: &str, prefix: &str) -> Result<String, String> {
        let path = MeshClient::path(&["mesh", "blackboard", ""], &[("prefix", prefix)]);
        self.mesh
            .get(&path)
            .await
            .map(|v| v.to_string())
            .map_err(text)
    }

    async fn publish(&self, _skill: &str, topic: &str, payload_json: &str) -> Result<u32, String> {
        let payload: Value =
            serde_json::from_str(payload_json).map_err(|e| format!("payload is not JSON: {e}"))?;
        let answer = self
            .mesh
            .post(
                "/mesh/publish",
                &json!({"topic": topic, "payload": payload}),
            )
            .await
            .map_err(text)?;
        Ok(answer["subscribers_notified"].as_u64().unwrap_or(0) as u32)
    }

    async fn list_agents(&self, _skill: &str) -> Result<String, String> {
        self.mesh
            .get("/mesh/agents")
            .await
            .map(|v| v.to_string())
            .map_err(text)
    }

    async fn send_message(
        &self,
        _skill: &str,
        to: &str,
        kind: &str,
        payload_json: &str,
    ) -> Result<String, String> {
        let payload: Value =
            serde_json::from_str(payload_json).map_err(|e| format!("payload is not JSON: {e}"))?;
        self.mesh
            .post(
                "/mesh/message",
                &json!({"to": to, "type": kind, "payload": payload}),
            )
            .await
            .map(|v| v.to_string())
            .map_err(text)
    }

    async fn set_cron(&self, _skill: &str, spec_json: &str) -> Result<String, String> {
        let spec: Value =
            serde_json::from_str(spec_json).map_err(|e| format!("spec is not JSON: {e}"))?;
        self.mesh
            .post("/mesh/cron", &spec)
            .await
            .map(|v| v.to_string())
            .map_err(text)
    }

    async fn spawn_agent(&self, _skill: &str, request: SpawnRequest) -> Result<String, String> {
        let body = serde_json::to_value(&request).map_err(|e| e.to_string())?;
        self.mesh
            .post("/mesh/spawn", &body)
            .await
            .map(|v| v.to_string())
            .map_err(text)
    }

    async fn list_cron(&self, _skill: &str) -> Result<String, String> {
        self.mesh
            .get("/mesh/cron")
            .await
            .map(|v| v.to_string())
            .map_err(text)
    }

    async fn read_agent_history(
        &self,
        _skill: &str,
        agent: &str,
        limit: u32,
    ) -> Result<String, String> {
        let limit = limit.to_string();
        let path = MeshClient::path(
            &["mesh", "agents", agent, "history"],
            &[("limit", limit.as_str())],
        );
        self.mesh
            .get(&path)
            .await
            .map(|v| v.to_string())
            .map_err(text)
    }

    async fn remove_cron(&self, _skill: &str, id: &str) -> Result<String, String> {
        let path = MeshClient::path(&["mesh", "cron", id], &[]);
        self.mesh
            .call(Method::DELETE, &path, None, Duration::from_secs(30))
            .await
            .map(|v| v.to_string())
            .map_err(text)
    }

    async fn register_artifact(&self, _skill: &str, meta: ArtifactMeta) -> Result<String, String> {
        let body = serde_json::to_value(&meta).map_err(|e| e.to_string())?;
        self.mesh
            .post("/mesh/artifacts", &body)
            .await
            .map(|v| v.to_string())
            .map_err(text)
    }

    async fn set_heartbeat(&self, _skill: &str, spec_json: &str) -> Result<String, String> {
        let spec: Value =
            serde_json::from_str(spec_json).map_err(|e| format!("spec is not JSON: {e}"))?;
        self.mesh
            .call(
                Method::PUT,
                "/mesh/heartbeat",
                Some(&spec),
                Duration::from_secs(30),
            )
            .await
            .map(|v| v.to_string())
            .map_err(text)
    }

    async fn read_artifact(&self, _skill: &str, agent: &str, name: &str) -> Result<String, String> {
        let path = MeshClient::path(&["mesh", "artifacts", agent, name], &[("as", "json")]);
        self.mesh
            .get(&path)
            .await
            .map(|v| v.to_string())
            .map_err(text)
    }
}

#[async_trait::async_trait]
impl BrowserCap for Bridge {
    async fn run(&self, _skill: &str, action: BrowserAction) -> Result<BrowserReply, String> {
        let body = serde_json::to_value(&action).map_err(|e| e.to_string())?;
        // The mesh bounds each action itself (navigation plus settling); this only keeps a
        // lost mesh from holding the call forever.
        let answer = self
            .mesh
            .call(
                Method::POST,
                "/mesh/browser",
                Some(&body),
                Duration::from_secs(120),
            )
            .await
            .map_err(text)?;
        serde_json::from_value(answer).map_err(|e| format!("bad answer from the mesh: {e}"))
    }
}

#[async_trait::async_trait]
impl HttpCap for Bridge {
    async fn fetch(&self, _skill: &str, request: HttpRequest) -> Result<HttpResponse, String> {
        let body = FetchRequest {
            method: request.method,
            url: request.url,
            headers: request.headers,
            body: request.body,
            timeout_ms: Some(request.timeout.as_millis() as u64),
        };
        let answer = self
            .mesh
            .call(
                Method::POST,
                "/mesh/http",
                Some(&serde_json::to_value(&body).map_err(|e| e.to_string())?),
                request.timeout + Duration::from_secs(10),
            )
            .await
            .map_err(text)?;
        let answer: FetchResponse =
            serde_json::from_value(answer).map_err(|e| format!("bad answer from the mesh: {e}"))?;
        Ok(HttpResponse {
            status: answer.status,
            headers: answer.headers,
            body: answer.body,
            truncated: answer.truncated,
        })
    }

    async fn search(&self, _skill: &str, request: SearchRequest) -> Result<String, String> {
        let body = serde_json::to_value(&request).map_err(|e| e.to_string())?;
        self.mesh
            .call(
                Method::POST,
                "/mesh/search",
                Some(&body),
                Duration::from_secs(60),
            )
            .await
            .map(|v| v.to_string())
            .map_err(text)
    }
}

/// Why the tools could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SkillsError {
    #[error(transparent)]
    Host(#[from] openlegion_skill_host::HostError),
    #[error("cannot open the data directory {}: {source}", path.display())]
    DataDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot create the skills directory {}: {source}", path.display())]
    Dir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The skill host as the loop sees it.
#[derive(Debug, Clone)]
pub struct Skills {
    host: SkillHost,
    /// How each tool's calls ended (`GET /status`); calls of tools that do not exist are
    /// counted under [`UNKNOWN_TOOL`], so a model inventing names grows nothing.
    counts: Arc<std::sync::Mutex<std::collections::BTreeMap<String, ToolCounts>>>,
}

/// The name unknown tools' calls are counted under.
const UNKNOWN_TOOL: &str = "(unknown)";

/// Parses `ALLOWED_CAPABILITIES` (`log,workspace,mesh,http,process,skills,memory,browser`).
/// `memory` is always allowed: it reaches only the agent's own memory, nothing a
/// permission guards.
fn allowed() -> BTreeSet<Capability> {
    let mut allowed: BTreeSet<Capability> = std::env::var("ALLOWED_CAPABILITIES")
        .unwrap_or_else(|_| "log,workspace,mesh".into())
        .split(',')
        .filter_map(|c| serde_json::from_value(Value::String(c.trim().to_owned())).ok())
        .collect();
    allowed.insert(Capability::Memory);
    allowed
}

impl Skills {
    /// Starts the skill host, loads the built-in skills and those under `skills_dir`, and
    /// watches `skills_dir` for changes. Skills granted `memory` reach `memory`.
    pub async fn start(
        mesh: MeshClient,
        data_dir: PathBuf,
        skills_dir: PathBuf,
        cache: SkillHostSettings,
        memory: Arc<dyn MemoryCap>,
    ) -> Result<Self, SkillsError> {
        let bridge = Arc::new(Bridge { mesh });
        let exec = Exec::new(&data_dir).map_err(|source| SkillsError::DataDir {
            path: data_dir.clone(),
            source,
        })?;
        let authoring = Authoring::new(
            skills_dir.clone(),
            data_dir.join(".skill-staging"),
            builtin::SKILLS.iter().map(|(name, ..)| (*name).to_owned()),
        );
        let mut caps = Capabilities::new(data_dir).allowing(allowed());
        caps.mesh = bridge.clone();
        caps.browser = bridge.clone();
        caps.http = bridge;
        caps.process = Arc::new(exec);
        caps.skills = Arc::new(authoring.clone());
        caps.memory = memory;
        let host = SkillHost::new(cache, caps)?;
        authoring.attach(&host);
        load_builtins(&host).await?;
        std::fs::create_dir_all(&skills_dir).map_err(|source| SkillsError::Dir {
            path: skills_dir.clone(),
            source,
        })?;
        for result in host.load_all(&skills_dir).await {
            if let Err(e) = result {
                tracing::error!(error = %e, "a skill failed to load");
            }
        }
        host.watch(skills_dir);
        Ok(Self {
            host,
            counts: Arc::default(),
        })
    }
}

async fn load_builtins(host: &SkillHost) -> Result<(), SkillsError> {
    for (name, manifest, wasm) in builtin::SKILLS {
        let manifest = Manifest::from_yaml(std::path::Path::new(name), manifest)?;
        let report = host.load_bytes(manifest, wasm.to_vec()).await?;
        tracing::debug!(?report, "built-in skill loaded");
    }
    Ok(())
}

/// Compiles the built-in skills into `cache_dir`, as this binary's agents would, for an
/// agent image to carry as their seed cache (`openlegion-agent precompile DIR`). Returns
/// how many skills were compiled.
pub async fn precompile(cache_dir: PathBuf) -> Result<usize, SkillsError> {
    let scratch = tempfile::tempdir().map_err(|source| SkillsError::DataDir {
        path: std::env::temp_dir(),
        source,
    })?;
    let host = SkillHost::new(
        SkillHostSettings::new(cache_dir),
        Capabilities::new(scratch.path().to_owned()),
    )?;
    load_builtins(&host).await?;
    Ok(builtin::SKILLS.len())
}

impl Toolbox for Skills {
    fn definitions(&self) -> Vec<ToolDef> {
        self.host
            .tools()
            .into_iter()
            .map(|t| ToolDef {
                name: t.name,
                description: t.description,
                parameters: t.parameters,
            })
            .collect()
    }

    fn call<'a>(
        &'a self,
        name: &'a str,
        args_json: &'a str,
    ) -> BoxFuture<'a, Result<String, String>> {
        Box::pin(async move {
            let answer = self.host.invoke(name, args_json).await;
            let mut counts = self.counts.lock().expect("counts lock");
            let tool = match &answer {
                Err(ToolError::UnknownTool { .. }) => UNKNOWN_TOOL,
                _ => name,
            };
            let c = counts.entry(tool.to_owned()).or_default();
            c.calls += 1;
            if let Err(e) = &answer {
                c.errors += 1;
                if matches!(
                    e,
                    ToolError::Crashed { .. }
                        | ToolError::OutOfFuel { .. }
                        | ToolError::Timeout { .. }
                        | ToolError::OutOfMemory { .. }
                ) {
                    c.traps += 1;
                }
            }
            answer.map_err(|e| e.to_string())
        })
    }

    fn inventory(&self) -> Value {
        serde_json::to_value(self.host.skills()).unwrap_or(Value::Null)
    }

    fn probes(&self) -> Vec<String> {
        self.host
            .skills()
            .into_iter()
            .flat_map(|s| s.probes)
            .collect()
    }

    fn counts(&self) -> std::collections::BTreeMap<String, ToolCounts> {
        self.counts.lock().expect("counts lock").clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The built-in `shell` skill, in a real skill host, running real commands through
    /// [`Exec`]: the whole path of a model's `exec` call below the loop.
    #[tokio::test]
    async fn the_builtin_shell_skill_runs_commands_in_the_data_directory() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into());
        let exec = Exec::with_env(&data, [("PATH".into(), path)]).unwrap();
        let mut caps = Capabilities::new(&data).allowing([Capability::Process]);
        caps.process = Arc::new(exec);
        let host = SkillHost::new(SkillHostSettings::new(dir.path().join("cache")), caps).unwrap();
        let (name, manifest, wasm) = builtin::SKILLS
            .iter()
            .find(|(name, ..)| *name == "shell")
            .expect("the shell skill is built in");
        let manifest = Manifest::from_yaml(std::path::Path::new(name), manifest).unwrap();
        let report = host.load_bytes(manifest, wasm.to_vec()).await.unwrap();
        assert_eq!(report.tools, ["exec"]);
        assert!(report.clipped.is_empty());
        let limits = host.skills()[0].limits;
        assert!(limits.timeout >= Duration::from_secs(310), "{limits:?}");

        let call = |args: Value| {
            let host = host.clone();
            async move {
                let answer = host.invoke("exec", &args.to_string()).await;
                answer.map(|a| serde_json::from_str::<Value>(&a).unwrap())
            }
        };
        let answer = call(json!({"command": "mkdir sub && cd sub && echo hi > f && pwd && cat f"}))
            .await
            .unwrap();
        let sub = data.canonicalize().unwrap().join("sub");
        assert_eq!(
            answer,
            json!({"exit_code": 0, "stdout": format!("{}\nhi\n", sub.display()),
                   "stderr": "", "timed_out": false, "truncated": false})
        );
        let answer = call(json!({"command": "sleep 10", "timeout": 1}))
            .await
            .unwrap();
        assert_eq!(
            answer,
            json!({"exit_code": -1, "stdout": "", "stderr": "Command timed out after 1s",
                   "timed_out": true, "truncated": false})
        );
        let refused = call(json!({"command": "ls", "workdir": "/etc"})).await;
        assert_eq!(
            refused.unwrap_err().to_string(),
            "workdir must be under /data, got: /etc"
        );
    }
}
