//! Per-agent rate limits on the mesh API: blackboard writes, messages, publishes and LLM
//! calls a minute (mesh.yaml `rate_limits:`), so one looping agent cannot starve the others
//! of the mesh's database, queues or provider quota.
//!
//! Each limit is one keyed GCRA limiter (governor) with the agent's id as the key: a burst
//! of the limit's own size, refilled evenly over the minute. A refused call gets 429 with
//! `Retry-After` (whole seconds) and a JSON body naming the limit and the agent, and is
//! counted in `/metrics` (`openlegion_rate_limited`). The operator's calls (CLI, channels,
//! webhooks, workflows) are never limited: they are not agents, and their own entry points
//! have limits of their own (webhooks: `rate_per_minute`).
//!
//! What it does not own: identity (the token table and the agent sockets say who calls) or
//! any decision past "too often"; permissions, budgets and lane bounds are checked after it,
//! by the handlers.

mod http;

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, RwLock, Weak};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

pub use http::layer;

use crate::config::{AgentsFile, ConfigError, RateLimitsSection};
use crate::mesh::{Commit, Mesh, Reloadable};

/// Defaults a minute: far above what a working agent does (a turn is a few LLM calls and a
/// handful of writes), low enough that a tight loop is cut to a trickle.
pub const DEFAULT_BLACKBOARD_WRITES: u32 = 6000;
pub const DEFAULT_MESSAGES: u32 = 3000;
pub const DEFAULT_PUBLISHES: u32 = 3000;
pub const DEFAULT_LLM_CALLS: u32 = 600;

/// What is limited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Limit {
    BlackboardWrites,
    Messages,
    Publishes,
    LlmCalls,
}

impl Limit {
    /// The name in `/metrics`, in 429 bodies and (with `_per_minute`) in mesh.yaml.
    pub fn name(self) -> &'static str {
        match self {
            Limit::BlackboardWrites => "blackboard_writes",
            Limit::Messages => "messages",
            Limit::Publishes => "publishes",
            Limit::LlmCalls => "llm_calls",
        }
    }

    /// This limit's key in a `rate_limits:` section.
    fn of_section(self, section: &RateLimitsSection) -> Option<u32> {
        match self {
            Limit::BlackboardWrites => section.blackboard_writes_per_minute,
            Limit::Messages => section.messages_per_minute,
            Limit::Publishes => section.publishes_per_minute,
            Limit::LlmCalls => section.llm_calls_per_minute,
        }
    }

    /// The limit a request counts against, by method and path; `None` for the rest.
    pub fn of(method: &axum::http::Method, path: &str) -> Option<Limit> {
        use axum::http::Method;
        let post = method == Method::POST;
        match path {
            "/mesh/message" if post => Some(Limit::Messages),
            "/mesh/publish" if post => Some(Limit::Publishes),
            "/mesh/api" | "/mesh/api/stream" if post => Some(Limit::LlmCalls),
            "/mesh/blackboard/claim" if post => Some(Limit::BlackboardWrites),
            p if p.starts_with("/mesh/blackboard/")
                && (method == Method::PUT || method == Method::DELETE) =>
            {
                Some(Limit::BlackboardWrites)
            }
            _ => None,
        }
    }
}

/// A call refused for being over a limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "agent {agent} is over its rate limit of {} ({per_minute} a minute); retry in {retry_after_secs} s",
    limit.name()
)]
pub struct Refusal {
    pub agent: String,
    pub limit: Limit,
    pub per_minute: u32,
    pub retry_after_secs: u64,
}

/// One quota's limiter, keyed by agent.
type Limiter = DefaultKeyedRateLimiter<String>;

/// The limiters. An agent's quota of a limit is its agents.yaml `rate_limits:` value, else
/// mesh.yaml's, else the default; agents with the same quota share one keyed limiter (each
/// still has its own allowance), so an agent whose quota a reload changes starts afresh.
#[derive(Debug)]
pub struct Limits {
    /// mesh.yaml's quotas with the defaults filled in; `0` is off.
    mesh: RateLimitsSection,
    /// agents.yaml's `rate_limits:` of the agents that set one.
    own: RwLock<HashMap<String, RateLimitsSection>>,
    limiters: Mutex<HashMap<(Limit, NonZeroU32), Arc<Limiter>>>,
}

impl Limits {
    /// The limits of mesh.yaml's `rate_limits:` section (defaults where unset; `0` is off)
    /// and of each agent's own section in `agents`.
    pub fn new(section: &RateLimitsSection, agents: &AgentsFile) -> Self {
        let mesh = RateLimitsSection {
            blackboard_writes_per_minute: Some(
                section
                    .blackboard_writes_per_minute
                    .unwrap_or(DEFAULT_BLACKBOARD_WRITES),
            ),
            messages_per_minute: Some(section.messages_per_minute.unwrap_or(DEFAULT_MESSAGES)),
            publishes_per_minute: Some(section.publishes_per_minute.unwrap_or(DEFAULT_PUBLISHES)),
            llm_calls_per_minute: Some(section.llm_calls_per_minute.unwrap_or(DEFAULT_LLM_CALLS)),
        };
        let limits = Self {
            mesh,
            own: RwLock::new(HashMap::new()),
            limiters: Mutex::new(HashMap::new()),
        };
        limits.set_agents(agents);
        limits
    }

    /// Takes the agents' own sections from a (re)loaded agents.yaml.
    pub fn set_agents(&self, agents: &AgentsFile) {
        let own = agents
            .agents
            .iter()
            .filter_map(|(id, agent)| Some((id.to_string(), agent.rate_limits.clone()?)))
            .collect();
        *self.own.write().expect("rate limits lock") = own;
    }

    /// `agent`'s quota of `limit` a minute, `None` when it is off.
    pub fn per_minute(&self, agent: &str, limit: Limit) -> Option<u32> {
        let own = self.own.read().expect("rate limits lock");
        let n = own
            .get(agent)
            .and_then(|section| limit.of_section(section))
            .or_else(|| limit.of_section(&self.mesh))
            .unwrap_or(0);
        (n > 0).then_some(n)
    }

    /// Takes one call of `limit` from `agent`'s allowance.
    pub fn check(&self, agent: &str, limit: Limit) -> Result<(), Refusal> {
        let Some(per_minute) = self.per_minute(agent, limit).and_then(NonZeroU32::new) else {
            return Ok(());
        };
        let limiter = Arc::clone(
            self.limiters
                .lock()
                .expect("rate limiters lock")
                .entry((limit, per_minute))
                .or_insert_with(|| Arc::new(RateLimiter::keyed(Quota::per_minute(per_minute)))),
        );
        limiter.check_key(&agent.to_owned()).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            crate::counters::rate_limited(agent, limit.name());
            Refusal {
                agent: agent.to_owned(),
                limit,
                per_minute: per_minute.get(),
                // Whole seconds, rounded up, at least one: a client that waits this long
                // finds a token.
                retry_after_secs: (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1),
            }
        })
    }
}

/// Re-reads the agents' own limits on every reload (`POST /mesh/reload`, `SIGHUP`).
#[derive(Debug)]
struct Reload(Weak<Limits>);

impl Reloadable for Reload {
    fn prepare(&self, agents: &AgentsFile) -> Result<(Commit, Option<String>), ConfigError> {
        let Some(limits) = self.0.upgrade() else {
            return Ok((Box::new(|| {}), None));
        };
        let agents = agents.clone();
        let n = agents
            .agents
            .values()
            .filter(|a| a.rate_limits.is_some())
            .count();
        // Said only when some agent has limits of its own: the mesh's are not reloaded.
        let line = (n > 0).then(|| format!("rate limits of {n} agents"));
        Ok((Box::new(move || limits.set_agents(&agents)), line))
    }
}

/// Registers the reload of the agents' own limits with the mesh.
pub fn install(limits: &Arc<Limits>, mesh: &Mesh) {
    mesh.on_reload(Arc::new(Reload(Arc::downgrade(limits))));
}

#[cfg(test)]
mod tests {
    use axum::http::Method;

    use super::*;

    #[test]
    fn requests_count_against_their_limit() {
        let of = |m: Method, p: &str| Limit::of(&m, p);
        assert_eq!(
            of(Method::PUT, "/mesh/blackboard/a/b"),
            Some(Limit::BlackboardWrites)
        );
        assert_eq!(
            of(Method::DELETE, "/mesh/blackboard/a"),
            Some(Limit::BlackboardWrites)
        );
        assert_eq!(
            of(Method::POST, "/mesh/blackboard/claim"),
            Some(Limit::BlackboardWrites)
        );
        assert_eq!(of(Method::GET, "/mesh/blackboard/a"), None);
        assert_eq!(of(Method::POST, "/mesh/blackboard/watch"), None);
        assert_eq!(of(Method::POST, "/mesh/message"), Some(Limit::Messages));
        assert_eq!(of(Method::POST, "/mesh/publish"), Some(Limit::Publishes));
        assert_eq!(of(Method::POST, "/mesh/api"), Some(Limit::LlmCalls));
        assert_eq!(of(Method::POST, "/mesh/api/stream"), Some(Limit::LlmCalls));
        assert_eq!(of(Method::GET, "/mesh/inbox"), None);
    }

    fn agents(yaml: &str) -> AgentsFile {
        crate::config::parse_agents(std::path::Path::new("agents.yaml"), yaml).unwrap()
    }

    /// Each key of `rate_limits:` sets its limiter; `0` turns it off; unset keys keep the
    /// defaults.
    #[test]
    fn rate_limits_section_keys_set_the_quotas() {
        let none = AgentsFile::default();
        let defaults = Limits::new(&RateLimitsSection::default(), &none);
        assert_eq!(
            defaults.per_minute("a", Limit::BlackboardWrites),
            Some(DEFAULT_BLACKBOARD_WRITES)
        );
        assert_eq!(
            defaults.per_minute("a", Limit::LlmCalls),
            Some(DEFAULT_LLM_CALLS)
        );
        let limits = Limits::new(
            &RateLimitsSection {
                blackboard_writes_per_minute: Some(2),
                messages_per_minute: Some(0),
                publishes_per_minute: Some(1),
                llm_calls_per_minute: Some(3),
            },
            &none,
        );
        assert_eq!(limits.per_minute("a", Limit::Messages), None, "0 is off");
        assert_eq!(limits.per_minute("a", Limit::LlmCalls), Some(3));
        for _ in 0..100 {
            limits.check("a", Limit::Messages).unwrap();
        }
        limits.check("a", Limit::BlackboardWrites).unwrap();
        limits.check("a", Limit::BlackboardWrites).unwrap();
        let refused = limits.check("a", Limit::BlackboardWrites).unwrap_err();
        assert_eq!(refused.limit, Limit::BlackboardWrites);
        assert_eq!(refused.per_minute, 2);
        assert!((1..=30).contains(&refused.retry_after_secs), "{refused}");
        // Agents have allowances of their own; limits are independent of each other.
        limits.check("b", Limit::BlackboardWrites).unwrap();
        limits.check("a", Limit::Publishes).unwrap();
        assert!(limits.check("a", Limit::Publishes).is_err());
        for _ in 0..3 {
            limits.check("a", Limit::LlmCalls).unwrap();
        }
        assert!(limits.check("a", Limit::LlmCalls).is_err());
    }

    /// An agent's own `rate_limits:` overrides mesh.yaml key by key, `0` turns a limit off
    /// for it alone, and a reload's agents.yaml puts new figures in force.
    #[test]
    fn an_agents_own_limits_override_the_meshs_key_by_key() {
        let mesh = RateLimitsSection {
            blackboard_writes_per_minute: Some(2),
            messages_per_minute: Some(2),
            ..RateLimitsSection::default()
        };
        let limits = Limits::new(
            &mesh,
            &agents(
                "agents:\n  busy:\n    rate_limits: {blackboard_writes_per_minute: 5, messages_per_minute: 0}\n  plain: {}\n",
            ),
        );
        assert_eq!(limits.per_minute("busy", Limit::BlackboardWrites), Some(5));
        assert_eq!(limits.per_minute("busy", Limit::Messages), None);
        assert_eq!(
            limits.per_minute("busy", Limit::Publishes),
            Some(DEFAULT_PUBLISHES),
            "a key the agent leaves out keeps the mesh's figure"
        );
        assert_eq!(limits.per_minute("plain", Limit::BlackboardWrites), Some(2));
        for _ in 0..5 {
            limits.check("busy", Limit::BlackboardWrites).unwrap();
        }
        let refused = limits.check("busy", Limit::BlackboardWrites).unwrap_err();
        assert_eq!(refused.per_minute, 5);
        for _ in 0..50 {
            limits.check("busy", Limit::Messages).unwrap();
        }
        limits.check("plain", Limit::BlackboardWrites).unwrap();
        limits.check("plain", Limit::BlackboardWrites).unwrap();
        assert_eq!(
            limits
                .check("plain", Limit::BlackboardWrites)
                .unwrap_err()
                .per_minute,
            2
        );

        // The reload drops busy's section: the mesh's figure, with a fresh allowance.
        limits.set_agents(&agents("agents:\n  busy: {}\n"));
        assert_eq!(limits.per_minute("busy", Limit::BlackboardWrites), Some(2));
        assert_eq!(limits.per_minute("busy", Limit::Messages), Some(2));
    }

    #[test]
    fn an_agents_section_is_strict() {
        let err = crate::config::parse_agents(
            std::path::Path::new("agents.yaml"),
            "agents:\n  a:\n    rate_limits: {writes: 5}\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("writes"), "{err}");
        assert!(err.contains("rate_limits"), "{err}");
    }
}
