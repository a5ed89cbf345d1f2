//! `start`'s report of the agents coming up: one line per agent as it answers (its own
//! `GET /status`, through the mesh) or as the mesh gives up on it, so the user sees the
//! fleet come up instead of a silent prompt.

use std::time::{Duration, Instant};

use openlegion_mesh::config::{Config, Isolation};

use super::client::OperatorClient;

/// How long `start` waits for its agents before the REPL opens anyway (an agent's first
/// start compiles its built-in skills: seconds each, minutes for many on a busy machine).
const WAIT: Duration = Duration::from_secs(240);
const POLL: Duration = Duration::from_millis(200);

/// The agents the mesh starts itself (not those of `isolation: external`).
pub(crate) fn expected(config: &Config) -> Vec<String> {
    config
        .agents
        .agents
        .iter()
        .filter(|(_, a)| a.isolation.or(config.mesh.runtime.isolation) != Some(Isolation::External))
        .map(|(id, _)| id.to_string())
        .collect()
}

/// Prints one line per agent of `expected` as it becomes ready or fails; after [`WAIT`]
/// the ones still starting are named and left to come up on their own.
pub(crate) async fn announce(client: &OperatorClient, expected: Vec<String>) {
    let started = Instant::now();
    let mut pending = expected;
    while !pending.is_empty() && started.elapsed() < WAIT {
        let states = client.get("/mesh/agents").await.unwrap_or_default();
        let mut still = Vec::new();
        for id in pending {
            let info = &states[&id];
            if info["state"] == "failed" {
                println!("✗ {id} did not start (see the mesh log)");
            } else if client
                .get(&format!("/mesh/agents/{id}/api/status"))
                .await
                .is_ok()
            {
                let role = info["role"].as_str().unwrap_or_default();
                println!(
                    "✓ {id} ready{} ({:.1}s)",
                    if role.is_empty() {
                        String::new()
                    } else {
                        format!(", {role}")
                    },
                    started.elapsed().as_secs_f64()
                );
            } else {
                still.push(id);
            }
        }
        pending = still;
        if !pending.is_empty() {
            tokio::time::sleep(POLL).await;
        }
    }
    for id in pending {
        println!("… {id} is still starting (`openlegion status` shows when it is up)");
    }
}
