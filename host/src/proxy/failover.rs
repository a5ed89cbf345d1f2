//! Calling a model with retries and failover.
//!
//! For each candidate (the requested model, then its `llm.failover` chain, minus models
//! cooling down): retry the same model twice (0.5 s, then 1 s) on 429, 5xx and network
//! errors, then move down the chain. A request the provider calls malformed (400, 404, 422)
//! or a 402 (no credit) stops the cascade: another model would refuse it too, or the
//! account is out of money. A model without credentials is skipped.
//!
//! A stream that breaks after text has gone out continues on the next model: that model
//! gets the text already sent as a trailing assistant message to continue from, and if it
//! starts over instead, the repeated prefix is dropped, so the client sees every piece of
//! text once.

use std::sync::Arc;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use futures_util::StreamExt;
use openlegion_llm::{
    ChatRequest, ChatResponse, EmbedRequest, EmbedResponse, FailureKind, LlmError, Message, Role,
    StreamEvent, ToolCall, Usage,
};
use tokio::sync::mpsc;

use super::model_health::ModelHealth;
use crate::local_llm::{self, LocalChat};
use crate::vault::{ModelRef, Vault};

/// What a streamed, failed-over call sends on.
#[derive(Debug, Clone, PartialEq)]
pub enum Relay {
    TextDelta(String),
    ToolCall(ToolCall),
    /// The whole answer; `content` is every delta sent, across models.
    Done {
        response: ChatResponse,
        model: String,
    },
    Failed(LlmError),
}

#[derive(Debug)]
pub struct Failover {
    pub(super) vault: Arc<Vault>,
    pub(super) health: Arc<ModelHealth>,
    pub(super) http: reqwest::Client,
    /// `local/…` chat models, run by the mesh itself (called once: no retries).
    pub(super) local: Arc<LocalChat>,
}

fn same_model_retries() -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(500))
        .with_factor(2.0)
        .with_max_times(2)
}

fn retryable(e: &LlmError) -> bool {
    matches!(e.kind(), FailureKind::RateLimited | FailureKind::Transient)
}

/// Whether a failure of one model should send the request to the next.
fn cascades(e: &LlmError) -> bool {
    !matches!(e.kind(), FailureKind::Permanent | FailureKind::Billing)
}

impl Failover {
    fn record(&self, model: &ModelRef, e: &LlmError) {
        // A local request that waited too long in the queue, or whose caller left, says
        // nothing about the model's health.
        if model.provider == local_llm::PROVIDER
            && matches!(e, LlmError::Timeout { .. } | LlmError::StreamCut { .. })
        {
            return;
        }
        let message = self.vault.redactor().redact(&e.to_string()).into_owned();
        let wait = self.health.record_failure(&model.id(), e, message.clone());
        tracing::warn!(model = %model.id(), error = %message, cooldown_s = wait.as_secs(), "LLM call failed");
    }

    /// The candidates for `model` in the order to try them.
    pub fn candidates(&self, model: &ModelRef, chain: &[String]) -> Vec<ModelRef> {
        let mut ids = vec![model.id()];
        for m in chain {
            if let Ok(parsed) = crate::vault::parse_model(m)
                && !ids.contains(&parsed.id())
            {
                ids.push(parsed.id());
            }
        }
        self.health
            .order(&ids)
            .iter()
            .filter_map(|id| crate::vault::parse_model(id).ok())
            .collect()
    }

    /// One complete (non-streamed) call with retries and failover.
    pub async fn chat(
        &self,
        candidates: &[ModelRef],
        req: &ChatRequest,
    ) -> Result<(ChatResponse, ModelRef), LlmError> {
        let mut last = None;
        for model in candidates {
            let mut request = req.clone();
            request.model = model.name.clone();
            let result = if model.provider == local_llm::PROVIDER {
                self.local.chat(&request).await
            } else {
                let endpoint = match self.vault.endpoint(model) {
                    Ok(e) => e,
                    Err(e) => {
                        last = Some(LlmError::Config {
                            message: e.to_string(),
                        });
                        continue;
                    }
                };
                let call = || openlegion_llm::chat(&self.http, &endpoint, &request);
                call.retry(same_model_retries())
                    .when(retryable)
                    .notify(|e, _| self.record(model, e))
                    .await
            };
            match result {
                Ok(response) => {
                    self.health.record_success(&model.id());
                    return Ok((response, model.clone()));
                }
                Err(e) => {
                    self.record(model, &e);
                    if !cascades(&e) {
                        return Err(e);
                    }
                    last = Some(e);
                }
            }
        }
        Err(last.unwrap_or_else(|| LlmError::Config {
            message: "no model to try".into(),
        }))
    }

    /// Embeddings from one model (no failover: another model's vectors would not be
    /// comparable with those already stored).
    pub async fn embed(
        &self,
        model: &ModelRef,
        req: &EmbedRequest,
    ) -> Result<EmbedResponse, LlmError> {
        let endpoint = self.vault.endpoint(model).map_err(|e| LlmError::Config {
            message: e.to_string(),
        })?;
        let mut request = req.clone();
        request.model = model.name.clone();
        let call = || openlegion_llm::embed(&self.http, &endpoint, &request);
        let result = call
            .retry(same_model_retries())
            .when(retryable)
            .notify(|e, _| self.record(model, e))
            .await;
        match &result {
            Ok(_) => self.health.record_success(&model.id()),
            Err(e) => self.record(model, e),
        }
        result
    }

    /// A streamed call with retries and mid-stream failover, relayed into `out` until the
    /// receiver goes away.
    pub async fn stream(
        self: Arc<Self>,
        candidates: Vec<ModelRef>,
        req: ChatRequest,
        out: mpsc::Sender<Relay>,
    ) {
        let mut sent = String::new();
        let mut calls: Vec<ToolCall> = Vec::new();
        let mut usage = Usage::default();
        let mut last = None;
        for model in &candidates {
            let mut request = req.clone();
            request.model = model.name.clone();
            if !sent.is_empty() {
                request.messages.push(Message {
                    role: Role::Assistant,
                    content: sent.clone(),
                    tool_calls: vec![],
                    tool_call_id: None,
                });
            }
            let opened = if model.provider == local_llm::PROVIDER {
                self.local.chat_stream(&request)
            } else {
                let endpoint = match self.vault.endpoint(model) {
                    Ok(e) => e,
                    Err(e) => {
                        last = Some(LlmError::Config {
                            message: e.to_string(),
                        });
                        continue;
                    }
                };
                let open = || openlegion_llm::chat_stream(&self.http, &endpoint, &request);
                open.retry(same_model_retries())
                    .when(retryable)
                    .notify(|e, _| self.record(model, e))
                    .await
            };
            let mut events = match opened {
                Ok(events) => events,
                Err(e) => {
                    self.record(model, &e);
                    if !cascades(&e) {
                        let _ = out.send(Relay::Failed(e)).await;
                        return;
                    }
                    last = Some(e);
                    continue;
                }
            };
            let mut repeat = RepeatFilter::new(&sent);
            let mut failure = None;
            while let Some(event) = events.next().await {
                let relay = match event {
                    Ok(StreamEvent::TextDelta(text)) => {
                        let fresh = repeat.pass(&text);
                        if fresh.is_empty() {
                            continue;
                        }
                        sent.push_str(&fresh);
                        Relay::TextDelta(fresh)
                    }
                    Ok(StreamEvent::ToolCall(call)) => {
                        if calls
                            .iter()
                            .any(|c| c.name == call.name && c.arguments == call.arguments)
                        {
                            continue;
                        }
                        calls.push(call.clone());
                        Relay::ToolCall(call)
                    }
                    Ok(StreamEvent::Done(done)) => {
                        self.health.record_success(&model.id());
                        usage.input_tokens += done.usage.input_tokens;
                        usage.output_tokens += done.usage.output_tokens;
                        for call in done.tool_calls {
                            if !calls
                                .iter()
                                .any(|c| c.name == call.name && c.arguments == call.arguments)
                            {
                                calls.push(call.clone());
                                let _ = out.send(Relay::ToolCall(call)).await;
                            }
                        }
                        let response = ChatResponse {
                            content: std::mem::take(&mut sent),
                            tool_calls: std::mem::take(&mut calls),
                            usage,
                            model: done.model,
                            stop_reason: done.stop_reason,
                        };
                        let _ = out
                            .send(Relay::Done {
                                response,
                                model: model.id(),
                            })
                            .await;
                        return;
                    }
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                };
                if out.send(relay).await.is_err() {
                    return; // the client went away
                }
            }
            let e = failure.unwrap_or_else(|| LlmError::StreamCut {
                provider: model.provider.clone(),
                message: "the stream ended without a final event".into(),
            });
            self.record(model, &e);
            if !cascades(&e) {
                let _ = out.send(Relay::Failed(e)).await;
                return;
            }
            last = Some(e);
        }
        let e = last.unwrap_or_else(|| LlmError::Config {
            message: "no model to try".into(),
        });
        let _ = out.send(Relay::Failed(e)).await;
    }
}

/// Drops a continuation's repeat of text already sent: while what arrives is a prefix of
/// `already`, it is held back; once it covers all of `already`, only the rest goes out; if
/// it diverges first, it was a true continuation and all of it goes out.
#[derive(Debug)]
struct RepeatFilter {
    already: String,
    held: String,
    deciding: bool,
}

impl RepeatFilter {
    fn new(already: &str) -> Self {
        Self {
            already: already.to_owned(),
            held: String::new(),
            deciding: !already.is_empty(),
        }
    }

    fn pass(&mut self, text: &str) -> String {
        if !self.deciding {
            return text.to_owned();
        }
        self.held.push_str(text);
        if self.held.len() >= self.already.len() {
            self.deciding = false;
            let held = std::mem::take(&mut self.held);
            return match held.strip_prefix(self.already.as_str()) {
                Some(rest) => rest.to_owned(),
                None => held,
            };
        }
        if self.already.starts_with(self.held.as_str()) {
            return String::new();
        }
        self.deciding = false;
        std::mem::take(&mut self.held)
    }
}

#[cfg(test)]
mod tests {
    use super::RepeatFilter;

    #[test]
    fn a_continuation_passes_whole() {
        let mut f = RepeatFilter::new("Hello world ");
        assert_eq!(f.pass("and "), "and ");
        assert_eq!(f.pass("more"), "more");
    }

    #[test]
    fn a_restart_drops_its_repeat() {
        let mut f = RepeatFilter::new("Hello world ");
        assert_eq!(f.pass("Hello "), "");
        assert_eq!(f.pass("world and"), "and");
    }

    #[test]
    fn a_false_start_is_released() {
        let mut f = RepeatFilter::new("Hello world ");
        assert_eq!(f.pass("Hel"), "");
        assert_eq!(f.pass("p!"), "Help!");
        assert_eq!(f.pass(" ok"), " ok");
    }

    #[test]
    fn nothing_sent_means_no_filtering() {
        let mut f = RepeatFilter::new("");
        assert_eq!(f.pass("x"), "x");
    }
}
