//! Loading a skill: read it, check it, compile or fetch it from the caches, ask it for its
//! tools, and swap it into the registry.
//!
//! Everything slow (hashing, compiling, file I/O) runs on tokio's blocking pool, so a
//! load never stalls the calls running beside it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::bindings::SkillPre;
use crate::call_state::SkillContext;
use crate::capability::{Capability, Grant};
use crate::error::HostError;
use crate::functions::FunctionReuse;
use crate::invoke;
use crate::manifest::{MAX_MANIFEST_BYTES, Manifest, name_problem};
use crate::registry::{CacheOutcome, LoadedSkill, ToolInfo};
use crate::skill_dir::{DirState, MANIFEST_FILE, Stamp, WASM_FILE, read_failed, skill_dirs};
use crate::skill_host::SkillHost;
use crate::validate;

/// Largest component accepted (a Python component is ~18 MB).
const MAX_COMPONENT_BYTES: u64 = 64 * 1024 * 1024;
/// Most tools one skill may offer, and the longest description of one.
const MAX_TOOLS: usize = 128;
const MAX_TOOL_DESCRIPTION_CHARS: usize = 4096;
const MAX_SCHEMA_BYTES: usize = 64 * 1024;

/// What a successful load did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoadReport {
    pub skill: String,
    pub version: String,
    /// SHA-256 of the component, hex.
    pub sha256: String,
    pub tools: Vec<String>,
    pub cache: CacheOutcome,
    /// When compiled now: how many of its functions were compiled before (by this agent,
    /// or into the image's seed) and reused, and how many were new.
    pub functions: Option<FunctionReuse>,
    /// Whether a version of this skill was loaded before (and is now replaced).
    pub replaced: bool,
    /// Asked for by the manifest but not allowed by the agent.
    pub clipped: Vec<Capability>,
    pub elapsed: Duration,
}

/// Exclusive use of the skill directories: while it is held, the watcher neither loads nor
/// unloads any, so its holder can change a directory (swap a new version in) and load it
/// without the watcher seeing it half-way or loading it too. See [`SkillHost::lock_dirs`].
#[derive(Debug)]
pub struct DirLock<'a> {
    host: &'a SkillHost,
    _guard: tokio::sync::MutexGuard<'a, ()>,
}

impl DirLock<'_> {
    /// [`SkillHost::load_dir`], under this lock.
    pub async fn load_dir(&self, dir: &Path) -> Result<LoadReport, HostError> {
        self.host.load_dir_locked(dir).await
    }
}

impl SkillHost {
    /// Waits for, and takes, exclusive use of the skill directories.
    pub async fn lock_dirs(&self) -> DirLock<'_> {
        DirLock {
            host: self,
            _guard: self.inner.dir_loads.lock().await,
        }
    }

    /// Loads the skill in `dir` (`skill.wasm` + `skill.yaml`), replacing the loaded version
    /// of the same name. If it fails, the loaded version keeps serving and the error is
    /// noted in its [`SkillInfo::last_error`](crate::SkillInfo).
    pub async fn load_dir(&self, dir: &Path) -> Result<LoadReport, HostError> {
        self.lock_dirs().await.load_dir(dir).await
    }

    async fn load_dir_locked(&self, dir: &Path) -> Result<LoadReport, HostError> {
        let stamp = {
            let owned = dir.to_owned();
            tokio::task::spawn_blocking(move || Stamp::of(&owned))
                .await
                .map_err(|e| read_failed(dir, e))?
        };
        let previous = self.dir_state(dir).and_then(|state| state.skill);
        let result = self.load_dir_files(dir, previous.as_deref()).await;
        let skill = match &result {
            Ok(report) => Some(report.skill.clone()),
            Err(e) => {
                // The version loaded from this directory before keeps serving.
                if let Some(previous) = &previous {
                    self.registry_mut().record_error(previous, e);
                }
                previous
            }
        };
        self.set_dir_state(dir, DirState { stamp, skill });
        result
    }

    /// Loads a skill from memory (one embedded in the agent binary).
    pub async fn load_bytes(
        &self,
        manifest: Manifest,
        wasm: Vec<u8>,
    ) -> Result<LoadReport, HostError> {
        if let Some((field, message)) = manifest.problem() {
            return Err(HostError::InvalidManifest {
                skill: manifest.name,
                field,
                message,
            });
        }
        let name = manifest.name.clone();
        let result = self.load_parts(manifest, wasm, None, None).await;
        if let Err(e) = &result {
            self.registry_mut().record_error(&name, e);
            self.prune_pres();
        }
        result
    }

    /// Loads every skill directory under `root` (those holding a `skill.wasm`), in name
    /// order. One broken skill does not stop the others.
    pub async fn load_all(&self, root: &Path) -> Vec<Result<LoadReport, HostError>> {
        let dirs = match skill_dirs(root).await {
            Ok(dirs) => dirs,
            Err(e) => return vec![Err(e)],
        };
        let mut reports = Vec::with_capacity(dirs.len());
        for dir in dirs {
            reports.push(self.load_dir(&dir).await);
        }
        reports
    }

    async fn load_dir_files(
        &self,
        dir: &Path,
        previous: Option<&str>,
    ) -> Result<LoadReport, HostError> {
        let manifest_path = dir.join(MANIFEST_FILE);
        let manifest_bytes = read_bounded(&manifest_path, MAX_MANIFEST_BYTES).await?;
        let text = String::from_utf8_lossy(&manifest_bytes);
        let manifest = Manifest::from_yaml(&manifest_path, &text)?;
        let name = manifest.name.clone();
        let wasm = read_bounded(&dir.join(WASM_FILE), MAX_COMPONENT_BYTES).await;
        let result = match wasm {
            Ok(wasm) => {
                self.load_parts(manifest, wasm, Some(dir.to_owned()), previous)
                    .await
            }
            Err(e) => Err(e),
        };
        if let Err(e) = &result {
            self.registry_mut().record_error(&name, e);
            self.prune_pres();
        }
        result
    }

    async fn load_parts(
        &self,
        manifest: Manifest,
        wasm: Vec<u8>,
        source: Option<PathBuf>,
        renamed: Option<&str>,
    ) -> Result<LoadReport, HostError> {
        let started = Instant::now();
        let name = manifest.name.clone();
        let limits = manifest
            .limits
            .unwrap_or_default()
            .apply(self.inner.config.default_limits);
        if let Some(message) = limits.problem() {
            return Err(HostError::InvalidLimits {
                skill: name,
                message,
            });
        }
        validate::check_header(&name, &wasm)?;
        let wasm = Arc::new(wasm);
        let sha256 = {
            let wasm = wasm.clone();
            tokio::task::spawn_blocking(move || hex::encode(Sha256::digest(wasm.as_slice())))
                .await
                .map_err(|e| HostError::Compile {
                    skill: name.clone(),
                    source: wasmtime::Error::new(e),
                })?
        };
        let (pre, cache, functions) = self.linked(&name, &sha256, wasm).await?;

        let grant = Grant::new(&manifest.capabilities, &self.inner.caps.allowed);
        let clipped = grant.clipped.iter().copied().collect();
        let context = Arc::new(SkillContext {
            name: name.clone(),
            grant,
            caps: self.inner.caps.clone(),
        });
        let mut skill = LoadedSkill {
            manifest,
            sha256,
            pre,
            context,
            limits,
            tools: Vec::new(),
            loaded_at: SystemTime::now(),
            cache,
            source,
        };
        skill.tools = self.described_tools(&skill).await?;
        let report = LoadReport {
            skill: name.clone(),
            version: skill.manifest.version.clone(),
            sha256: skill.sha256.clone(),
            tools: skill.tools.iter().map(|t| t.name.clone()).collect(),
            cache,
            functions,
            replaced: false,
            clipped,
            elapsed: Duration::ZERO,
        };
        let replaced = self.registry_mut().insert(Arc::new(skill), renamed)?;
        self.prune_pres();
        tracing::info!(skill = name, cache = ?cache, functions = ?functions, replaced, "skill loaded");
        Ok(LoadReport {
            replaced,
            elapsed: started.elapsed(),
            ..report
        })
    }

    /// The linked component for `sha256`: already in memory, or from the disk cache, or
    /// compiled now; checked for forbidden imports before it is linked.
    async fn linked(
        &self,
        skill: &str,
        sha256: &str,
        wasm: Arc<Vec<u8>>,
    ) -> Result<
        (
            SkillPre<crate::call_state::CallState>,
            CacheOutcome,
            Option<FunctionReuse>,
        ),
        HostError,
    > {
        if let Some(pre) = self.pres().get(sha256) {
            return Ok((pre.clone(), CacheOutcome::Memory, None));
        }
        let engine = &self.inner.engine;
        let (component, functions) = self
            .inner
            .disk
            .component(engine, skill, sha256, wasm)
            .await?;
        validate::check_imports(skill, &component, engine)?;
        let link_error = |source: wasmtime::Error| HostError::Link {
            skill: skill.to_owned(),
            source,
        };
        let instance_pre = self
            .inner
            .linker
            .instantiate_pre(&component)
            .map_err(link_error)?;
        let pre = SkillPre::new(instance_pre).map_err(link_error)?;
        self.pres().insert(sha256.to_owned(), pre.clone());
        let cache = match functions {
            None => CacheOutcome::Disk,
            Some(_) => CacheOutcome::Compiled,
        };
        Ok((pre, cache, functions))
    }

    /// Calls the component's `describe` (under its limits) and checks what it says.
    async fn described_tools(&self, skill: &LoadedSkill) -> Result<Vec<ToolInfo>, HostError> {
        let name = &skill.manifest.name;
        let described = {
            let _permit = self.inner.permits.acquire().await;
            invoke::describe(&self.inner.engine, skill).await
        }
        .map_err(|e| HostError::Describe {
            skill: name.clone(),
            message: e.to_string(),
        })?;
        if described.len() > MAX_TOOLS {
            return Err(HostError::Describe {
                skill: name.clone(),
                message: format!(
                    "{} tools, more than the {MAX_TOOLS} allowed",
                    described.len()
                ),
            });
        }
        let mut tools: Vec<ToolInfo> = Vec::with_capacity(described.len());
        for tool in described {
            let invalid = |message: String| HostError::InvalidTool {
                skill: name.clone(),
                tool: tool.name.clone(),
                message,
            };
            name_problem(&tool.name).map_err(invalid)?;
            if tools.iter().any(|t| t.name == tool.name) {
                return Err(invalid("described twice".into()));
            }
            if tool.description.chars().count() > MAX_TOOL_DESCRIPTION_CHARS {
                return Err(invalid(format!(
                    "description is longer than {MAX_TOOL_DESCRIPTION_CHARS} characters"
                )));
            }
            if tool.parameters_schema.len() > MAX_SCHEMA_BYTES {
                return Err(invalid(format!(
                    "parameters schema is larger than {MAX_SCHEMA_BYTES} bytes"
                )));
            }
            let parameters = match serde_json::from_str(&tool.parameters_schema) {
                Ok(value @ serde_json::Value::Object(_)) => value,
                Ok(_) => return Err(invalid("parameters schema is not a JSON object".into())),
                Err(e) => return Err(invalid(format!("parameters schema is not JSON: {e}"))),
            };
            tools.push(ToolInfo {
                name: tool.name,
                description: tool.description,
                parameters,
                skill: name.clone(),
            });
        }
        Ok(tools)
    }
}

/// Reads `path` off the async threads, refusing files over `max` bytes.
async fn read_bounded(path: &Path, max: u64) -> Result<Vec<u8>, HostError> {
    let owned = path.to_owned();
    tokio::task::spawn_blocking(move || {
        let path = owned;
        let read_error = |source| HostError::Read {
            path: path.clone(),
            source,
        };
        let size = std::fs::metadata(&path).map_err(read_error)?.len();
        if size > max {
            return Err(HostError::TooLarge { path, size, max });
        }
        std::fs::read(&path).map_err(read_error)
    })
    .await
    .map_err(|e| read_failed(path, e))?
}
