//! [`SkillHost`]: the engine, the loaded skills, and the calls into them.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock, Weak};

use tokio::sync::Semaphore;
use wasmtime::Engine;
use wasmtime::component::Linker;

use crate::bindings::SkillPre;
use crate::cache::DiskCache;
use crate::call_state::CallState;
use crate::config::SkillHostSettings;
use crate::error::{HostError, ToolError};
use crate::functions::FunctionCache;
use crate::host::truncate_at_char;
use crate::ports::Capabilities;
use crate::registry::{Registry, SkillInfo, ToolInfo};
use crate::skill_dir::DirState;
use crate::{engine, host, invoke};

/// Largest arguments object a call may pass (the model writes them; a megabyte of JSON is
/// already far beyond any sensible tool call).
pub const MAX_ARGS_BYTES: usize = 1024 * 1024;

/// Largest answer a tool may give: room for the largest `read_file` result (500,000
/// characters of up to 4 bytes) with its JSON around it. An answer is for a model's
/// context; a bigger one is a bug in the tool, reported as such rather than passed on to
/// fill the agent's memory and the model's window.
pub const MAX_ANSWER_BYTES: usize = 4 * 1024 * 1024;

/// Longest tool error kept; the rest is cut.
const MAX_TOOL_ERROR_BYTES: usize = 64 * 1024;

/// The skill runtime of one agent. Cheap to clone: clones share everything.
#[derive(Clone)]
pub struct SkillHost {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) config: SkillHostSettings,
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<CallState>,
    pub(crate) disk: DiskCache,
    /// Linked components by SHA-256, for the skills currently loaded.
    pub(crate) pres: Mutex<HashMap<String, SkillPre<CallState>>>,
    pub(crate) registry: RwLock<Registry>,
    pub(crate) caps: Arc<Capabilities>,
    /// One permit per pool slot: calls beyond the pool wait instead of failing.
    pub(crate) permits: Semaphore,
    /// What was last loaded from each skill directory.
    pub(crate) dirs: Mutex<HashMap<PathBuf, DirState>>,
    /// Held while a skill directory is loaded, or changed by someone who then loads it:
    /// the watcher must not load a directory half-way through a swap, nor compile the
    /// same new component a second time beside the load already doing it.
    pub(crate) dir_loads: tokio::sync::Mutex<()>,
}

impl SkillHost {
    /// Builds the engine (and starts its epoch thread), the linker and the cache.
    ///
    /// `caps.workspace_root` must exist. `config.cache_dir` is created if missing and must
    /// not be inside the workspace: compiled code is loaded from it, and skills can write
    /// to the workspace.
    pub fn new(config: SkillHostSettings, mut caps: Capabilities) -> Result<Self, HostError> {
        if let Some(problem) = config.default_limits.problem() {
            return Err(HostError::Config {
                message: format!("default limits: {problem}"),
            });
        }
        if config.max_concurrent_calls == 0 || config.reload_interval.is_zero() {
            return Err(HostError::Config {
                message: "max_concurrent_calls and reload_interval must be above zero".into(),
            });
        }
        caps.workspace_root =
            caps.workspace_root
                .canonicalize()
                .map_err(|source| HostError::Read {
                    path: caps.workspace_root.clone(),
                    source,
                })?;
        std::fs::create_dir_all(&config.cache_dir).map_err(|source| HostError::Cache {
            path: config.cache_dir.clone(),
            source,
        })?;
        let cache_dir = config
            .cache_dir
            .canonicalize()
            .map_err(|source| HostError::Cache {
                path: config.cache_dir.clone(),
                source,
            })?;
        if cache_dir.starts_with(&caps.workspace_root) {
            return Err(HostError::Config {
                message: format!(
                    "the cache directory {} is inside the workspace {}, where skills can write",
                    cache_dir.display(),
                    caps.workspace_root.display()
                ),
            });
        }
        // Only once the directory is known to be outside the workspace: code is loaded
        // from what these write.
        let functions = Arc::new(FunctionCache::open(
            &config.cache_dir,
            config.seed_cache_dir.as_deref(),
        ));
        let engine = engine::build(config.max_concurrent_calls, Arc::clone(&functions))?;
        let disk = DiskCache::new(
            &config.cache_dir,
            config.seed_cache_dir.clone(),
            &engine,
            functions,
        )?;
        let linker = host::linker(&engine)?;
        engine::spawn_epoch_ticker(&engine)?;
        Ok(SkillHost {
            inner: Arc::new(Inner {
                permits: Semaphore::new(config.max_concurrent_calls as usize),
                config,
                engine,
                linker,
                disk,
                pres: Mutex::default(),
                registry: RwLock::default(),
                caps: Arc::new(caps),
                dirs: Mutex::default(),
                dir_loads: tokio::sync::Mutex::new(()),
            }),
        })
    }

    /// A handle that does not keep the host alive, for what the host itself holds (the
    /// agent's `skills` capability loads into the host that calls it).
    pub fn downgrade(&self) -> WeakSkillHost {
        WeakSkillHost(Arc::downgrade(&self.inner))
    }

    /// The host's configuration.
    pub fn config(&self) -> &SkillHostSettings {
        &self.inner.config
    }

    /// What the agent lends its skills (the allowed capabilities among them).
    pub fn capabilities(&self) -> &Capabilities {
        &self.inner.caps
    }

    /// Every tool of every loaded skill, by name.
    pub fn tools(&self) -> Vec<ToolInfo> {
        self.registry().tools()
    }

    /// Every loaded skill, by name.
    pub fn skills(&self) -> Vec<SkillInfo> {
        self.registry().skills()
    }

    /// Unloads the skill `name`; calls in flight finish. Returns whether it was loaded.
    pub fn remove(&self, name: &str) -> bool {
        let removed = self.registry_mut().remove(name);
        self.prune_pres();
        removed
    }

    /// Calls `tool` with `args_json` (a JSON object as text) in a fresh instance of its
    /// skill. Waits for a free slot if `max_concurrent_calls` calls are running.
    pub async fn invoke(&self, tool: &str, args_json: &str) -> Result<String, ToolError> {
        if args_json.len() > MAX_ARGS_BYTES {
            return Err(ToolError::ArgumentsTooLarge {
                tool: tool.to_owned(),
                size: args_json.len(),
                max: MAX_ARGS_BYTES,
                largest: largest_field(args_json),
            });
        }
        let skill = self
            .registry()
            .skill_for(tool)
            .ok_or_else(|| ToolError::UnknownTool {
                tool: tool.to_owned(),
            })?;
        let _permit = self.inner.permits.acquire().await;
        match invoke::invoke(&self.inner.engine, &skill, tool, args_json).await? {
            Ok(answer) if answer.len() > MAX_ANSWER_BYTES => Err(ToolError::AnswerTooLarge {
                tool: tool.to_owned(),
                size: answer.len(),
                max: MAX_ANSWER_BYTES,
            }),
            Ok(answer) => Ok(answer),
            Err(mut message) => {
                if truncate_at_char(&mut message, MAX_TOOL_ERROR_BYTES) {
                    message.push_str(" …(truncated)");
                }
                Err(ToolError::Tool {
                    tool: tool.to_owned(),
                    message,
                })
            }
        }
    }

    pub(crate) fn registry(&self) -> std::sync::RwLockReadGuard<'_, Registry> {
        self.inner
            .registry
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn registry_mut(&self) -> std::sync::RwLockWriteGuard<'_, Registry> {
        self.inner
            .registry
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn pres(&self) -> std::sync::MutexGuard<'_, HashMap<String, SkillPre<CallState>>> {
        self.inner
            .pres
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Forgets linked components that no loaded skill uses any more.
    pub(crate) fn prune_pres(&self) {
        let registry = self.registry();
        self.pres().retain(|sha, _| registry.contains_sha256(sha));
    }
}

/// The biggest top-level field of a JSON object, by the length of its JSON text.
fn largest_field(args_json: &str) -> Option<(String, usize)> {
    let args: serde_json::Map<String, serde_json::Value> = serde_json::from_str(args_json).ok()?;
    args.into_iter()
        .map(|(field, value)| {
            let bytes = match &value {
                serde_json::Value::String(s) => s.len(),
                other => other.to_string().len(),
            };
            (field, bytes)
        })
        .max_by_key(|(_, bytes)| *bytes)
}

/// A [`SkillHost`] that may be gone: see [`SkillHost::downgrade`].
#[derive(Clone, Default)]
pub struct WeakSkillHost(Weak<Inner>);

impl WeakSkillHost {
    /// The host, if it still exists.
    pub fn upgrade(&self) -> Option<SkillHost> {
        self.0.upgrade().map(|inner| SkillHost { inner })
    }
}

impl fmt::Debug for WeakSkillHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WeakSkillHost")
    }
}

impl fmt::Debug for SkillHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let skills: Vec<String> = self.skills().into_iter().map(|s| s.name).collect();
        f.debug_struct("SkillHost")
            .field("config", &self.inner.config)
            .field("capabilities", &self.inner.caps)
            .field("skills", &skills)
            .finish_non_exhaustive()
    }
}

/// The last load of each skill directory, which the loader records and the watcher reads.
impl SkillHost {
    pub(crate) fn dirs(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<PathBuf, DirState>> {
        self.inner
            .dirs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn dir_state(&self, dir: &Path) -> Option<DirState> {
        self.dirs().get(dir).cloned()
    }

    pub(crate) fn set_dir_state(&self, dir: &Path, state: DirState) {
        self.dirs().insert(dir.to_owned(), state);
    }
}
