//! What the crash tests share: the replayable randomness, the number of rounds, meshes of
//! real agents with a model (a mock queue) each, and the accounting of the mock's requests
//! across kills.

use std::time::{Duration, Instant};

use openlegion_mock_llm::MockLlm;
use openlegion_tests::{MeshProcess, agent_mesh_env};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::Value;

/// Rounds of load and SIGKILL: `OPENLEGION_CRASH_ROUNDS`, default 3.
pub(crate) fn crash_rounds() -> u64 {
    std::env::var("OPENLEGION_CRASH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3)
}

/// The test's randomness: `OPENLEGION_CRASH_SEED` replays a run; the seed is printed.
pub(crate) fn crash_rng() -> StdRng {
    let seed = std::env::var("OPENLEGION_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random::<u64>);
    eprintln!("OPENLEGION_CRASH_SEED={seed}");
    StdRng::seed_from_u64(seed)
}

/// agents.yaml for `ids`, each with a model of its own (`openai/<id>`: a queue of its own
/// in the mock, so one agent's requests and answers pair up in order).
pub(super) fn agents_yaml(ids: &[&str]) -> String {
    let mut yaml = "agents:\n".to_owned();
    for id in ids {
        yaml.push_str(&format!(
            "  {id}:\n    role: {id}\n    model: openai/{id}\n"
        ));
    }
    yaml
}

/// A mesh running agents `ids` on the process backend, with the skill seed.
pub(super) async fn mesh_of(mock: &MockLlm, ids: &[&str], permissions: Value) -> MeshProcess {
    agent_mesh_env(
        mock,
        &agents_yaml(ids),
        permissions,
        "",
        vec![crate::skill_seed()],
    )
    .await
}

/// Restarts a killed mesh and waits for its agents.
pub(super) async fn restart(mesh: &mut MeshProcess, ids: &[&str]) {
    mesh.restart().await;
    for id in ids {
        mesh.wait_agent_within(id, Duration::from_secs(90)).await;
    }
}

/// The mock's requests for each model when the mesh was killed: every call reaches the
/// mock through the mesh's proxy, so none arrives after the kill, and the last one before
/// it is the only one that may have been cut off.
#[derive(Debug, Default)]
pub(super) struct Kills {
    /// Per kill, (model, requests the mock had received for it).
    pub(super) at: Vec<Vec<(String, usize)>>,
}

impl Kills {
    /// Notes the request counts of `models` (call right after the kill).
    pub(super) fn note(&mut self, mock: &MockLlm, models: &[&str]) {
        self.at.push(
            models
                .iter()
                .map(|m| (m.to_string(), mock.requests_for(m).len()))
                .collect(),
        );
    }

    /// Whether request `index` (0-based) of `model` was the last one before a kill: the
    /// only request whose turn a kill can interrupt, so the only one that may run again.
    pub(super) fn interrupted(&self, model: &str, index: usize) -> bool {
        self.at
            .iter()
            .flatten()
            .any(|(m, n)| m == model && *n == index + 1)
    }
}

/// Polls `check` every 100 ms for up to `limit`; panics with `what` otherwise.
pub(super) async fn eventually(limit: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !check() {
        assert!(Instant::now() < deadline, "never {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
