//! Per-model health: consecutive failures and the cooldown they earn, so failover skips a
//! model that is down instead of waiting for it on every call. In memory: a restart starts
//! everyone healthy.
//!
//! Cooldowns (n = consecutive failures, this one included), as in the original:
//! 429 → min(10·3ⁿ⁻¹, 120) s; 5xx/408/529/network/timeout → min(60·5ⁿ⁻¹, 1500) s;
//! 401/402/403 → 3600 s; anything else → 60 s. A success clears them.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use openlegion_llm::{FailureKind, LlmError};
use serde::Serialize;

/// Cooldowns kept per model for `/mesh/model-health`.
const HISTORY: usize = 8;

#[derive(Debug, Default)]
struct State {
    successes: u64,
    failures: u64,
    consecutive: u32,
    cooldown_until: Option<Instant>,
    last_error: Option<String>,
    cooldowns: VecDeque<u64>,
}

/// One row of `GET /mesh/model-health`.
#[derive(Debug, Clone, Serialize)]
pub struct HealthRow {
    pub model: String,
    pub available: bool,
    pub success_count: u64,
    pub failure_count: u64,
    pub consecutive_failures: u32,
    /// Seconds until the model is tried first again.
    pub cooldown_remaining: f64,
    pub last_error: Option<String>,
    /// The latest cooldowns imposed, oldest first, in seconds.
    pub recent_cooldowns: Vec<u64>,
}

#[derive(Debug, Default)]
pub struct ModelHealth {
    models: Mutex<BTreeMap<String, State>>,
}

/// The cooldown for the `n`th consecutive failure of this kind.
pub fn cooldown(error: &LlmError, n: u32) -> Duration {
    let n = n.max(1) - 1;
    let secs = match (error.kind(), error.status()) {
        (_, Some(401..=403)) => 3600,
        (FailureKind::RateLimited, _) => 10u64.saturating_mul(3u64.saturating_pow(n)).min(120),
        (FailureKind::Transient, _) => 60u64.saturating_mul(5u64.saturating_pow(n)).min(1500),
        _ => 60,
    };
    Duration::from_secs(secs)
}

impl ModelHealth {
    pub fn record_success(&self, model: &str) {
        let mut models = self.models.lock().expect("health lock");
        let s = models.entry(model.to_owned()).or_default();
        s.successes += 1;
        s.consecutive = 0;
        s.cooldown_until = None;
    }

    /// Records a failure (its message already redacted) and returns the cooldown imposed.
    pub fn record_failure(&self, model: &str, error: &LlmError, message: String) -> Duration {
        let mut models = self.models.lock().expect("health lock");
        let s = models.entry(model.to_owned()).or_default();
        s.failures += 1;
        s.consecutive += 1;
        let wait = cooldown(error, s.consecutive);
        s.cooldown_until = Some(Instant::now() + wait);
        s.last_error = Some(message);
        if s.cooldowns.len() == HISTORY {
            s.cooldowns.pop_front();
        }
        s.cooldowns.push_back(wait.as_secs());
        wait
    }

    /// The order in which to try `candidates`: those not cooling down, in the given order;
    /// if every one is cooling down, all of them, soonest-available first (better a model
    /// that may have recovered than no answer).
    pub fn order(&self, candidates: &[String]) -> Vec<String> {
        let now = Instant::now();
        let models = self.models.lock().expect("health lock");
        let until = |m: &String| {
            models
                .get(m)
                .and_then(|s| s.cooldown_until)
                .filter(|t| *t > now)
        };
        let available: Vec<String> = candidates
            .iter()
            .filter(|m| until(m).is_none())
            .cloned()
            .collect();
        if !available.is_empty() {
            return available;
        }
        let mut all = candidates.to_vec();
        all.sort_by_key(|m| until(m));
        all
    }

    pub fn snapshot(&self) -> Vec<HealthRow> {
        let now = Instant::now();
        let models = self.models.lock().expect("health lock");
        models
            .iter()
            .map(|(model, s)| {
                let remaining = s
                    .cooldown_until
                    .map_or(0.0, |t| t.saturating_duration_since(now).as_secs_f64());
                HealthRow {
                    model: model.clone(),
                    available: remaining == 0.0,
                    success_count: s.successes,
                    failure_count: s.failures,
                    consecutive_failures: s.consecutive,
                    cooldown_remaining: remaining,
                    last_error: s.last_error.clone(),
                    recent_cooldowns: s.cooldowns.iter().copied().collect(),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16) -> LlmError {
        LlmError::Status {
            provider: "p".into(),
            status: code,
            message: String::new(),
            retry_after: None,
        }
    }

    fn secs(e: &LlmError, n: u32) -> u64 {
        cooldown(e, n).as_secs()
    }

    #[test]
    fn case_39_40_41_cooldowns() {
        let e500 = status(500);
        assert_eq!([1, 2, 3, 4].map(|n| secs(&e500, n)), [60, 300, 1500, 1500]);
        let e429 = status(429);
        assert_eq!(
            [1, 2, 3, 4, 5].map(|n| secs(&e429, n)),
            [10, 30, 90, 120, 120]
        );
        for code in [401, 402, 403] {
            assert_eq!(secs(&status(code), 1), 3600);
        }
        let net = LlmError::Network {
            provider: "p".into(),
            message: "ConnectionError".into(),
        };
        assert_eq!(secs(&net, 1), 60);
        assert_eq!(secs(&status(418), 1), 60);
    }

    #[test]
    fn case_42_43_candidate_order() {
        let h = ModelHealth::default();
        let chain: Vec<String> = ["m1", "m2", "m3"].map(String::from).to_vec();
        assert_eq!(h.order(&chain), chain);
        h.record_failure("m1", &status(500), "down".into());
        assert_eq!(h.order(&chain), ["m2", "m3"]);
        h.record_success("m1");
        h.record_failure("m2", &status(500), "down".into());
        assert_eq!(h.order(&chain), ["m1", "m3"]);
        // Everyone cooling down: soonest first (429 → 10 s, 500 → 60 s, 401 → 3600 s).
        let h = ModelHealth::default();
        h.record_failure("m1", &status(500), String::new());
        h.record_failure("m2", &status(429), String::new());
        h.record_failure("m3", &status(401), String::new());
        assert_eq!(h.order(&chain), ["m2", "m1", "m3"]);
        let row = h.snapshot().into_iter().find(|r| r.model == "m2").unwrap();
        assert!(!row.available && row.cooldown_remaining > 9.0 && row.recent_cooldowns == [10]);
    }
}
