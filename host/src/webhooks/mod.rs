//! Webhooks: outside systems call `POST /webhook/hook/{id}` and the payload becomes a turn
//! in the hook's agent's lane, marked as untrusted outside input (trust zone 0).
//!
//! The id (128 random bits) and, where the hook has a secret, the HMAC signature are the
//! only credentials. A delivery id seen within 24 h is answered as a duplicate and not
//! queued again (persisted, so a restart does not reopen the window); each hook has its
//! own rate limit. The hooks are re-read from `config/webhooks.json` when it changes, so
//! `openlegion webhook add` takes effect on a running mesh; a broken edit is logged and the
//! hooks in force stay.

pub mod config;
mod http;
pub mod signature;

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use openlegion_protocol::{AgentId, Origin};

pub use config::{Hook, WEBHOOKS_FILE, WebhooksFile};
pub use http::{MAX_BODY, delivery_id, refusal, routes};
pub use signature::SignatureError;

use crate::config::ConfigError;
use crate::lanes::{LaneError, Lanes, Submission, Work};
use crate::mesh::Registry;
use crate::store::{Store, StoreError, now_micros, webhooks as seen};
use crate::vault::Vault;

/// Body characters quoted into the agent's message (the original's bound).
pub const QUOTED_CHARS: usize = 3000;

/// Why a delivery was not queued.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// (404)
    #[error("Unknown webhook")]
    UnknownHook,
    /// (401)
    #[error(transparent)]
    Signature(#[from] SignatureError),
    /// The hook wants signed deliveries and its secret is not set: refuse them all. (503)
    #[error("the secret of webhook {hook} ({var}) is not set on the mesh")]
    NoSecret { hook: String, var: String },
    /// (429)
    #[error("webhook {hook} is over its rate limit ({per_minute} a minute)")]
    RateLimited {
        hook: String,
        per_minute: u32,
        retry_after_secs: u64,
    },
    /// The hook's agent is not in the fleet. (503)
    #[error("the agent of webhook {hook} is not running")]
    NoAgent { hook: String },
    /// `Full` is a 429.
    #[error(transparent)]
    Lane(#[from] LaneError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One delivery as it arrived.
#[derive(Debug)]
pub struct Delivery<'a> {
    pub hook_id: &'a str,
    pub body: &'a [u8],
    /// The value of `X-Hub-Signature-256`, if sent.
    pub signature: Option<&'a [u8]>,
    /// The sender's delivery id (`X-GitHub-Delivery`, `X-Webhook-Delivery`, `Idempotency-Key`).
    pub delivery_id: Option<&'a str>,
}

/// What became of an accepted delivery.
#[derive(Debug, Clone, PartialEq)]
pub enum Accepted {
    /// In the lane as item `item`.
    Queued { hook: String, item: String },
    /// Its delivery id was seen within 24 h; nothing was queued.
    Duplicate { hook: String },
}

/// What a delivery is checked against: a hook's settings, or those of another receiver of
/// deliveries (a workflow's webhook trigger).
#[derive(Debug, Clone)]
pub struct Gate {
    /// Keeps rate limits and replay ids apart: a hook's id, `workflow:NAME`.
    pub key: String,
    /// For messages: the hook's or the workflow's name.
    pub name: String,
    /// The credential holding the HMAC secret; with it, deliveries must be signed.
    pub secret_env: Option<String>,
    pub rate_per_minute: u32,
}

impl Gate {
    pub fn of(hook: &Hook) -> Self {
        Self {
            key: hook.id.clone(),
            name: hook.name.clone(),
            secret_env: hook.secret_env.clone(),
            rate_per_minute: hook.rate_per_minute(),
        }
    }
}

/// The hooks file as last read, and how it looked on disk then.
#[derive(Debug)]
struct Loaded {
    stamp: Option<(SystemTime, u64)>,
    file: WebhooksFile,
}

/// The webhook service.
#[derive(Debug)]
pub struct Webhooks {
    path: PathBuf,
    loaded: Mutex<Loaded>,
    limiters: Mutex<HashMap<String, (u32, Arc<DefaultDirectRateLimiter>)>>,
    vault: Vault,
    lanes: Arc<Lanes>,
    registry: Arc<Registry>,
    store: Store,
}

fn stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

impl Webhooks {
    /// Reads `config_dir/webhooks.json` (before the mesh opens, so a malformed file stops
    /// the start with its error and nothing running).
    pub fn load(config_dir: &Path) -> Result<(PathBuf, WebhooksFile), ConfigError> {
        let path = config_dir.join(WEBHOOKS_FILE);
        let file = config::load(&path)?;
        Ok((path, file))
    }

    /// The service over the hooks `file` read from `path` by [`load`](Self::load).
    pub fn new(
        (path, file): (PathBuf, WebhooksFile),
        vault: Vault,
        lanes: Arc<Lanes>,
        registry: Arc<Registry>,
        store: Store,
    ) -> Arc<Self> {
        let stamp = stamp(&path);
        Arc::new(Self {
            path,
            loaded: Mutex::new(Loaded { stamp, file }),
            limiters: Mutex::new(HashMap::new()),
            vault,
            lanes,
            registry,
            store,
        })
    }

    /// The hook with id `id`, re-reading the file first if it changed on disk.
    fn hook(&self, id: &str) -> Option<Hook> {
        let now = stamp(&self.path);
        let mut loaded = self.loaded.lock().expect("webhooks lock");
        if now != loaded.stamp {
            match config::load(&self.path) {
                Ok(file) => {
                    tracing::info!(hooks = file.hooks.len(), "webhooks.json re-read");
                    loaded.file = file;
                }
                Err(e) => {
                    tracing::error!(error = %e, "webhooks.json not re-read; the hooks in force stay")
                }
            }
            loaded.stamp = now;
        }
        loaded.file.hooks.get(id).cloned()
    }

    /// The name of the hook with id `id` (the metrics count deliveries by name: the id is a
    /// credential).
    pub fn name_of(&self, id: &str) -> Option<String> {
        self.hook(id).map(|h| h.name)
    }

    /// The HMAC secret named by `var`: a vault credential (`OPENLEGION_CRED_<VAR>`, `.env`)
    /// or, failing that, the mesh's environment variable `var`.
    fn secret(&self, var: &str) -> Option<String> {
        if let Some(s) = self.vault.get(&var.to_lowercase()) {
            return Some(s.expose().to_owned());
        }
        std::env::var(var).ok().filter(|v| !v.is_empty())
    }

    /// Checks a delivery's signature against the gate's secret, then takes one token from
    /// the gate's rate limiter.
    pub fn check(
        &self,
        gate: &Gate,
        body: &[u8],
        signature: Option<&[u8]>,
    ) -> Result<(), WebhookError> {
        if let Some(var) = &gate.secret_env {
            let secret = self.secret(var).ok_or_else(|| WebhookError::NoSecret {
                hook: gate.name.clone(),
                var: var.clone(),
            })?;
            signature::verify(secret.as_bytes(), body, signature)?;
        }
        let rate = gate.rate_per_minute;
        let limiter = {
            let mut limiters = self.limiters.lock().expect("webhooks lock");
            let entry = limiters
                .entry(gate.key.clone())
                .or_insert_with(|| (rate, Arc::new(RateLimiter::direct(quota(rate)))));
            if entry.0 != rate {
                *entry = (rate, Arc::new(RateLimiter::direct(quota(rate))));
            }
            Arc::clone(&entry.1)
        };
        limiter.check().map_err(|_| WebhookError::RateLimited {
            hook: gate.name.clone(),
            per_minute: rate,
            retry_after_secs: 60u64.div_ceil(u64::from(rate)).max(1),
        })
    }

    /// Records `delivery` for the gate; `false` when it was seen within 24 h (a replay).
    pub async fn first_delivery(&self, gate: &Gate, delivery: &str) -> Result<bool, WebhookError> {
        let (g, del) = (gate.key.clone(), delivery.to_owned());
        Ok(self
            .store
            .write(move |c| seen::record(c, &g, &del, now_micros()))
            .await?)
    }

    /// Forgets a delivery recorded by [`first_delivery`](Self::first_delivery) that could
    /// not be queued, so the sender's retry is not taken for a replay.
    pub async fn forget_delivery(&self, gate: &Gate, delivery: &str) {
        let (g, del) = (gate.key.clone(), delivery.to_owned());
        if let Err(e) = self.store.write(move |c| seen::forget(c, &g, &del)).await {
            tracing::error!(error = %e, "cannot forget a refused webhook delivery");
        }
    }

    /// Checks a delivery and queues it in the hook's agent's lane.
    pub async fn deliver(&self, d: Delivery<'_>) -> Result<Accepted, WebhookError> {
        let hook = self.hook(d.hook_id).ok_or(WebhookError::UnknownHook)?;
        let gate = Gate::of(&hook);
        self.check(&gate, d.body, d.signature)?;
        let agent = AgentId::parse(&hook.agent)
            .ok()
            .filter(|a| self.registry.exists(a.as_str()))
            .ok_or_else(|| WebhookError::NoAgent {
                hook: hook.name.clone(),
            })?;
        if let Some(delivery) = d.delivery_id
            && !self.first_delivery(&gate, delivery).await?
        {
            return Ok(Accepted::Duplicate { hook: hook.name });
        }
        let submitted = self
            .lanes
            .submit(Submission {
                agent,
                work: Work::Chat {
                    message: message(&hook, d.body),
                },
                origin: Origin::webhook(hook.name.clone()),
            })
            .await;
        match submitted {
            Ok(ticket) => Ok(Accepted::Queued {
                hook: hook.name,
                item: ticket.id,
            }),
            Err(e) => {
                if let Some(delivery) = d.delivery_id {
                    self.forget_delivery(&gate, delivery).await;
                }
                Err(e.into())
            }
        }
    }
}

fn quota(per_minute: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN))
}

/// The agent's message for a delivery: the hook's name, the body as data (pretty JSON, or
/// the text), cut at [`QUOTED_CHARS`], then what to do with it. The body is only quoted,
/// never interpreted.
pub fn message(hook: &Hook, body: &[u8]) -> String {
    let (lang, text) = match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(v) => (
            "json",
            serde_json::to_string_pretty(&v).expect("a value serialises"),
        ),
        Err(_) => ("text", String::from_utf8_lossy(body).into_owned()),
    };
    let total = text.chars().count();
    let mut quoted: String = text.chars().take(QUOTED_CHARS).collect();
    if total > QUOTED_CHARS {
        quoted.push_str(&format!(
            "\n… ({} more characters cut)",
            total - QUOTED_CHARS
        ));
    }
    let ask = hook
        .instructions
        .as_deref()
        .unwrap_or("Process this webhook payload.");
    format!(
        "Webhook '{}' received:\n```{lang}\n{quoted}\n```\n{ask}",
        hook.name
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_quotes_json_pretty_and_cuts_long_bodies() {
        let hook = Hook::new("gh", "scout", None);
        let m = message(&hook, br#"{"foo":"bar"}"#);
        assert!(m.starts_with("Webhook 'gh' received:\n```json\n"), "{m}");
        assert!(m.contains("\"foo\": \"bar\""), "{m}");
        assert!(m.ends_with("Process this webhook payload."), "{m}");
        let long = "z".repeat(5000);
        let m = message(&hook, long.as_bytes());
        assert_eq!(
            m.matches('z').count(),
            QUOTED_CHARS,
            "exactly the quoted characters"
        );
        assert!(m.contains("2000 more characters cut"), "{m}");
        // The hook's instructions replace the default request.
        let mut told = Hook::new("gh", "scout", None);
        told.instructions = Some("Triage the issue.".into());
        let m = message(&told, b"{}");
        assert!(m.ends_with("Triage the issue."), "{m}");
    }
}
