//! End-to-end tests: real `openlegion` mesh processes on loopback, driven over HTTP and
//! through the CLI. Modules by topic; tests that reproduce an acceptance case of the Python
//! original name it by what it checks.

mod acl;
mod agent_durability;
mod agents;
mod authoring;
mod blackboard;
mod browser;
mod channels;
mod cli;
mod concurrency;
mod config_keys;
mod containers;
mod containers_authoring;
mod context;
mod create_skill;
mod cron;
mod disk_full;
mod durability;
mod embeddings;
mod escape;
mod first_run;
mod heartbeats;
mod hostile;
mod identity;
mod lanes;
mod learnings;
mod llm_proxy;
mod local_model;
mod loops;
mod memory;
mod memory_tools;
mod metrics;
mod microvm;
mod pubsub;
mod rate_limits;
mod reactions;
mod routing;
mod search;
mod secrets;
mod skill_cli;
mod skills;
mod spawn;
mod ssrf;
mod team;
mod watchers;
mod webhooks;
mod workflows;

use std::path::PathBuf;
use std::sync::OnceLock;

use serde_json::Value;

/// The built-in skills compiled once for this test process (`openlegion-agent precompile`),
/// as the `SKILL_CACHE_SEED_DIR` variable of a mesh: tests that start many agents (or
/// restart them) would otherwise compile the skills once per agent on a loaded machine.
fn skill_seed() -> (String, String) {
    static SEED: OnceLock<PathBuf> = OnceLock::new();
    let dir = SEED.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("skill-seed");
        let out = std::process::Command::new(openlegion_tests::binary(
            "openlegion-agent",
            "openlegion-agent",
        ))
        .arg("precompile")
        .arg(&dir)
        .output()
        .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        dir
    });
    ("SKILL_CACHE_SEED_DIR".into(), dir.display().to_string())
}

/// The messages waiting in an agent's inbox (without acknowledging them).
async fn inbox(agent: &openlegion_tests::Client) -> Vec<Value> {
    let page = agent.get("/mesh/inbox").await.expect(200);
    page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["message"].clone())
        .collect()
}

/// The outputs of the tools a chat turn called, in order.
fn outputs(reply: &Value) -> Vec<String> {
    reply["tool_outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["output"].as_str().unwrap_or_default().to_owned())
        .collect()
}
