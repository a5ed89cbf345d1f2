//! The agent's built-in skills compiled ahead of time, carried by every agent image.
//!
//! Without them each new agent compiles its built-in skills with Cranelift on first start
//! (about 2.5 s of CPU): fifty agents started at once spend a minute on two cores doing the
//! same work fifty times. The mesh asks the agent binary itself to compile them
//! (`openlegion-agent precompile DIR`) once per image, so the files match that binary's
//! engine exactly; agents then map them (`SKILL_CACHE_SEED_DIR`). An engine that refuses
//! them (another CPU, say) compiles as before.

use std::path::Path;
use std::time::Duration;

use super::tarball::{Source, Tarball};

/// Where the compiled built-in skills are, inside every agent image.
pub(crate) const DIR: &str = "/opt/openlegion/skill-cache";

/// Compiling the built-in skills takes a few seconds; allow for a loaded machine.
const DEADLINE: Duration = Duration::from_secs(300);

/// Adds the built-in skills, compiled by `binary`, under `at` in `tarball` (`at` is
/// [`DIR`], relative for a build context). Without them agents compile their own, so a
/// failure is only reported through `progress`.
pub(crate) async fn add(
    tarball: &mut Tarball,
    binary: &Path,
    at: &str,
    progress: &(dyn Fn(&str) + Send + Sync),
) {
    match compile(binary).await {
        Ok(files) => {
            for (name, bytes) in files {
                tarball.file(format!("{at}/{name}"), Source::Bytes(bytes), 0o644);
            }
        }
        Err(problem) => progress(&format!(
            "warning: the built-in skills could not be compiled ahead of time ({problem}); \
             each agent compiles its own on first start"
        )),
    }
}

/// The `.cwasm` files `binary precompile` makes, by name.
async fn compile(binary: &Path) -> Result<Vec<(String, Vec<u8>)>, String> {
    let dir = tempfile::tempdir().map_err(|e| format!("a temporary directory: {e}"))?;
    let run = tokio::process::Command::new(binary)
        .arg("precompile")
        .arg(dir.path())
        .env_clear()
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(DEADLINE, run)
        .await
        .map_err(|_| {
            format!(
                "{} precompile took over {}s",
                binary.display(),
                DEADLINE.as_secs()
            )
        })?
        .map_err(|e| format!("cannot run {}: {e}", binary.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} precompile: {}: {}",
            binary.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let path = dir.path().to_owned();
    tokio::task::spawn_blocking(move || {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(&path)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".cwasm") {
                files.push((name, std::fs::read(entry.path())?));
            }
        }
        files.sort();
        Ok::<_, std::io::Error>(files)
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| format!("reading the compiled skills: {e}"))
}
