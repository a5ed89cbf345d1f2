//! Skill components for tests, built from source in this repository: the skill host's
//! fixtures (Rust), and the Python and JavaScript templates of the SDK.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::mesh::MeshProcess;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is in the repository")
}

/// The component of skill-host fixture `name` (`spin`, `hog`, `boom`, `sleepy`,
/// `reload-v1`, …), building the fixtures once per test binary.
pub fn fixture(name: &str) -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let dir = BUILT.get_or_init(|| {
        let target = repo().join("target/skill-fixtures");
        let out = Command::new(env!("CARGO"))
            .current_dir(repo().join("skill-host/tests/fixtures"))
            .args([
                "build",
                "--release",
                "--locked",
                "--target",
                "wasm32-wasip2",
                "--target-dir",
            ])
            .arg(&target)
            .output()
            .expect("run cargo");
        assert!(
            out.status.success(),
            "building the fixtures failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        target.join("wasm32-wasip2/release")
    });
    dir.join(format!("fixture_{}.wasm", name.replace('-', "_")))
}

/// Builds an SDK template (`python` or `javascript`) with its own build script, which
/// installs its pinned compiler on first use. Returns its `dist/<name>/` directory, or
/// `None` (after a counted skip) when the compiler's prerequisite (python3 with venv, or
/// npm) is absent outside CI. A build that fails where they are present fails the test.
pub fn template(language: &str) -> Option<PathBuf> {
    static LOCK: Mutex<()> = Mutex::new(());
    let _one_at_a_time = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let needs: &[Prerequisite] = match language {
        "python" => &[PYTHON],
        _ => &[NPM],
    };
    if !prerequisites_present(&format!("the {language} template"), needs) {
        return None;
    }
    let dir = repo().join("skills-sdk").join(language);
    let out = Command::new("bash")
        .arg(dir.join("build.sh"))
        .output()
        .expect("run bash");
    assert!(
        out.status.success(),
        "building the {language} template failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(dir.join("dist/text-tools"))
}

/// A program a skill compiler installs itself with: how to check it and how to get it.
struct Prerequisite {
    what: &'static str,
    check: &'static str,
    hint: &'static str,
}

const PYTHON: Prerequisite = Prerequisite {
    what: "python3 with venv (componentize-py installs into a venv from PyPI)",
    check: "python3 -c 'import venv, ensurepip'",
    hint: "apt-get install python3-venv",
};

const NPM: Prerequisite = Prerequisite {
    what: "npm (componentize-qjs installs from the npm registry)",
    check: "command -v npm",
    hint: "apt-get install npm",
};

/// Whether every prerequisite is on this machine; skips `test` (loudly, counted) for the
/// first absent one.
fn prerequisites_present(test: &str, needs: &[Prerequisite]) -> bool {
    for need in needs {
        let present = Command::new("sh")
            .args(["-c", need.check])
            .output()
            .is_ok_and(|o| o.status.success());
        if !present {
            crate::skip::skip(test, &format!("{} is absent", need.what), need.hint);
            return false;
        }
    }
    true
}

/// The pinned skill compilers (`skills-sdk/compilers.sh`) and the pre-warmed Rust template,
/// installed on first use into the project's cache; returns the directory to hand agents as
/// `SKILL_COMPILERS`, or `None` (after a counted skip) when their prerequisites are absent
/// outside CI. An install that fails where they are present fails the test.
pub fn compilers() -> Option<PathBuf> {
    static INSTALLED: Mutex<Option<PathBuf>> = Mutex::new(None);
    let mut installed = INSTALLED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(dir) = installed.as_ref() {
        return Some(dir.clone());
    }
    if !prerequisites_present("the skill compilers", &[PYTHON, NPM]) {
        return None;
    }
    let sdk = repo().join("skills-sdk");
    let out = Command::new("bash")
        .arg("-c")
        .arg(
            "source \"$0/compilers.sh\" && ensure_componentize_py && ensure_componentize_qjs \
             && ensure_rust_template && echo \"$SKILL_COMPILERS_CACHE\"",
        )
        .arg(&sdk)
        .output()
        .expect("run bash");
    assert!(
        out.status.success(),
        "installing the skill compilers failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8_lossy(&out.stdout);
    let dir = Path::new(printed.trim())
        .canonicalize()
        .expect("the compilers directory exists");
    *installed = Some(dir.clone());
    Some(dir)
}

impl MeshProcess {
    /// Installs a skill (`skill.wasm` from `wasm`, the manifest `yaml`) into agent `id`'s
    /// skills directory, where the agent hot-loads it.
    pub fn install_skill(&self, id: &str, name: &str, wasm: &Path, yaml: &str) {
        let dir = self.agent_data(id).join("skills").join(name);
        std::fs::create_dir_all(&dir).unwrap();
        // Manifest first: the host reloads when skill.wasm appears or changes.
        std::fs::write(dir.join("skill.yaml"), yaml).unwrap();
        let tmp = dir.join(".skill.wasm.tmp");
        std::fs::copy(wasm, &tmp).unwrap();
        std::fs::rename(tmp, dir.join("skill.wasm")).unwrap();
    }

    /// Waits until agent `id` offers `tool` (hot reload polls once a second; a Python
    /// skill takes seconds to compile).
    pub async fn wait_tool(&self, id: &str, tool: &str) {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let caps = self
                .operator()
                .get(&format!("/mesh/agents/{id}/api/capabilities"))
                .await
                .expect(200);
            if caps["skills"].as_array().unwrap().iter().any(|t| t == tool) {
                return;
            }
            let skills = self
                .operator()
                .get(&format!("/mesh/agents/{id}/api/skills"))
                .await
                .body;
            assert!(
                Instant::now() < deadline,
                "agent {id} never offered {tool}; skills: {skills}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
