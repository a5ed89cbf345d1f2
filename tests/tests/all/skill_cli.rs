//! `openlegion skill` as a skill author uses it: a project started from the SDK template,
//! built with the real compilers, its tools tried locally, installed into a running agent
//! and called by it; and the mistakes an author makes, each named.

use std::path::Path;
use std::process::Output;

use openlegion_mock_llm::{MockLlm, Turn};
use openlegion_tests::{MODEL_NAME, agent_mesh, cli};
use serde_json::json;

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs `openlegion skill ARGS` against the configuration in `config`.
fn skill(config: &Path, args: &[&str]) -> Output {
    let mut all = vec!["skill"];
    all.extend_from_slice(args);
    cli(config, &all)
}

/// Builds `project`; `false` (after a counted skip) when the compilers' prerequisites are
/// absent here, which CI never accepts. A build that fails where they are present fails
/// the test.
fn built(config: &Path, project: &Path) -> bool {
    if openlegion_tests::compilers().is_none() {
        return false;
    }
    let out = skill(config, &["build", &project.display().to_string()]);
    assert!(
        out.status.success(),
        "building {} failed:\n{}",
        project.display(),
        text(&out)
    );
    true
}

#[tokio::test]
async fn a_python_skill_from_new_to_an_agent_calling_it() {
    let mock = MockLlm::start().await;
    let mesh = agent_mesh(&mock, "agents:\n  a:\n    role: a\n", json!({})).await;
    let config = mesh.config_dir();
    let work = tempfile::tempdir().unwrap();
    let parent = work.path().display().to_string();

    let out = skill(
        &config,
        &["new", "texty", "--lang", "python", "--dir", &parent],
    );
    assert!(out.status.success(), "{}", text(&out));
    let project = work.path().join("texty");
    for file in ["app.py", "build.sh", "skill.yaml"] {
        assert!(project.join(file).is_file(), "{file} missing");
    }
    let dir = project.display().to_string();
    let again = skill(
        &config,
        &["new", "texty", "--lang", "python", "--dir", &parent],
    );
    assert!(text(&again).contains("exists already"), "{}", text(&again));
    let early = skill(&config, &["install", "a", &dir]);
    assert!(
        text(&early).contains("is not built yet"),
        "{}",
        text(&early)
    );

    if !built(&config, &project) {
        return;
    }
    assert!(project.join("dist/texty/skill.wasm").is_file());

    let out = skill(
        &config,
        &["test", "--dir", &dir, "reverse", r#"{"text": "abc"}"#],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "cba");
    let listed = skill(&config, &["test", "--dir", &dir]);
    assert!(
        text(&listed).contains("\"word_count\""),
        "{}",
        text(&listed)
    );
    let unknown = skill(&config, &["test", "--dir", &dir, "nope"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        text(&unknown).contains("no tool named 'nope'"),
        "{}",
        text(&unknown)
    );
    let not_json = skill(&config, &["test", "--dir", &dir, "reverse", "abc"]);
    assert!(
        text(&not_json).contains("not a JSON object"),
        "{}",
        text(&not_json)
    );

    let out = skill(&config, &["install", "a", &dir]);
    assert!(out.status.success(), "{}", text(&out));
    mesh.wait_tool("a", "reverse").await;
    let list = skill(&config, &["list", "a"]);
    assert!(text(&list).contains("texty"), "{}", text(&list));
    mock.push_for(
        MODEL_NAME,
        Turn::tool_call("reverse", json!({"text": "stressed"})),
    );
    mock.push_for(MODEL_NAME, Turn::text("done"));
    let reply = mesh.chat("a", "reverse stressed").await;
    assert_eq!(reply["tool_outputs"][0]["output"], "desserts", "{reply}");

    let nobody = skill(&config, &["install", "zed", &dir]);
    assert!(text(&nobody).contains("no agent zed"), "{}", text(&nobody));
}

#[test]
fn a_rust_skill_builds_against_the_sdk_and_answers_locally() {
    let config = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let parent = work.path().display().to_string();
    let out = skill(
        config.path(),
        &["new", "greet", "--lang", "rust", "--dir", &parent],
    );
    assert!(out.status.success(), "{}", text(&out));
    let project = work.path().join("greet");
    if !built(config.path(), &project) {
        return;
    }
    let dir = project.display().to_string();
    let out = skill(
        config.path(),
        &["test", "--dir", &dir, "reverse", r#"{"text": "abc"}"#],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "cba");
    let bad = skill(
        config.path(),
        &["test", "--dir", &dir, "reverse", r#"{"txt": 1}"#],
    );
    assert_eq!(bad.status.code(), Some(1));
    assert!(text(&bad).contains("unknown field `txt`"), "{}", text(&bad));
}

#[test]
fn mistakes_are_named() {
    let config = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    for (args, expected) in [
        (
            vec!["new", "Bad Name", "--lang", "python"],
            "use 1 to 64 of a-z",
        ),
        (vec!["new", "../up", "--lang", "rust"], "use 1 to 64 of a-z"),
        (vec!["new", "x", "--lang", "cobol"], "invalid value 'cobol'"),
        (vec!["build", "."], "is not a skill project"),
        (vec!["test", "--dir", "."], "is not a skill project"),
    ] {
        let out =
            std::process::Command::new(openlegion_tests::binary("openlegion-mesh", "openlegion"))
                .current_dir(work.path())
                .arg("--config")
                .arg(config.path())
                .arg("skill")
                .args(&args)
                .output()
                .unwrap();
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(text(&out).contains(expected), "{args:?}: {}", text(&out));
    }
}
