//! What `/metrics` reads when it is scraped rather than counts as it goes: each lane's
//! depth and oldest age, whether each agent answers, and the tool calls each agent reports
//! in its `GET /status` (asked of all agents at once, each given [`STATUS_TIMEOUT`]).

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use openlegion_protocol::AgentStatus;
use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::counters::{self, Counters, Labels};
use crate::mesh::Mesh;

/// How long an agent may take to answer `GET /status` for a scrape.
const STATUS_TIMEOUT: Duration = Duration::from_secs(2);

/// The whole exposition: the counters kept as events happen, then this scrape's readings.
pub(super) async fn render(mesh: &Mesh) -> String {
    let mut out = String::new();
    encode_registry(&mut out, &counters::get().registry).expect("writing to a String");
    encode_registry(&mut out, &readings(mesh).await).expect("writing to a String");
    encode_eof(&mut out).expect("writing to a String");
    out
}

async fn readings(mesh: &Mesh) -> Registry {
    let mut r = Registry::default();
    let queued = Family::<Labels<1>, Gauge>::default();
    let running = Family::<Labels<1>, Gauge>::default();
    let oldest = Family::<Labels<1>, Gauge<f64, AtomicU64>>::default();
    let up = Family::<Labels<1>, Gauge>::default();
    let calls = Counters::<2>::default();
    let errors = Counters::<2>::default();
    let traps = Counters::<2>::default();
    let loop_warnings = Counters::<1>::default();
    let loop_stops = Counters::<1>::default();

    let agents: Vec<String> = mesh
        .registry
        .snapshot()
        .into_iter()
        .map(|a| a.id.to_string())
        .collect();
    for agent in &agents {
        let l = [("agent", agent.clone())];
        queued.get_or_create(&l).set(0);
        running.get_or_create(&l).set(0);
        oldest.get_or_create(&l).set(0.0);
    }
    match mesh.lanes.status().await {
        Ok(lanes) => {
            for lane in lanes {
                let l = [("agent", lane.agent)];
                queued.get_or_create(&l).set(saturate(lane.queued));
                running.get_or_create(&l).set(saturate(lane.running));
                oldest.get_or_create(&l).set(lane.oldest_age_seconds);
            }
        }
        Err(e) => tracing::warn!(error = %e, "metrics: cannot read the lanes"),
    }

    let statuses =
        futures_util::future::join_all(agents.iter().map(|a| agent_status(mesh, a))).await;
    for (agent, status) in agents.iter().zip(statuses) {
        up.get_or_create(&[("agent", agent.clone())])
            .set(i64::from(status.is_some()));
        if let Some(s) = &status {
            let l = [("agent", agent.clone())];
            loop_warnings.get_or_create(&l).inc_by(s.loop_warnings);
            loop_stops.get_or_create(&l).inc_by(s.loop_stops);
        }
        for (tool, c) in status.map(|s| s.tools).unwrap_or_default() {
            let l = [("agent", agent.clone()), ("tool", tool)];
            calls.get_or_create(&l).inc_by(c.calls);
            errors.get_or_create(&l).inc_by(c.errors);
            traps.get_or_create(&l).inc_by(c.traps);
        }
    }

    r.register(
        "openlegion_lane_queued",
        "Items waiting in each agent's lane",
        queued,
    );
    r.register(
        "openlegion_lane_running",
        "Items of each agent's lane being run",
        running,
    );
    r.register(
        "openlegion_lane_oldest_age_seconds",
        "Age of the oldest unfinished item of each agent's lane",
        oldest,
    );
    r.register(
        "openlegion_agent_up",
        "Whether the agent answered GET /status for this scrape",
        up,
    );
    r.register(
        "openlegion_skill_calls",
        "Tool calls since the agent started, as it reports them",
        calls,
    );
    r.register(
        "openlegion_skill_errors",
        "Tool calls that ended in an error, since the agent started",
        errors,
    );
    r.register(
        "openlegion_loop_warnings",
        "Tool calls the agent's loop detector warned about (same call, arguments and result repeated), since the agent started",
        loop_warnings,
    );
    r.register(
        "openlegion_loop_stops",
        "Turns the agent's loop detector stopped, since the agent started",
        loop_stops,
    );
    r.register(
        "openlegion_skill_traps",
        "Tool calls whose skill instance trapped or hit its fuel, time or memory limit",
        traps,
    );
    r
}

fn saturate(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Agent `id`'s `GET /status`, or `None` when it does not answer in time.
async fn agent_status(mesh: &Mesh, id: &str) -> Option<AgentStatus> {
    let url = mesh.registry.url(id)?;
    let resp = mesh
        .links
        .link(id, &url)
        .request(reqwest::Method::GET, "/status")
        .timeout(STATUS_TIMEOUT)
        .send()
        .await
        .ok()?;
    if !resp.status().is_success() {
        return None;
    }
    resp.json().await.ok()
}
