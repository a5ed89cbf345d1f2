//! Heartbeats: on its schedule, an agent's cheap probes run without the LLM, and only when
//! one of them reports something actionable does the agent get a turn (origin
//! `heartbeat`), told what the probes found and the rules of its HEARTBEAT.md.
//!
//! Probes that look at the mesh run here ([`probes`]): `signals` and `tasks` (blackboard
//! keys `signals/<agent>…`, `tasks/<agent>…` written since the last heartbeat), `inbox`
//! (messages waiting in the agent's inbox) and `lane` (a backlog in its lane). Probes that
//! look inside the agent run there, on its `POST /heartbeat/probes`: `disk` (its data
//! directory's file system over 85 % full), `workspace` (files changed in its workspace
//! since the last heartbeat) and `skills` (every tool its skills mark as a probe). A
//! heartbeat that finds nothing makes no LLM call at all.
//!
//! A heartbeat is a cron job with `heartbeat: true` (the original's shape): agents.yaml's
//! `heartbeat:` or the `set_heartbeat` tool makes it, and [`super::cron`] fires it.

mod probes;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use openlegion_protocol::CronJob;
use serde::{Deserialize, Serialize};

use crate::agent_link::AgentLinks;
use crate::config::DEFAULT_PROBES;
use crate::lanes::Lanes;
use crate::mesh::{Inboxes, Registry};
use crate::store::Store;

/// Probes that run inside the agent.
const AGENT_PROBES: &[&str] = &["disk", "workspace", "skills"];

/// How long the agent may take to run its probes (custom skill probes included).
const AGENT_PROBE_TIMEOUT: Duration = Duration::from_secs(60);

/// Longest HEARTBEAT.md quoted into the turn, in characters.
const MAX_RULES_CHARS: usize = 8000;

/// What one probe found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub probe: String,
    pub actionable: bool,
    pub summary: String,
}

/// What the agent's `POST /heartbeat/probes` answers.
#[derive(Debug, Deserialize)]
struct AgentProbes {
    #[serde(default)]
    results: Vec<Finding>,
    /// Its workspace HEARTBEAT.md.
    #[serde(default)]
    rules: String,
}

/// The outcome of one heartbeat.
#[derive(Debug)]
pub enum Beat {
    /// Nothing actionable: no turn, no LLM call.
    Quiet,
    /// Something to act on: the turn's message.
    Act { message: String },
    /// The probes could not run (the agent is down …).
    Failed { error: String },
}

/// Runs heartbeats.
#[derive(Debug)]
pub struct Heartbeats {
    store: Store,
    lanes: Arc<Lanes>,
    inboxes: Arc<Inboxes>,
    registry: Arc<Registry>,
    links: Arc<AgentLinks>,
}

impl Heartbeats {
    pub fn new(
        store: Store,
        lanes: Arc<Lanes>,
        inboxes: Arc<Inboxes>,
        registry: Arc<Registry>,
        links: Arc<AgentLinks>,
    ) -> Arc<Self> {
        Arc::new(Self {
            store,
            lanes,
            inboxes,
            registry,
            links,
        })
    }

    /// Runs the probes of heartbeat `job` (due at `scheduled`) and decides.
    pub async fn beat(&self, job: &CronJob, scheduled: DateTime<Utc>) -> Beat {
        let names: Vec<&str> = if job.probes.is_empty() {
            DEFAULT_PROBES.to_vec()
        } else {
            job.probes.iter().map(String::as_str).collect()
        };
        let agent = job.agent.as_str();
        let mut findings = Vec::new();
        for name in &names {
            let found = match *name {
                "signals" => probes::keys(&self.store, "signals", agent, job.last_run).await,
                "tasks" => probes::keys(&self.store, "tasks", agent, job.last_run).await,
                "inbox" => probes::inbox(&self.inboxes, agent).await,
                "lane" => probes::lane(&self.lanes, agent).await,
                _ => continue,
            };
            match found {
                Ok(f) => findings.push(f),
                Err(e) => {
                    return Beat::Failed {
                        error: format!("probe {name}: {e}"),
                    };
                }
            }
        }
        let inside: Vec<&str> = names
            .iter()
            .copied()
            .filter(|n| AGENT_PROBES.contains(n))
            .collect();
        let mesh_side_act = findings.iter().any(|f| f.actionable);
        // The agent is asked when it has probes to run, or for its rules when acting.
        let mut rules = String::new();
        if !inside.is_empty() || mesh_side_act {
            match self.agent_probes(agent, &inside, job.last_run).await {
                Ok(answer) => {
                    findings.extend(answer.results);
                    rules = answer.rules;
                }
                Err(e) if !mesh_side_act => return Beat::Failed { error: e },
                Err(e) => {
                    tracing::warn!(agent, error = %e, "heartbeat: the agent's probes did not run")
                }
            }
        }
        if !findings.iter().any(|f| f.actionable) {
            tracing::debug!(agent, "heartbeat: nothing to do");
            return Beat::Quiet;
        }
        Beat::Act {
            message: message(scheduled, &findings, &rules, &job.message),
        }
    }

    async fn agent_probes(
        &self,
        agent: &str,
        probes: &[&str],
        since: Option<DateTime<Utc>>,
    ) -> Result<AgentProbes, String> {
        let url = self
            .registry
            .url(agent)
            .ok_or_else(|| format!("agent {agent} is not running"))?;
        let resp = self
            .links
            .link(agent, &url)
            .request(reqwest::Method::POST, "/heartbeat/probes")
            .timeout(AGENT_PROBE_TIMEOUT)
            .json(&serde_json::json!({"probes": probes, "since": since}))
            .send()
            .await
            .map_err(|e| format!("agent {agent} is unreachable: {e}"))?;
        if !resp.status().is_success() {
            let status = resp.status();
            let text = resp.text().await.unwrap_or_default();
            return Err(format!(
                "agent {agent} refused its probes: HTTP {status}: {}",
                text.chars().take(300).collect::<String>()
            ));
        }
        resp.json()
            .await
            .map_err(|e| format!("agent {agent} answered its probes with bad JSON: {e}"))
    }
}

/// The heartbeat turn: what the probes found, then the rules.
fn message(at: DateTime<Utc>, findings: &[Finding], rules: &str, extra: &str) -> String {
    let mut m = format!(
        "Heartbeat at {}. These probes found something to act on:\n",
        at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    for f in findings.iter().filter(|f| f.actionable) {
        m.push_str(&format!("- [{}] {}\n", f.probe, f.summary));
    }
    let quiet: Vec<&str> = findings
        .iter()
        .filter(|f| !f.actionable)
        .map(|f| f.probe.as_str())
        .collect();
    if !quiet.is_empty() {
        m.push_str(&format!("(Nothing from: {}.)\n", quiet.join(", ")));
    }
    let rules = rules.trim();
    if !rules.is_empty() {
        let cut: String = rules.chars().take(MAX_RULES_CHARS).collect();
        m.push_str(&format!("\nYour heartbeat rules (HEARTBEAT.md):\n{cut}\n"));
    }
    if !extra.trim().is_empty() {
        m.push_str(&format!("\n{}\n", extra.trim()));
    }
    m.push_str("\nAct on what the probes found, following your rules.");
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_lists_what_was_found_and_the_rules() {
        let at = DateTime::parse_from_rfc3339("2026-03-09T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let findings = [
            Finding {
                probe: "signals".into(),
                actionable: true,
                summary: "1 new: signals/scout/build".into(),
            },
            Finding {
                probe: "disk".into(),
                actionable: false,
                summary: "40% used".into(),
            },
        ];
        let m = message(at, &findings, "# Heartbeat\nFix red builds.", "");
        assert!(m.starts_with("Heartbeat at 2026-03-09T10:00:00Z."), "{m}");
        assert!(m.contains("- [signals] 1 new: signals/scout/build"), "{m}");
        assert!(m.contains("(Nothing from: disk.)"), "{m}");
        assert!(
            m.contains("HEARTBEAT.md):\n# Heartbeat\nFix red builds."),
            "{m}"
        );
    }
}
