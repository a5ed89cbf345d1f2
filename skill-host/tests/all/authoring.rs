//! `skills`: what reaches the agent's `SkillsCap` (bounded, named, limits carried over),
//! the refusal when it is not granted, and the check that keeps agent-written components
//! to the `openlegion:skill` world. The compiling itself is the agent's, tested there.

use std::sync::Arc;

use openlegion_skill_host::testing::{Recorded, RecordingSkills};
use openlegion_skill_host::{
    Capabilities, Capability, LimitsOverride, MAX_SOURCE_BYTES, Manifest, SkillHost,
    SkillHostSettings, SkillSource, check_authored,
};
use serde_json::json;

use crate::support::{fixture, shared_cache};

/// A host allowing `allowed`, with a recording `skills` double, and the echo fixture
/// loaded asking for `skills`.
async fn host(allowed: &[Capability]) -> (SkillHost, Arc<RecordingSkills>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let skills = Arc::new(RecordingSkills::default());
    let mut caps = Capabilities::new(dir.path()).allowing(allowed.iter().copied());
    caps.skills = skills.clone();
    let host = SkillHost::new(SkillHostSettings::new(shared_cache()), caps).unwrap();
    let manifest = Manifest::new("echo", "0.1.0").with_capabilities([Capability::Skills]);
    host.load_bytes(manifest, fixture("echo")).await.unwrap();
    (host, skills, dir)
}

async fn cap(host: &SkillHost, args: serde_json::Value) -> Result<String, String> {
    host.invoke("cap", &args.to_string())
        .await
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn create_reaches_the_agent_with_the_source_and_limits() {
    let (host, skills, _dir) = host(&[Capability::Skills]).await;
    let answer = cap(
        &host,
        json!({"op": "create", "name": "rev", "language": "python",
               "code": "def reverse(text): return text[::-1]\n", "tools": "[]",
               "memory_mib": 16}),
    )
    .await;
    assert_eq!(answer.unwrap(), "created rev");
    assert_eq!(
        skills.calls(),
        [Recorded::CreateSkill(
            "echo".into(),
            SkillSource {
                name: "rev".into(),
                language: "python".into(),
                code: "def reverse(text): return text[::-1]\n".into(),
                tools_json: "[]".into(),
                capabilities: vec!["workspace".into()],
                description: None,
                limits: LimitsOverride {
                    fuel: None,
                    memory_mib: Some(16),
                    timeout_ms: None,
                },
            }
        )]
    );
}

#[tokio::test]
async fn bad_names_and_huge_sources_never_reach_the_agent() {
    let (host, skills, _dir) = host(&[Capability::Skills]).await;
    let bad = cap(
        &host,
        json!({"op": "create", "name": "../etc", "language": "python", "code": "x"}),
    )
    .await;
    assert!(
        bad.unwrap_err().contains("invalid name \"../etc\""),
        "a path as a name"
    );
    let huge = cap(
        &host,
        json!({"op": "create", "name": "big", "language": "python", "code": "x",
               "repeat": MAX_SOURCE_BYTES + 1}),
    )
    .await;
    assert!(
        huge.unwrap_err()
            .contains(&format!("more than the {MAX_SOURCE_BYTES} allowed")),
    );
    let remove = cap(&host, json!({"op": "remove", "name": "a/b"})).await;
    assert!(remove.unwrap_err().contains("invalid name"));
    assert!(skills.calls().is_empty());
}

#[tokio::test]
async fn not_granted_is_refused_by_the_host() {
    let (host, skills, _dir) = host(&[Capability::Workspace]).await;
    let refused = cap(
        &host,
        json!({"op": "create", "name": "rev", "language": "python", "code": "x"}),
    )
    .await;
    assert_eq!(
        refused.unwrap_err(),
        "capability 'skills' is not granted to skill 'echo'"
    );
    assert!(skills.calls().is_empty());
}

#[test]
fn an_authored_component_imports_only_the_skill_world() {
    let evil = check_authored("net", &fixture("bad-import"), false).unwrap_err();
    let evil = evil.to_string();
    assert!(
        evil.starts_with("skill 'net' imports 'evil:net/socket@0.1.0', 'wasi:"),
        "{evil}"
    );
    assert!(
        evil.ends_with("a skill written by the agent may import only openlegion:skill interfaces"),
        "{evil}"
    );
    // Rust's std imports WASI: refused for Python and JavaScript (built with WASI stubbed
    // out), allowed for Rust (the host links an empty WASI context).
    let wasi = check_authored("echo", &fixture("echo"), false).unwrap_err();
    assert!(
        wasi.to_string().starts_with("skill 'echo' imports 'wasi:"),
        "{wasi}"
    );
    check_authored("echo", &fixture("echo"), true).unwrap();
    let evil = check_authored("net", &fixture("bad-import"), true).unwrap_err();
    assert!(
        evil.to_string()
            .starts_with("skill 'net' imports 'evil:net/socket@0.1.0': "),
        "WASI allowed, the rest still refused: {evil}"
    );
    let core = check_authored("core", b"\0asm\x01\0\0\0", false).unwrap_err();
    assert!(
        core.to_string().contains("core WebAssembly module"),
        "{core}"
    );
    let garbage = check_authored("junk", b"\0asm\x0d\0\x01\0\xff\xff", false).unwrap_err();
    assert!(garbage.to_string().contains("malformed"), "{garbage}");
}
