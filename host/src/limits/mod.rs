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

use std::num::NonZeroU32;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

pub use http::layer;

use crate::config::RateLimitsSection;

/// Defaults a minute: far above what a working agent does (a turn is a few LLM calls and a
/// handful of writes), low enough that a tight loop is cut to a trickle.
pub const DEFAULT_BLACKBOARD_WRITES: u32 = 6000;
pub const DEFAULT_MESSAGES: u32 = 3000;
pub const DEFAULT_PUBLISHES: u32 = 3000;
pub const DEFAULT_LLM_CALLS: u32 = 600;

/// What is limited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    BlackboardWrites,
    Messages,
    Publishes,
    LlmCalls,
}

impl Limit {
    const ALL: [Limit; 4] = [
        Limit::BlackboardWrites,
        Limit::Messages,
        Limit::Publishes,
        Limit::LlmCalls,
    ];

    /// The name in `/metrics`, in 429 bodies and (with `_per_minute`) in mesh.yaml.
    pub fn name(self) -> &'static str {
        match self {
            Limit::BlackboardWrites => "blackboard_writes",
            Limit::Messages => "messages",
            Limit::Publishes => "publishes",
            Limit::LlmCalls => "llm_calls",
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

/// The limiters, one per limit that is on.
#[derive(Debug)]
pub struct Limits {
    limiters: Vec<(Limit, u32, DefaultKeyedRateLimiter<String>)>,
}

impl Limits {
    /// The limits of mesh.yaml's `rate_limits:` section, defaults where unset; `0` is off.
    pub fn new(section: &RateLimitsSection) -> Self {
        let limiters = Limit::ALL
            .into_iter()
            .filter_map(|limit| {
                let per_minute = match limit {
                    Limit::BlackboardWrites => section
                        .blackboard_writes_per_minute
                        .unwrap_or(DEFAULT_BLACKBOARD_WRITES),
                    Limit::Messages => section.messages_per_minute.unwrap_or(DEFAULT_MESSAGES),
                    Limit::Publishes => section.publishes_per_minute.unwrap_or(DEFAULT_PUBLISHES),
                    Limit::LlmCalls => section.llm_calls_per_minute.unwrap_or(DEFAULT_LLM_CALLS),
                };
                let n = NonZeroU32::new(per_minute)?;
                Some((limit, per_minute, RateLimiter::keyed(Quota::per_minute(n))))
            })
            .collect();
        Self { limiters }
    }

    /// The per-minute figure of `limit`, `None` when it is off.
    pub fn per_minute(&self, limit: Limit) -> Option<u32> {
        self.limiters
            .iter()
            .find(|(l, ..)| *l == limit)
            .map(|(_, n, _)| *n)
    }

    /// Takes one call of `limit` from `agent`'s allowance.
    pub fn check(&self, agent: &str, limit: Limit) -> Result<(), Refusal> {
        let Some((_, per_minute, limiter)) = self.limiters.iter().find(|(l, ..)| *l == limit)
        else {
            return Ok(());
        };
        limiter.check_key(&agent.to_owned()).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            crate::counters::rate_limited(agent, limit.name());
            Refusal {
                agent: agent.to_owned(),
                limit,
                per_minute: *per_minute,
                // Whole seconds, rounded up, at least one: a client that waits this long
                // finds a token.
                retry_after_secs: (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1),
            }
        })
    }
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

    /// Each key of `rate_limits:` sets its limiter; `0` turns it off; unset keys keep the
    /// defaults.
    #[test]
    fn rate_limits_section_keys_set_the_quotas() {
        let defaults = Limits::new(&RateLimitsSection::default());
        assert_eq!(
            defaults.per_minute(Limit::BlackboardWrites),
            Some(DEFAULT_BLACKBOARD_WRITES)
        );
        assert_eq!(
            defaults.per_minute(Limit::LlmCalls),
            Some(DEFAULT_LLM_CALLS)
        );
        let limits = Limits::new(&RateLimitsSection {
            blackboard_writes_per_minute: Some(2),
            messages_per_minute: Some(0),
            publishes_per_minute: Some(1),
            llm_calls_per_minute: Some(3),
        });
        assert_eq!(limits.per_minute(Limit::Messages), None, "0 is off");
        assert_eq!(limits.per_minute(Limit::LlmCalls), Some(3));
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
}
