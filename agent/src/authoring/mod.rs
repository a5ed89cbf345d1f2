//! The agent's [`SkillsCap`]: skills the agent writes, compiled inside its own sandbox and
//! loaded into its skill host at once.
//!
//! `create` checks the request ([`request`]), and unless the same inputs were built before
//! (their hash is kept with the skill), writes the build inputs ([`generate`]) to a
//! scratch directory and runs the pinned compiler ([`compilers`]) there under a wall-clock
//! and a memory limit ([`limited`]); a failed build comes back as the compiler's errors
//! ([`diagnostics`]). The component must import nothing but `openlegion:skill`
//! ([`openlegion_skill_host::check_authored`]) before it is written to the skills directory
//! ([`store`]) and loaded; if it still fails to load, the previous version is put back.
//!
//! Whether the agent may do this at all is the mesh's decision (it grants `skills`), made
//! before any of this runs: the skill host refuses ungranted calls.

mod compilers;
mod diagnostics;
mod generate;
mod limited;
mod request;
mod store;
mod warm;

pub use warm::warm;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use openlegion_skill_host::{
    LoadReport, MAX_MEMORY_BYTES, MAX_TIMEOUT, SkillHost, SkillSource, SkillsCap, WeakSkillHost,
    check_authored,
};
use serde_json::{Value, json};

use compilers::Compilers;
use limited::RunLimits;
use request::{Language, Request};
use store::{Authored, Store};

/// How long a compiler may run. A Python skill builds in about 10 s on two busy cores; a
/// build still running after minutes is a loop in the code's top level.
const COMPILE_WALL_CLOCK: Duration = Duration::from_secs(180);
/// Memory a compiler may write to. componentize-py peaks near 400 MiB.
const COMPILE_MEMORY_MIB: u64 = 1536;
/// Largest component read back from a build (a Python one is ~18 MB).
const MAX_COMPONENT_BYTES: u64 = 64 * 1024 * 1024;

/// Creates, lists, removes and reloads the agent's own skills.
#[derive(Clone)]
pub(crate) struct Authoring {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    /// The host to load into; set once it exists (it holds this capability itself).
    host: OnceLock<WeakSkillHost>,
    /// The names of the built-in skills, which created skills may not take.
    reserved: BTreeSet<String>,
    compilers: Result<Compilers, String>,
    limits: RunLimits,
    /// One create, remove or reload at a time: two builds of one name must not interleave
    /// their swaps, and two compilers at once would only compete for the same cores.
    busy: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Authoring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authoring")
            .field("store", &self.inner.store)
            .field("compilers", &self.inner.compilers)
            .finish_non_exhaustive()
    }
}

impl Authoring {
    /// Skills under `skills_dir`, staged in `staging` (on the same file system, outside
    /// `skills_dir`), compiled with the compilers of `SKILL_COMPILERS`.
    pub(crate) fn new(
        skills_dir: PathBuf,
        staging: PathBuf,
        reserved: impl IntoIterator<Item = String>,
    ) -> Self {
        // Beside the build directories: on the data volume, which is writable.
        let compilers =
            Compilers::from_env().map(|c| c.with_private_target(staging.join("rust-target")));
        Self::with(
            skills_dir,
            staging,
            reserved,
            compilers,
            RunLimits {
                wall_clock: COMPILE_WALL_CLOCK,
                memory_mib: COMPILE_MEMORY_MIB,
            },
        )
    }

    fn with(
        skills_dir: PathBuf,
        staging: PathBuf,
        reserved: impl IntoIterator<Item = String>,
        compilers: Result<Compilers, String>,
        limits: RunLimits,
    ) -> Self {
        Authoring {
            inner: Arc::new(Inner {
                store: Store::new(skills_dir, staging),
                host: OnceLock::new(),
                reserved: reserved.into_iter().collect(),
                compilers,
                limits,
                busy: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// Loads created skills into `host` from now on.
    pub(crate) fn attach(&self, host: &SkillHost) {
        let _ = self.inner.host.set(host.downgrade());
    }

    fn host(&self) -> Result<SkillHost, String> {
        self.inner
            .host
            .get()
            .and_then(WeakSkillHost::upgrade)
            .ok_or_else(|| "the skill host is shutting down".to_owned())
    }

    async fn create_checked(&self, request: Request) -> Result<Value, String> {
        let host = self.host()?;
        let compilers = self.inner.compilers.as_ref().map_err(Clone::clone)?;
        let invocation = compilers.invocation(request.language)?;
        let generated = generate::fingerprint(request.language);
        let authored = Authored {
            language: request.language,
            inputs_sha256: store::inputs_hash(&request, &invocation.version, &generated),
            compiler: invocation.version.clone(),
        };
        store::check_manifest(&request, &authored)?;
        let store = &self.inner.store;
        if store.dir(&request.name).exists() && store.authored(&request.name).is_none() {
            return Err(format!(
                "a skill named '{}' was installed by the operator, not written by this agent; \
                 choose another name",
                request.name
            ));
        }
        let previous = store
            .authored(&request.name)
            .filter(|a| a.inputs_sha256 == authored.inputs_sha256)
            .and_then(|_| store.component(&request.name));
        // Kept alive until the component is staged: it holds the fresh build.
        let mut scratch = None;
        let (component, compiled) = match previous {
            Some(component) => (component, None),
            None => {
                let (dir, took) = self.compile(&request, &invocation).await?;
                let component = dir.path().join(compilers::OUTPUT);
                scratch = Some(dir);
                (component, Some(took))
            }
        };
        let staged = {
            let (store, request, authored) = (store.clone(), request.clone(), authored.clone());
            tokio::task::spawn_blocking(move || store.stage(&request, &component, &authored))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| format!("cannot write the skill: {e}"))?
        };
        drop(scratch);
        // The watcher stays out while the new version is swapped in and loaded (or swapped
        // back out): it would compile the same component a second time beside this load.
        let dirs = host.lock_dirs().await;
        let swap = store
            .swap_in(&request.name, &staged)
            .map_err(|e| format!("cannot install the skill: {e}"))?;
        match dirs.load_dir(&swap.dest).await {
            Ok(report) => {
                swap.commit();
                Ok(created(&request, &report, compiled))
            }
            Err(e) => {
                let dest = swap.dest.clone();
                let had_previous = swap.undo().map_err(|undo| {
                    format!("{e}; and the previous version could not be restored: {undo}")
                })?;
                if had_previous {
                    // Back to the files of the version still serving.
                    let _ = dirs.load_dir(&dest).await;
                }
                Err(format!(
                    "the skill was built but does not load, so it was not installed: {e}"
                ))
            }
        }
    }

    /// Builds `request` in a scratch directory; returns it (holding the component) and how
    /// long the compiler took.
    async fn compile(
        &self,
        request: &Request,
        invocation: &compilers::Invocation,
    ) -> Result<(tempfile::TempDir, Duration), String> {
        // On the data volume rather than in /tmp: a container's /tmp is a small tmpfs
        // counted against its memory, and a Python build writes tens of megabytes.
        let dir = self
            .inner
            .store
            .build_dir()
            .map_err(|e| format!("cannot make a build directory: {e}"))?;
        generate::write(dir.path(), request, invocation.rust_template.as_deref())
            .map_err(|e| format!("cannot write the build inputs: {e}"))?;
        {
            let invocation = invocation.clone();
            tokio::task::spawn_blocking(move || compilers::prepare_rust_target(&invocation))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| format!("cannot prepare the Rust target directory: {e}"))?;
        }
        let output = limited::run(
            &invocation.program,
            &invocation.args,
            &invocation.env,
            dir.path(),
            self.inner.limits,
        )
        .await
        .map_err(|e| format!("cannot start {}: {e}", invocation.version))?;
        let language = request.language.name();
        if output.timed_out {
            return Err(format!(
                "the {language} compiler was stopped after {} s, its time limit: does the \
                 code loop or wait at its top level (outside the tool functions)?",
                self.inner.limits.wall_clock.as_secs()
            ));
        }
        if let Some(signal) = output.signal {
            return Err(format!(
                "the {language} compiler was killed by signal {signal}: the sandbox probably ran \
                 out of memory (a Python build needs about 500 MiB beyond the agent's own; the \
                 operator sets resources.memory_limit in agents.yaml)"
            ));
        }
        let component = dir.path().join(compilers::OUTPUT);
        if let (Some(target), true) = (&invocation.rust_target, output.success()) {
            // Out of the shared target directory, into this build's own.
            let built = target
                .join("wasm32-wasip2/release")
                .join(format!("{}.wasm", generate::rust_crate(dir.path())));
            std::fs::copy(&built, &component)
                .map_err(|e| format!("cannot read the built component {}: {e}", built.display()))?;
            let _ = std::fs::remove_file(&built);
        }
        if !output.success() || !component.is_file() {
            let text = format!("{}\n{}", output.stdout, output.stderr);
            let mut message = format!(
                "the {language} code of skill '{}' does not compile:\n{}",
                request.name,
                diagnostics::clean(&text, dir.path())
            );
            if text.contains("memory allocation of") || text.contains("MemoryError") {
                message.push_str(&format!(
                    "\n(the compiler ran out of memory: its limit is {} MiB)",
                    self.inner.limits.memory_mib
                ));
            }
            return Err(message);
        }
        let bytes = tokio::fs::read(&component)
            .await
            .map_err(|e| format!("cannot read the built component: {e}"))?;
        if bytes.len() as u64 > MAX_COMPONENT_BYTES {
            return Err(format!(
                "the built component is {} bytes, more than the {MAX_COMPONENT_BYTES} allowed",
                bytes.len()
            ));
        }
        // Rust's std imports WASI (served empty, as for the built-in skills); Python and
        // JavaScript are built with WASI stubbed out, so an import of it means a wrong build.
        let allow_wasi = request.language == Language::Rust;
        check_authored(&request.name, &bytes, allow_wasi).map_err(|e| e.to_string())?;
        Ok((dir, output.elapsed))
    }

    fn list_now(&self) -> Result<Value, String> {
        let host = self.host()?;
        let loaded = host.skills();
        let store = &self.inner.store;
        let skills: Vec<Value> = store
            .names()
            .into_iter()
            .map(|name| {
                let authored = store.authored(&name);
                let info = loaded.iter().find(|s| s.name == name);
                json!({
                    "name": name,
                    "language": authored.map(|a| a.language),
                    "loaded": info.is_some(),
                    "tools": info.map(|s| s.tools.clone()).unwrap_or_default(),
                    "granted": info.map(|s| s.granted.clone()).unwrap_or_default(),
                    "clipped": info.map(|s| s.clipped.clone()).unwrap_or_default(),
                    "last_error": info.and_then(|s| s.last_error.clone()),
                })
            })
            .collect();
        Ok(json!({ "count": skills.len(), "skills": skills }))
    }

    async fn remove_now(&self, name: &str) -> Result<Value, String> {
        let host = self.host()?;
        if self.inner.reserved.contains(name) {
            return Err(format!(
                "'{name}' is a built-in skill and cannot be removed"
            ));
        }
        let store = self.inner.store.clone();
        if store.authored(name).is_none() {
            return Err(format!("no skill named '{name}' was created by this agent"));
        }
        let tools: Vec<String> = host
            .skills()
            .into_iter()
            .find(|s| s.name == name)
            .map(|s| s.tools)
            .unwrap_or_default();
        let owned = name.to_owned();
        tokio::task::spawn_blocking(move || store.delete(&owned))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("cannot delete skill '{name}': {e}"))?;
        host.remove(name);
        Ok(json!({ "removed": name, "tools": tools }))
    }

    async fn reload_now(&self) -> Result<Value, String> {
        let host = self.host()?;
        let results = host.load_all(&self.inner.store.skills_dir).await;
        let outcomes: Vec<Value> = results
            .into_iter()
            .map(|result| match result {
                Ok(report) => json!({
                    "skill": report.skill,
                    "tools": report.tools,
                    "cache": report.cache,
                    "clipped": report.clipped,
                }),
                Err(e) => json!({ "error": e.to_string() }),
            })
            .collect();
        Ok(json!({ "reloaded": outcomes }))
    }
}

/// The report of a successful `create`, for the model.
fn created(request: &Request, report: &LoadReport, compiled: Option<Duration>) -> Value {
    let clipped: Vec<&str> = report.clipped.iter().map(|c| c.name()).collect();
    let granted: Vec<&str> = request
        .capabilities
        .iter()
        .filter(|c| !report.clipped.contains(c))
        .map(|c| c.name())
        .collect();
    let mut message = format!(
        "Skill '{}' is loaded; its tools can be called now: {}.",
        report.skill,
        report.tools.join(", ")
    );
    if compiled.is_none() {
        message.push_str(" The same code was built before, so it was not compiled again.");
    }
    if !clipped.is_empty() {
        message.push_str(&format!(
            " Not allowed to this agent, so not granted: {} (calls to them fail with \
             \"capability '…' is not granted\").",
            clipped.join(", ")
        ));
    }
    json!({
        "skill": report.skill,
        "language": request.language,
        "tools": report.tools,
        "compiled": compiled.is_some(),
        "compile_seconds": compiled.map(|d| (d.as_secs_f64() * 10.0).round() / 10.0),
        "load_seconds": (report.elapsed.as_secs_f64() * 10.0).round() / 10.0,
        "cache": report.cache,
        // How much of the compile was served by functions compiled before (CPython or
        // QuickJS are in every Python or JavaScript skill): why a compile took as long as
        // it did.
        "functions": report.functions,
        "replaced": report.replaced,
        "capabilities": granted,
        "clipped": clipped,
        "message": message,
    })
}

/// Caps the limits a model asks for at the host's maximums (asking for more is not an
/// error: the skill gets the most there is).
fn capped(mut request: Request) -> Request {
    let limits = &mut request.limits;
    limits.memory_mib = limits
        .memory_mib
        .map(|m| m.min(MAX_MEMORY_BYTES / (1024 * 1024)));
    limits.timeout_ms = limits
        .timeout_ms
        .map(|t| t.min(MAX_TIMEOUT.as_millis() as u64));
    request
}

#[async_trait::async_trait]
impl SkillsCap for Authoring {
    async fn create(&self, _skill: &str, source: SkillSource) -> Result<String, String> {
        let request = capped(Request::check(source, &self.inner.reserved)?);
        let _one_at_a_time = self.inner.busy.lock().await;
        let started = Instant::now();
        let result = self.create_checked(request.clone()).await;
        match &result {
            Ok(report) => tracing::info!(
                skill = request.name,
                language = request.language.name(),
                compiled = %report["compiled"],
                elapsed_ms = started.elapsed().as_millis() as u64,
                "skill created"
            ),
            Err(e) => tracing::info!(skill = request.name, "skill not created: {e}"),
        }
        result.map(|report| report.to_string())
    }

    async fn list(&self, _skill: &str) -> Result<String, String> {
        self.list_now().map(|v| v.to_string())
    }

    async fn remove(&self, _skill: &str, name: &str) -> Result<String, String> {
        let _one_at_a_time = self.inner.busy.lock().await;
        self.remove_now(name).await.map(|v| v.to_string())
    }

    async fn reload(&self, _skill: &str) -> Result<String, String> {
        let _one_at_a_time = self.inner.busy.lock().await;
        self.reload_now().await.map(|v| v.to_string())
    }
}

#[cfg(test)]
mod tests;
