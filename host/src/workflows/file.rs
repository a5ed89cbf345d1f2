//! A workflow file as written (`config/workflows/NAME.yaml`), before validation: the
//! original's keys, so its files load unchanged, plus `promote_to_blackboard`, the map
//! forms of `trigger` and `on_failure`, and `max_parallel`.
//!
//! Every value whose meaning is checked later (an agent, a step id, a condition) keeps its
//! line and column ([`Spanned`]), so [`super::load`] can say where a mistake is.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_saphyr::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WorkflowFile {
    pub(super) name: Spanned<String>,
    #[serde(default)]
    pub(super) description: Option<String>,
    /// A topic (the original's form), or a map of triggers.
    #[serde(default)]
    pub(super) trigger: Option<Spanned<TriggerSpec>>,
    /// Seconds for the whole run.
    #[serde(default)]
    pub(super) timeout: Option<Spanned<u64>>,
    /// A topic published when a run completes.
    #[serde(default)]
    pub(super) on_complete: Option<Spanned<String>>,
    /// Steps of one run that may run at once.
    #[serde(default)]
    pub(super) max_parallel: Option<Spanned<u32>>,
    pub(super) steps: Spanned<Vec<StepFile>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StepFile {
    pub(super) id: Spanned<String>,
    #[serde(default)]
    pub(super) agent: Option<Spanned<String>>,
    /// The original's alternative to `agent`; it names the agent too.
    #[serde(default)]
    pub(super) capability: Option<Spanned<String>>,
    pub(super) task_type: Spanned<String>,
    #[serde(default)]
    pub(super) input_from: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) depends_on: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) condition: Option<Spanned<String>>,
    /// Seconds for one attempt.
    #[serde(default)]
    pub(super) timeout: Option<Spanned<u64>>,
    #[serde(default)]
    pub(super) on_failure: Option<Spanned<FailureSpec>>,
    #[serde(default)]
    pub(super) max_retries: Option<Spanned<u32>>,
    #[serde(default)]
    pub(super) fallback_agent: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) promote_to_blackboard: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) requires_approval: Option<Spanned<bool>>,
    /// Parsed for the original's files; there are no approval gates.
    #[serde(default)]
    #[expect(
        dead_code,
        reason = "accepted so the original's files load; never used"
    )]
    pub(super) approval_timeout: Option<u64>,
}

/// `trigger:` — `new_lead` (a topic), or a map of any of these.
#[derive(Debug)]
pub(super) enum TriggerSpec {
    Topic(String),
    Map(TriggerMap),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TriggerMap {
    #[serde(default)]
    pub(super) topic: Option<String>,
    /// `POST /webhook/trigger/{name}` starts runs.
    #[serde(default)]
    pub(super) webhook: Option<WebhookSpecOrFlag>,
    /// A cron schedule (5 fields) or `every 30m`.
    #[serde(default)]
    pub(super) cron: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WebhookSpec {
    /// The credential holding the HMAC secret; with it every delivery must be signed.
    #[serde(default)]
    pub(super) secret_env: Option<String>,
    #[serde(default)]
    pub(super) rate_per_minute: Option<u32>,
}

/// `on_failure:` — `retry`, `skip`, `abort`, `fallback` (the original's words, with
/// `max_retries` and `fallback_agent` beside them), or `{retry: N}`, `{fallback: AGENT}`.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum FailureSpec {
    Retry(Option<u32>),
    Skip,
    Abort,
    Fallback(Option<String>),
}

const POLICIES: &[&str] = &["retry", "skip", "abort", "fallback"];

impl<'de> Deserialize<'de> for TriggerSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = TriggerSpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a topic, or a map with topic, webhook and cron")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<TriggerSpec, E> {
                Ok(TriggerSpec::Topic(v.to_owned()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<TriggerSpec, A::Error> {
                TriggerMap::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(TriggerSpec::Map)
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for WebhookSpecOrFlag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = WebhookSpecOrFlag;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("true, or a map with secret_env and rate_per_minute")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<WebhookSpecOrFlag, E> {
                Ok(WebhookSpecOrFlag(v.then(WebhookSpec::default)))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<WebhookSpecOrFlag, A::Error> {
                WebhookSpec::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|w| WebhookSpecOrFlag(Some(w)))
            }
        }
        d.deserialize_any(V)
    }
}

/// `webhook: true` or `webhook: {secret_env: …}`.
#[derive(Debug)]
pub(super) struct WebhookSpecOrFlag(pub(super) Option<WebhookSpec>);

impl<'de> Deserialize<'de> for FailureSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = FailureSpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("retry, skip, abort, fallback, {retry: N} or {fallback: AGENT}")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<FailureSpec, E> {
                match v {
                    "retry" => Ok(FailureSpec::Retry(None)),
                    "skip" => Ok(FailureSpec::Skip),
                    "abort" => Ok(FailureSpec::Abort),
                    "fallback" => Ok(FailureSpec::Fallback(None)),
                    other => Err(E::unknown_variant(other, POLICIES)),
                }
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FailureSpec, A::Error> {
                let Some(key) = map.next_key::<String>()? else {
                    return Err(de::Error::custom(
                        "an empty map: use retry, skip, abort or fallback",
                    ));
                };
                let spec = match key.as_str() {
                    "retry" => FailureSpec::Retry(Some(map.next_value()?)),
                    "fallback" => FailureSpec::Fallback(Some(map.next_value()?)),
                    other => return Err(de::Error::unknown_variant(other, &["retry", "fallback"])),
                };
                if map.next_key::<String>()?.is_some() {
                    return Err(de::Error::custom("one policy only"));
                }
                Ok(spec)
            }
        }
        d.deserialize_any(V)
    }
}
