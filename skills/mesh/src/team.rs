//! The team tools: sub-agents (`spawn_agent`), other agents' history
//! (`read_agent_history`) and their artifacts (`read_artifact`).
//!
//! The mesh decides everything here (whether this agent may spawn, how long a sub-agent
//! lives and what it may spend, whose history it may read); this module only shapes the
//! arguments, and passes the mesh's answers and refusals through to the model.

use openlegion_skill_sdk::prelude::*;

/// Arguments of `spawn_agent`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SpawnAgent {
    /// The sub-agent's role in a few words, e.g. "researcher".
    pub(crate) role: String,
    /// What it must do, as a complete task: it knows nothing else about your work.
    pub(crate) instructions: String,
    /// Seconds it lives before it is stopped and its files deleted (default and maximum
    /// set by the mesh).
    pub(crate) ttl: Option<u32>,
    /// USD it may spend, taken out of your own budget (default set by the mesh).
    pub(crate) budget_usd: Option<f64>,
}

pub(crate) fn spawn_agent(args: SpawnAgent) -> Result<Value, String> {
    mesh::spawn_agent(&args.role, &args.instructions, args.ttl, args.budget_usd)
}

/// Arguments of `read_agent_history`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReadAgentHistory {
    /// The agent's name (see list_agents), or the id spawn_agent returned.
    pub(crate) agent: String,
    /// How many recent log entries to return (default 20, at most 200).
    pub(crate) limit: Option<u32>,
}

pub(crate) fn read_agent_history(args: ReadAgentHistory) -> Result<Value, String> {
    mesh::read_agent_history(&args.agent, args.limit.unwrap_or(0))
}

/// Arguments of `read_artifact`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReadArtifact {
    /// The agent that saved it.
    pub(crate) agent: String,
    /// The artifact's file name, e.g. "report.md" (list_shared_state with prefix
    /// "artifacts/<agent>/" shows what there is).
    pub(crate) name: String,
}

pub(crate) fn read_artifact(args: ReadArtifact) -> Result<Value, String> {
    mesh::read_artifact(&args.agent, &args.name)
}
