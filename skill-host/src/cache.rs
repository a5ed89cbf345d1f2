//! Compiled components on disk (`.cwasm`), so that an agent restart or a reload of an
//! unchanged skill costs a file mapping (~0.3 ms) instead of a Cranelift compile (~140 ms
//! for a small Rust skill, seconds for a Python one).
//!
//! A file is named by the component's SHA-256, the wasmtime version and a hash of the
//! engine's configuration, so a build with other settings never even opens it. If it does
//! meet a file it cannot use (another engine's, or damaged), wasmtime's own header check
//! rejects it, and the component is compiled again and the file replaced.
//!
//! A read-only seed directory of the same layout (made ahead of time by the same binary)
//! is looked in before compiling; what it lacks or cannot serve is compiled as usual, and
//! then through the [`FunctionCache`], so that only functions never compiled before are.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use wasmtime::Engine;
use wasmtime::component::Component;

use crate::engine::{WASMTIME_VERSION, compatibility_key};
use crate::error::HostError;
use crate::functions::{FunctionCache, FunctionReuse};

/// The `.cwasm` files of one engine configuration.
#[derive(Debug)]
pub(crate) struct DiskCache {
    dir: PathBuf,
    seed: Option<PathBuf>,
    engine_key: String,
    functions: Arc<FunctionCache>,
}

impl DiskCache {
    pub(crate) fn new(
        dir: &Path,
        seed: Option<PathBuf>,
        engine: &Engine,
        functions: Arc<FunctionCache>,
    ) -> Result<Self, HostError> {
        std::fs::create_dir_all(dir).map_err(|source| HostError::Cache {
            path: dir.to_owned(),
            source,
        })?;
        Ok(DiskCache {
            dir: dir.to_owned(),
            seed,
            engine_key: compatibility_key(engine),
            functions,
        })
    }

    /// The file name of the component with this SHA-256 (hex).
    fn file_name(&self, sha256: &str) -> String {
        format!(
            "{sha256}-wasmtime{WASMTIME_VERSION}-{}.cwasm",
            self.engine_key
        )
    }

    /// Where the component with this SHA-256 (hex) is cached.
    pub(crate) fn path(&self, sha256: &str) -> PathBuf {
        self.dir.join(self.file_name(sha256))
    }

    /// The compiled component for `wasm`, from the cache if it is there (`None`), else
    /// compiled and stored (with how many of its functions were compiled before). Compiling
    /// and loading run off the async threads.
    pub(crate) async fn component(
        &self,
        engine: &Engine,
        skill: &str,
        sha256: &str,
        wasm: Arc<Vec<u8>>,
    ) -> Result<(Component, Option<FunctionReuse>), HostError> {
        let path = self.path(sha256);
        if path.exists() {
            match load(engine, &path).await {
                Ok(component) => return Ok((component, None)),
                Err(e) => {
                    tracing::warn!(skill, path = %path.display(), "cached component refused, compiling again: {e:#}");
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        if let Some(seeded) = self.seed.as_ref().map(|d| d.join(self.file_name(sha256)))
            && seeded.exists()
        {
            match load(engine, &seeded).await {
                Ok(component) => return Ok((component, None)),
                // Made on another machine, say: the engine refuses it, and it is compiled.
                Err(e) => {
                    tracing::warn!(skill, path = %seeded.display(), "seeded component refused, compiling: {e:#}");
                }
            }
        }
        let compile_error = |source: wasmtime::Error| HostError::Compile {
            skill: skill.to_owned(),
            source,
        };
        let (compiled, reuse) = {
            let (engine, functions) = (engine.clone(), Arc::clone(&self.functions));
            let (compiled, reuse) = tokio::task::spawn_blocking(move || {
                functions.compiling(|| engine.precompile_component(&wasm))
            })
            .await
            .map_err(|e| compile_error(wasmtime::Error::new(e)))?;
            (compiled.map_err(compile_error)?, reuse)
        };
        let written = path.clone();
        tokio::task::spawn_blocking(move || write_atomically(&written, &compiled))
            .await
            .map_err(|e| compile_error(wasmtime::Error::new(e)))?
            .map_err(|source| HostError::Cache {
                path: path.clone(),
                source,
            })?;
        let component = load(engine, &path).await.map_err(|e| {
            compile_error(e.context(format!(
                "cannot load the freshly compiled {}",
                path.display()
            )))
        })?;
        Ok((component, Some(reuse)))
    }
}

/// Maps a `.cwasm` from our cache into `engine`.
async fn load(engine: &Engine, path: &Path) -> wasmtime::Result<Component> {
    let engine = engine.clone();
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || {
        #[expect(
            unsafe_code,
            reason = "deserializing runs native code from the file. Sound here: the file is in \
                      our own cache directory, written only by `DiskCache::component` from \
                      `Engine::precompile_component` (the host refuses a cache directory \
                      inside the workspace, where skills could write), and wasmtime checks \
                      its header against this engine's version and configuration, refusing \
                      any other"
        )]
        // The seed directory is read-only and made by `openlegion-agent precompile` of the
        // same binary (see `SkillHostSettings::seed_cache_dir`), the same engine as this one.
        // SAFETY: see the `expect` reason above.
        let component = unsafe { Component::deserialize_file(&engine, &path) };
        component
    })
    .await
    .map_err(wasmtime::Error::new)?
}

/// Writes `bytes` to a temporary file beside `path`, flushes it to disk and renames it into
/// place, so that no reader (another agent process sharing the cache) ever maps a
/// half-written file, and a crash (of the process or the machine) or a full disk leaves
/// either no file or a whole one. A temporary file a crash left behind is never looked at:
/// lookups go by the final name.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    std::io::Write::write_all(&mut tmp, bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map(drop).map_err(|e| e.error)
}
