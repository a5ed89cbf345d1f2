//! `create` in a real skill host, with stand-in compilers (shell scripts laid out as
//! `compilers.sh` installs the real ones) that misbehave in the ways real builds can: a
//! component importing WASI, a build that never ends, a compile error. The real compilers
//! are exercised end to end in `tests/tests/all/authoring.rs`.

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use openlegion_skill_host::{
    Capabilities, LimitsOverride, SkillHost, SkillHostSettings, SkillSource, SkillsCap,
};
use serde_json::json;

use super::Authoring;
use super::compilers::Compilers;
use super::limited::RunLimits;

struct Setup {
    dir: tempfile::TempDir,
    host: SkillHost,
    authoring: Authoring,
}

/// A host whose `skills` capability is an [`Authoring`] compiling Python with `script`
/// (run by /bin/sh in the build directory), or with no compilers when `script` is `None`.
fn setup(script: Option<&str>, wall_clock: Duration) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let compilers = match script {
        Some(script) => {
            let bin = dir.path().join("compilers/componentize-py-0.25.1/bin");
            std::fs::create_dir_all(&bin).unwrap();
            let program = bin.join("componentize-py");
            std::fs::write(&program, format!("#!/bin/sh\n{script}\n")).unwrap();
            std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
            Ok(Compilers::at(dir.path().join("compilers")))
        }
        None => Compilers::from_env_value(None),
    };
    let authoring = Authoring::with(
        data.join("skills"),
        data.join(".skill-staging"),
        ["files".to_owned()],
        compilers,
        RunLimits {
            wall_clock,
            memory_mib: 1024,
        },
    );
    let mut caps = Capabilities::new(&data);
    caps.skills = Arc::new(authoring.clone());
    let host = SkillHost::new(SkillHostSettings::new(dir.path().join("cache")), caps).unwrap();
    authoring.attach(&host);
    Setup {
        dir,
        host,
        authoring,
    }
}

fn source(name: &str) -> SkillSource {
    SkillSource {
        name: name.into(),
        language: "python".into(),
        code: "def reverse(text):\n    return text[::-1]\n".into(),
        tools_json: json!([{"name": "reverse", "description": "Reverse a text.",
                            "parameters": {"type": "object"}}])
        .to_string(),
        capabilities: vec![],
        description: None,
        limits: LimitsOverride::default(),
    }
}

#[tokio::test]
async fn a_component_importing_wasi_is_refused_and_never_loaded() {
    // The built-in `files` skill is a Rust component: it imports wasi:cli and friends.
    let (_, _, files) = crate::skills::builtin::SKILLS
        .iter()
        .find(|(name, ..)| *name == "files")
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let rust = dir.path().join("rust.wasm");
    std::fs::write(&rust, files).unwrap();
    let s = setup(
        Some(&format!("cp {} skill.wasm", rust.display())),
        Duration::from_secs(30),
    );
    let err = s
        .authoring
        .create("authoring", source("sneaky"))
        .await
        .unwrap_err();
    assert!(err.starts_with("skill 'sneaky' imports 'wasi:"), "{err}");
    assert!(
        err.ends_with("a skill written by the agent may import only openlegion:skill interfaces"),
        "{err}"
    );
    assert!(s.host.skills().is_empty());
    assert!(!s.dir.path().join("data/skills/sneaky").exists());
}

#[tokio::test]
async fn a_build_that_never_ends_is_stopped_at_its_time_limit() {
    let s = setup(Some("sleep 60"), Duration::from_secs(1));
    let started = Instant::now();
    let err = s
        .authoring
        .create("authoring", source("slow"))
        .await
        .unwrap_err();
    assert!(
        err.starts_with("the python compiler was stopped after 1 s, its time limit"),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn compile_errors_come_back_with_the_line_of_the_code() {
    let script = "echo 'AssertionError: Traceback (most recent call last):' >&2\n\
                  echo '  File \"/0/skill.py\", line 3' >&2\n\
                  echo 'SyntaxError: invalid syntax' >&2\nexit 1";
    let s = setup(Some(script), Duration::from_secs(30));
    let err = s
        .authoring
        .create("authoring", source("broken"))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        "the python code of skill 'broken' does not compile:\nTraceback (most recent call \
         last):\n  File \"skill.py\", line 3\nSyntaxError: invalid syntax"
    );
}

#[tokio::test]
async fn without_compilers_the_operator_is_told_to_use_the_full_image() {
    let s = setup(None, Duration::from_secs(30));
    let err = s
        .authoring
        .create("authoring", source("any"))
        .await
        .unwrap_err();
    assert!(err.contains("SKILL_COMPILERS is not set"), "{err}");
    assert!(err.contains("image: full"), "{err}");
}

#[tokio::test]
async fn bad_requests_are_refused_before_anything_runs() {
    let s = setup(Some("touch ran; exit 1"), Duration::from_secs(30));
    let mut builtin = source("files");
    builtin.language = "python".into();
    let err = s.authoring.create("authoring", builtin).await.unwrap_err();
    assert_eq!(
        err,
        "'files' is the name of a built-in skill; choose another name"
    );
    let mut cobol = source("x");
    cobol.language = "cobol".into();
    let err = s.authoring.create("authoring", cobol).await.unwrap_err();
    assert!(err.starts_with("unknown language \"cobol\""), "{err}");
    let err = s
        .authoring
        .remove("authoring", "nothing")
        .await
        .unwrap_err();
    assert_eq!(err, "no skill named 'nothing' was created by this agent");
    let err = s.authoring.remove("authoring", "files").await.unwrap_err();
    assert_eq!(err, "'files' is a built-in skill and cannot be removed");
}

#[tokio::test]
async fn a_compiler_killed_by_the_kernel_is_reported_as_memory_trouble() {
    // What the OOM killer does to a compiler when the container's memory runs out.
    let s = setup(Some("kill -9 $$"), Duration::from_secs(30));
    let err = s
        .authoring
        .create("authoring", source("big"))
        .await
        .unwrap_err();
    assert!(
        err.starts_with(
            "the python compiler was killed by signal 9: the sandbox probably ran out of memory"
        ),
        "{err}"
    );
    assert!(err.contains("resources.memory_limit"), "{err}");
}

#[tokio::test]
async fn a_skill_the_operator_installed_is_never_replaced() {
    let s = setup(Some("touch ran; exit 1"), Duration::from_secs(30));
    let installed = s.dir.path().join("data/skills/notes");
    std::fs::create_dir_all(&installed).unwrap();
    std::fs::write(installed.join("skill.yaml"), "name: notes\nversion: '1'\n").unwrap();
    let err = s
        .authoring
        .create("authoring", source("notes"))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        "a skill named 'notes' was installed by the operator, not written by this agent; \
         choose another name"
    );
    let err = s.authoring.remove("authoring", "notes").await.unwrap_err();
    assert_eq!(err, "no skill named 'notes' was created by this agent");
    assert!(installed.join("skill.yaml").is_file());
}
