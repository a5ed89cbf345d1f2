//! Health: poll each agent's `GET /status` over its socket; after three failures in a row
//! restart it, waiting `min(30·2^k, 600)` s before the k-th restart of the last hour; after
//! three restarts in an hour give up and mark it `failed`. A (re)started agent has its
//! backend's start grace (30 s; longer for VMs) to answer for the first time before its
//! failures count.
//!
//! A restart that fails (the engine is down, say) does not count: the watch keeps trying
//! until the agent is back, so an agent recovers by itself when Docker returns.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::config::RuntimeSection;
use crate::mesh::Mesh;
use crate::runtime::{AgentSpec, RuntimeBackend};

/// Failures in a row before a restart.
const FAILURES: u32 = 3;
/// Restarts per hour before giving up.
const MAX_RESTARTS: usize = 3;
const HOUR: Duration = Duration::from_secs(3600);
const MAX_BACKOFF: Duration = Duration::from_secs(600);

/// The wait before the `k`-th restart within the hour.
pub(super) fn backoff(base: Duration, k: usize) -> Duration {
    base.saturating_mul(1u32 << k.min(16)).min(MAX_BACKOFF)
}

/// Starts watching `spec`'s agent until `stop`.
pub(super) fn watch(
    mesh: Arc<Mesh>,
    backend: Arc<dyn RuntimeBackend>,
    spec: AgentSpec,
    runtime: RuntimeSection,
    stop: CancellationToken,
) {
    let interval = Duration::from_millis(runtime.health_interval_ms.unwrap_or(30_000).max(50));
    let base = Duration::from_millis(runtime.restart_backoff_ms.unwrap_or(30_000));
    tokio::spawn(async move {
        let agent = spec.id.to_string();
        let mut failures = 0;
        let mut restarts: VecDeque<Instant> = VecDeque::new();
        // Since when the agent has been starting; `None` once it answered.
        let mut starting = Some(Instant::now());
        loop {
            tokio::select! {
                () = tokio::time::sleep(interval) => {}
                () = stop.cancelled() => return,
            }
            let Some(url) = mesh.registry.url(&agent) else {
                return;
            };
            let link = mesh.links.link(&agent, &url);
            let probe = link
                .request(reqwest::Method::GET, "/status")
                .timeout(Duration::from_secs(5))
                .send()
                .await;
            if probe.is_ok_and(|r| r.status().is_success()) {
                if failures > 0 || mesh.run_state(&agent).as_deref() != Some("running") {
                    tracing::info!(agent, "agent healthy");
                }
                failures = 0;
                starting = None;
                mesh.set_run_state(&agent, "running");
                continue;
            }
            // A container on a loaded machine can take seconds to answer, a VM longer.
            if starting.is_some_and(|since| since.elapsed() < backend.start_grace()) {
                continue;
            }
            failures += 1;
            mesh.set_run_state(&agent, "unreachable");
            tracing::warn!(agent, failures, "agent did not answer its health check");
            if failures < FAILURES {
                continue;
            }
            while restarts.front().is_some_and(|t| t.elapsed() > HOUR) {
                restarts.pop_front();
            }
            if restarts.len() >= MAX_RESTARTS {
                tracing::error!(
                    agent,
                    "agent restarted {MAX_RESTARTS} times within an hour; giving up"
                );
                mesh.set_run_state(&agent, "failed");
                return;
            }
            let wait = backoff(base, restarts.len());
            tracing::warn!(agent, wait_s = wait.as_secs_f64(), "restarting the agent");
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = stop.cancelled() => return,
            }
            match backend.restart(&spec).await {
                Ok(()) => {
                    restarts.push_back(Instant::now());
                    failures = 0;
                    starting = Some(Instant::now());
                    mesh.set_run_state(&agent, "restarting");
                }
                Err(e) => tracing::error!(agent, error = %e, "restart failed; will try again"),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_ten_minutes() {
        let base = Duration::from_secs(30);
        assert_eq!(
            [0, 1, 2, 3, 4, 5].map(|k| backoff(base, k).as_secs()),
            [30, 60, 120, 240, 480, 600]
        );
    }
}
