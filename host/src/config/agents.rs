//! `config/agents.yaml`: the agents of this installation and their per-agent settings.

use std::collections::BTreeMap;

use openlegion_protocol::AgentId;
use serde::{Deserialize, Serialize};

/// The whole of agents.yaml.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AgentsFile {
    pub agents: BTreeMap<AgentId, AgentConfig>,
}

/// One agent. Field names follow the original (both its v0 and later spellings), so its
/// agents.yaml loads; the original's keys that mean nothing here are refused with what to
/// do instead (`super::unsupported`), never accepted and ignored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AgentConfig {
    pub role: String,
    /// `provider/model`, e.g. `openai/gpt-4o-mini`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Further models this agent may request (its own `model`, the default and the utility
    /// model are always allowed).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_models: Vec<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::unsupported::skills_dir"
    )]
    pub skills_dir: Option<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::unsupported::skills_dir"
    )]
    pub tools_dir: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_prompt: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initial_instructions: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub soul: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initial_soul: Option<String>,
    /// When this agent's heartbeat probes run and which (also the original's text form:
    /// its HEARTBEAT.md rules).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heartbeat: Option<super::HeartbeatSetting>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initial_heartbeat: Option<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::unsupported::initial_interface"
    )]
    pub initial_interface: Option<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::unsupported::thinking"
    )]
    pub thinking: Option<Thinking>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::unsupported::status"
    )]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget: Option<Budget>,
    /// This agent's own limits on the mesh API, key by key over mesh.yaml's `rate_limits:`
    /// (a key it leaves out keeps the mesh's figure; `0` turns that limit off for it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limits: Option<super::RateLimitsSection>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub capabilities: Vec<String>,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "super::unsupported::hints"
    )]
    pub preferred_inputs: Vec<String>,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "super::unsupported::hints"
    )]
    pub expected_outputs: Vec<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::unsupported::escalation_to"
    )]
    pub escalation_to: Option<String>,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "super::unsupported::hints"
    )]
    pub forbidden: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_iterations: Option<u32>,
    /// Tokens of the model's context window, when the built-in table does not know the
    /// model (or to make the agent compact earlier).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context_window: Option<u32>,
    /// Where this agent runs, overriding `runtime.isolation` of mesh.yaml.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub isolation: Option<super::Isolation>,
    /// The container image this agent needs, overriding `runtime.image` of mesh.yaml.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<super::AgentImage>,
    /// This agent's lane: how many items run at once and how many may wait.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lanes: Option<LaneConfig>,
    /// What a message from another agent does: start a turn (default) or only reach the
    /// agent's daily log and inbox.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_message: Option<Reaction>,
    /// The same for events on the topics this agent subscribes to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_event: Option<Reaction>,
}

/// What a delivered message or event does to its agent (`on_message:`, `on_event:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reaction {
    /// A turn through the agent's lane, the message framed as from its source.
    #[default]
    Turn,
    /// Only delivered (daily log, inbox): the agent acts on it when something else wakes it.
    Log,
}

/// `lanes:` of one agent.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LaneConfig {
    /// Items running at once: chat turns still take turns in the agent's one session, so
    /// more than 1 lets tasks run beside the chat and beside each other.
    pub concurrency: u32,
    /// Unfinished items (queued and running) the lane holds before it refuses (429).
    pub max: u32,
}

impl Default for LaneConfig {
    fn default() -> Self {
        Self {
            concurrency: 1,
            max: 100,
        }
    }
}

/// Reasoning effort requested from models that support it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Thinking {
    Off,
    Low,
    Medium,
    High,
}

/// Sandbox resources.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Resources {
    /// Docker-style size: `512m`, `1g`, `262144k` or a byte count.
    pub memory_limit: Option<String>,
    /// CPUs, e.g. `0.5`.
    pub cpu_limit: Option<f64>,
}

/// Spending limits in USD per UTC day and month.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Budget {
    pub daily_usd: Option<f64>,
    pub monthly_usd: Option<f64>,
}

/// Parses a Docker-style memory size into bytes.
pub fn parse_memory_limit(raw: &str) -> Result<u64, String> {
    let trimmed = raw.trim();
    let lower = trimmed.to_ascii_lowercase();
    let lower = lower.strip_suffix('b').unwrap_or(&lower);
    let (digits, multiplier) = match lower.char_indices().last() {
        Some((i, 'k')) => (&lower[..i], 1u64 << 10),
        Some((i, 'm')) => (&lower[..i], 1 << 20),
        Some((i, 'g')) => (&lower[..i], 1 << 30),
        _ => (lower, 1),
    };
    let number: u64 = digits.parse().map_err(|_| {
        format!("{raw:?} is not a memory size; use a number with an optional unit, like 512m or 1g")
    })?;
    let bytes = number
        .checked_mul(multiplier)
        .ok_or_else(|| format!("{raw:?} is too large"))?;
    // Docker refuses limits under 6 MiB; an agent needs more than that anyway.
    if bytes < 6 << 20 {
        return Err(format!("{raw:?} is below the 6m minimum"));
    }
    Ok(bytes)
}

impl AgentConfig {
    /// Checks the values serde cannot: sizes, ranges. Returns (field, message) on error.
    pub(crate) fn validate(&self) -> Result<(), (&'static str, String)> {
        if let Some(res) = &self.resources {
            if let Some(mem) = &res.memory_limit {
                parse_memory_limit(mem).map_err(|m| ("resources.memory_limit", m))?;
            }
            if let Some(cpu) = res.cpu_limit
                && !(cpu.is_finite() && cpu > 0.0 && cpu <= 1024.0)
            {
                return Err((
                    "resources.cpu_limit",
                    format!("{cpu} is not a CPU count in (0, 1024]"),
                ));
            }
        }
        if let Some(budget) = &self.budget {
            for (field, v) in [
                ("budget.daily_usd", budget.daily_usd),
                ("budget.monthly_usd", budget.monthly_usd),
            ] {
                if let Some(v) = v
                    && !(v.is_finite() && v >= 0.0)
                {
                    return Err((field, format!("{v} is not a non-negative amount of USD")));
                }
            }
        }
        if let Some(l) = &self.lanes {
            if !(1..=64).contains(&l.concurrency) {
                return Err((
                    "lanes.concurrency",
                    format!("{} is not a count of 1 to 64", l.concurrency),
                ));
            }
            if !(1..=100_000).contains(&l.max) {
                return Err((
                    "lanes.max",
                    format!("{} is not a bound of 1 to 100000", l.max),
                ));
            }
        }
        if let Some(h) = &self.heartbeat
            && let Some(p) = h.0.unknown_probe()
        {
            return Err((
                "heartbeat.probes",
                format!(
                    "{p:?} is not a probe (one of {})",
                    super::heartbeat::PROBES.join(", ")
                ),
            ));
        }
        if let Some(w) = self.context_window
            && !(1_000..=10_000_000).contains(&w)
        {
            return Err((
                "context_window",
                format!("{w} is not a window of 1000 to 10000000 tokens"),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{AgentsFile, Reaction, parse_memory_limit};

    #[test]
    fn on_message_and_on_event_parse_strictly() {
        let path = std::path::Path::new("config/agents.yaml");
        let f: AgentsFile = crate::config::parse::yaml(
            path,
            "agents:\n  a:\n    role: x\n    on_message: log\n    on_event: turn\n  b:\n    role: y\n",
        )
        .unwrap();
        let (a, b) = (
            &f.agents.values().next().unwrap(),
            f.agents.values().nth(1).unwrap(),
        );
        assert_eq!(
            (a.on_message, a.on_event),
            (Some(Reaction::Log), Some(Reaction::Turn))
        );
        assert_eq!(b.on_message.unwrap_or_default(), Reaction::Turn);
        let bad = crate::config::parse::yaml::<AgentsFile>(
            path,
            "agents:\n  a:\n    role: x\n    on_event: sleep\n",
        )
        .unwrap_err()
        .to_string();
        for part in ["agents.yaml:4:", "on_event", "sleep", "turn", "log"] {
            assert!(bad.contains(part), "{part} missing from: {bad}");
        }
    }

    #[test]
    fn memory_sizes() {
        assert_eq!(parse_memory_limit("512m"), Ok(512 << 20));
        assert_eq!(parse_memory_limit("1G"), Ok(1 << 30));
        assert_eq!(parse_memory_limit("262144k"), Ok(256 << 20));
        assert_eq!(parse_memory_limit("1gb"), Ok(1 << 30));
        assert_eq!(parse_memory_limit("536870912"), Ok(512 << 20));
        assert!(
            parse_memory_limit("lots")
                .unwrap_err()
                .contains("not a memory size")
        );
        assert!(parse_memory_limit("1k").unwrap_err().contains("minimum"));
        assert!(
            parse_memory_limit("99999999999999g")
                .unwrap_err()
                .contains("too large")
        );
    }
}
