//! `create_skill` inside real containers on the full image, for what the process-backend
//! tests of `authoring` cannot show: a Rust skill built by the toolchain the image carries
//! (no network in the container), and a skill created and called under gVisor.
//!
//! Every test holds the engine lock (shared) and builds the full image through `setup`
//! first (minutes the first time on a machine, seconds after).

use std::time::Instant;

use openlegion_mock_llm::MockLlm;
use openlegion_tests::docker::{engine_shared, full_image_buildable, gvisor_available};
use openlegion_tests::{MeshProcess, agent_mesh_with, container_runtime};
use serde_json::json;

use crate::create_skill::create_and_reverse;

/// A builder on the full image: a build needs memory and CPU beside the agent's own.
const BUILDER: &str = "agents:\n  alpha:\n    role: builder\n    image: full\n    resources:\n      \
                       memory_limit: 2g\n      cpu_limit: 2\n";

/// Builds the full image with `openlegion setup` for `isolation`, then starts a mesh.
async fn full_image_mesh(mock: &MockLlm, isolation: &str) -> MeshProcess {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::create_dir(&config).unwrap();
    std::fs::write(
        config.join("mesh.yaml"),
        format!("mesh:\n  port: 0\n{}", container_runtime(isolation, "")),
    )
    .unwrap();
    std::fs::write(config.join("agents.yaml"), BUILDER).unwrap();
    let started = Instant::now();
    let setup = openlegion_tests::cli(&config, &["setup"]);
    assert!(
        setup.status.success(),
        "setup failed:\n{}",
        String::from_utf8_lossy(&setup.stderr)
    );
    eprintln!("setup (the full image) took {:?}", started.elapsed());
    agent_mesh_with(
        mock,
        BUILDER,
        json!({"alpha": {}}),
        &container_runtime(isolation, ""),
    )
    .await
}

/// Issue 7: the full image carries a Rust toolchain and the warm template, so an agent
/// writes a Rust skill in its container (no network there) and calls it in the same chat.
#[tokio::test]
async fn a_rust_skill_is_built_inside_a_container_on_the_full_image() {
    if !full_image_buildable("a_rust_skill_is_built_inside_a_container_on_the_full_image") {
        return;
    }
    let _engine = engine_shared().await;
    let mock = MockLlm::start().await;
    let mesh = full_image_mesh(&mock, "docker").await;
    let code = "use openlegion_skill_sdk::prelude::*;\n\n\
                #[derive(Deserialize, JsonSchema)]\nstruct Text {\n    /// The text to reverse.\n    text: String,\n}\n\n\
                fn reverse(args: Text) -> Result<String, String> {\n    Ok(args.text.chars().rev().collect())\n}\n\n\
                openlegion_skill_sdk::skill! {\n    reverse: \"Reverse a text.\" => reverse,\n}\n";
    let second = code.replace("Reverse a text.", "Reverse a text, again.");
    for (i, code) in [code.to_owned(), second].into_iter().enumerate() {
        let started = Instant::now();
        let (report, reversed) =
            create_and_reverse(&mesh, &mock, "alpha", "rusty", "rust", &code).await;
        // The first build also copies the template's compiled dependencies to the data
        // volume (the image's root is read-only); the second builds the crate alone.
        eprintln!(
            "rust in a container, build {}: {:?} for create + call: {report}",
            i + 1,
            started.elapsed()
        );
        assert_eq!(report["compiled"], true, "{report}");
        assert_eq!(report["tools"], json!(["reverse"]), "{report}");
        assert_eq!(reversed, "desserts", "{report}");
        // Warm: only the skill's own crate was compiled, not its dependencies.
        assert!(
            report["compile_seconds"].as_f64().unwrap() < 120.0,
            "{report}"
        );
    }
}

/// Issue 7: `create_skill` under gVisor (`isolation: gvisor`) on the full image.
#[tokio::test]
async fn a_skill_is_created_and_called_under_gvisor() {
    if !gvisor_available("a_skill_is_created_and_called_under_gvisor")
        || !full_image_buildable("a_skill_is_created_and_called_under_gvisor")
    {
        return;
    }
    let _engine = engine_shared().await;
    let mock = MockLlm::start().await;
    let mesh = full_image_mesh(&mock, "gvisor").await;
    let code = "export function reverse({ text }) {\n  return [...text].reverse().join(\"\");\n}\n";
    let started = Instant::now();
    let (report, reversed) =
        create_and_reverse(&mesh, &mock, "alpha", "rev", "javascript", code).await;
    eprintln!(
        "javascript under gVisor: {:?} for create + call: {report}",
        started.elapsed()
    );
    assert_eq!(report["compiled"], true, "{report}");
    assert_eq!(reversed, "desserts", "{report}");
    let runtime = openlegion_tests::docker::docker_ok(&[
        "inspect",
        "--format",
        "{{.HostConfig.Runtime}}",
        &format!("openlegion-{}-alpha", mesh.instance()),
    ]);
    assert_eq!(runtime, "runsc");
}
