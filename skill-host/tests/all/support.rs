//! Fixtures built from source, and a host with a temporary workspace around them.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use openlegion_skill_host::testing::{RecordingHttp, RecordingMesh, RecordingProcess};
use openlegion_skill_host::{
    Capabilities, Capability, HttpResponse, LimitsOverride, LoadReport, Manifest, ProcessOutput,
    SkillHost, SkillHostSettings,
};

/// Builds every fixture component (once per test binary) and returns the directory
/// holding the `.wasm` files.
fn fixtures_dir() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("skill-fixtures");
        let output = Command::new(env!("CARGO"))
            .current_dir(&fixtures)
            .args([
                "build",
                "--release",
                "--locked",
                "--target",
                "wasm32-wasip2",
            ])
            .arg("--target-dir")
            .arg(&target)
            .output()
            .expect("run cargo to build the fixtures");
        assert!(
            output.status.success(),
            "building the fixtures failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        target.join("wasm32-wasip2/release")
    })
}

/// The component of fixture `name` (`echo`, `spin`, `reload-v1`, …).
pub(crate) fn fixture(name: &str) -> Vec<u8> {
    let file = fixtures_dir().join(format!("fixture_{}.wasm", name.replace('-', "_")));
    std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

/// A cache directory shared by the tests that do not test the cache, so each fixture is
/// compiled once per run rather than once per test (Cranelift is slow in debug builds).
pub(crate) fn shared_cache() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("skill-cache")
}

/// A host over a fresh workspace, with recording mesh, http and process doubles.
pub(crate) struct TestHost {
    pub(crate) host: SkillHost,
    pub(crate) workspace: PathBuf,
    pub(crate) mesh: Arc<RecordingMesh>,
    pub(crate) http: Arc<RecordingHttp>,
    pub(crate) process: Arc<RecordingProcess>,
    pub(crate) dir: tempfile::TempDir,
}

/// Everything allowed.
pub(crate) const ALL: [Capability; 4] = [
    Capability::Workspace,
    Capability::Http,
    Capability::Mesh,
    Capability::Process,
];

impl TestHost {
    pub(crate) fn new(allowed: &[Capability]) -> Self {
        Self::with(allowed, SkillHostSettings::new(shared_cache()))
    }

    pub(crate) fn with(allowed: &[Capability], config: SkillHostSettings) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let workspace = dir.path().join("data");
        std::fs::create_dir(&workspace).unwrap();
        let workspace = workspace.canonicalize().unwrap();
        let mesh = Arc::new(RecordingMesh::default());
        let http = Arc::new(RecordingHttp::replying(HttpResponse {
            status: 200,
            headers: vec![("content-type".into(), "text/plain".into())],
            body: "hello from the mesh".into(),
            truncated: false,
        }));
        let process = Arc::new(RecordingProcess::replying(ProcessOutput {
            exit_code: 0,
            stdout: "hello from the sandbox\n".into(),
            stderr: String::new(),
            timed_out: false,
            truncated: false,
        }));
        let mut caps = Capabilities::new(&workspace).allowing(allowed.iter().copied());
        caps.mesh = mesh.clone();
        caps.http = http.clone();
        caps.process = process.clone();
        let host = SkillHost::new(config, caps).unwrap();
        TestHost {
            host,
            workspace,
            mesh,
            http,
            process,
            dir,
        }
    }

    /// Loads fixture `fixture` as skill `name` asking for `caps`.
    pub(crate) async fn load(
        &self,
        fixture_name: &str,
        name: &str,
        caps: &[Capability],
    ) -> LoadReport {
        self.load_limited(fixture_name, name, caps, LimitsOverride::default())
            .await
    }

    pub(crate) async fn load_limited(
        &self,
        fixture_name: &str,
        name: &str,
        caps: &[Capability],
        limits: LimitsOverride,
    ) -> LoadReport {
        let manifest = Manifest::new(name, "0.1.0")
            .with_capabilities(caps.iter().copied())
            .with_limits(limits);
        self.host
            .load_bytes(manifest, fixture(fixture_name))
            .await
            .unwrap()
    }

    /// Calls the echo fixture's `cap` tool with `args` (a JSON object).
    pub(crate) async fn cap(&self, args: serde_json::Value) -> Result<String, String> {
        self.host
            .invoke("cap", &args.to_string())
            .await
            .map_err(|e| e.to_string())
    }
}

/// Writes a skill directory `root/dir` with fixture `fixture_name` and `manifest`.
pub(crate) fn skill_dir(root: &Path, dir: &str, fixture_name: &str, manifest: &str) -> PathBuf {
    let path = root.join(dir);
    std::fs::create_dir_all(&path).unwrap();
    replace_file(&path.join("skill.wasm"), &fixture(fixture_name));
    replace_file(&path.join("skill.yaml"), manifest.as_bytes());
    path
}

/// Replaces `path` atomically (write beside it, rename), as a deployment would.
pub(crate) fn replace_file(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// Waits up to 20 s for `condition`.
pub(crate) async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    for _ in 0..2000 {
        if condition() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}
