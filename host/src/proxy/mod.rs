//! The API proxy (`/mesh/api`, `/mesh/api/stream`): how agents use LLMs without ever
//! holding a key.
//!
//! For each request: check `allowed_apis`, read the params, pin the model to what the agent
//! may use, reserve the estimated cost against its budget, call the model with retries and
//! failover, charge the real cost, and answer in the original's shapes. Every error text
//! passes the vault's redactor first.

mod error;
mod failover;
pub mod model_health;
mod params;
mod reply;

use std::collections::BTreeSet;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use openlegion_llm::{ChatRequest, EmbedRequest, Usage};
use openlegion_protocol::{ApiProxyRequest, ApiProxyResponse, EmbedData, ProxyEvent};
use tokio::sync::mpsc;

pub use error::ProxyError;
pub use failover::{Failover, Relay};
use model_health::ModelHealth;

use crate::auth::Caller;
use crate::config::{AgentsFile, LlmSection};
use crate::costs::{Costs, Limits, Reservation};
use crate::embeddings::{self, LocalEmbeddings};
use crate::local_llm::{self, LocalChat};
use crate::permissions::Permissions;
use crate::vault::{ModelRef, Vault, parse_model};

/// Largest `params`, serialised (the original's 4 MiB).
const MAX_PARAMS_BYTES: usize = 4 << 20;

/// Output tokens assumed for a call that sets no `max_tokens`.
const DEFAULT_MAX_TOKENS: u32 = 4096;

#[derive(Debug)]
pub struct Proxy {
    failover: Arc<Failover>,
    costs: Costs,
    permissions: Arc<Permissions>,
    llm: LlmSection,
    agents: RwLock<AgentsFile>,
    /// Agents that are not in agents.yaml (sub-agents), with the configuration they run
    /// under; a reload keeps them.
    ephemeral: RwLock<std::collections::BTreeMap<String, crate::config::AgentConfig>>,
    /// `local/…` embedding models, run by the mesh itself.
    local: LocalEmbeddings,
    /// No credential is configured: unreachable chat models fall over to the local one.
    keyless: bool,
}

/// What a chat request becomes once checked: the model candidates, the request and the
/// budget reservation.
struct Prepared {
    candidates: Vec<ModelRef>,
    request: ChatRequest,
    reservation: Option<Reservation>,
}

impl Proxy {
    pub fn new(
        vault: Arc<Vault>,
        costs: Costs,
        permissions: Arc<Permissions>,
        llm: LlmSection,
        agents: AgentsFile,
        models_dir: &std::path::Path,
        config_dir: &std::path::Path,
    ) -> Self {
        let http = crate::http_client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .expect("an HTTP client with the ring provider builds");
        let local_models = llm
            .local_models
            .iter()
            .map(|(name, path)| (name.clone(), config_dir.join(path)))
            .collect();
        let keyless = local_llm::keyless::is_keyless(&vault);
        let failover = Arc::new(Failover {
            vault,
            health: Arc::new(ModelHealth::default()),
            http,
            local: Arc::new(LocalChat::new(models_dir, local_models)),
        });
        let proxy = Self {
            failover,
            costs,
            permissions,
            llm,
            agents: RwLock::new(AgentsFile::default()),
            ephemeral: RwLock::new(std::collections::BTreeMap::new()),
            local: LocalEmbeddings::new(models_dir),
            keyless,
        };
        proxy.set_agents(agents);
        proxy
    }

    /// Takes a (re)loaded agents.yaml: its models and budgets.
    pub fn set_agents(&self, agents: AgentsFile) {
        let defaults = self
            .llm
            .default_budget
            .as_ref()
            .map_or_else(Limits::default, |b| Limits {
                daily: b.daily_usd.unwrap_or(Limits::default().daily),
                monthly: b.monthly_usd.unwrap_or(Limits::default().monthly),
            });
        let limits = agents
            .agents
            .iter()
            .filter_map(|(id, cfg)| {
                let b = cfg.budget.as_ref()?;
                Some((
                    id.to_string(),
                    Limits {
                        daily: b.daily_usd.unwrap_or(defaults.daily),
                        monthly: b.monthly_usd.unwrap_or(defaults.monthly),
                    },
                ))
            })
            .collect();
        self.costs.budgets().set_limits(defaults, limits);
        *self.agents.write().expect("agents lock") = agents;
    }

    /// Adds an agent agents.yaml does not list (a sub-agent): its model and budget.
    pub fn add_ephemeral(&self, id: &str, config: crate::config::AgentConfig, limits: Limits) {
        self.costs.budgets().set_extra_limits(id, limits);
        self.ephemeral
            .write()
            .expect("agents lock")
            .insert(id.to_owned(), config);
    }

    pub fn remove_ephemeral(&self, id: &str) {
        self.costs.budgets().remove_extra_limits(id);
        self.ephemeral.write().expect("agents lock").remove(id);
    }

    pub fn health(&self) -> Vec<model_health::HealthRow> {
        self.failover.health.snapshot()
    }

    pub fn costs(&self) -> &Costs {
        &self.costs
    }

    /// The model `caller` gets when asking for `requested`, or why not.
    fn pin(
        &self,
        caller: &Caller,
        requested: Option<&str>,
        embedding: bool,
    ) -> Result<ModelRef, ProxyError> {
        let agents = self.agents.read().expect("agents lock");
        let ephemeral = self.ephemeral.read().expect("agents lock");
        let own = match caller {
            Caller::Agent(id) => agents.agents.get(id).or_else(|| ephemeral.get(id.as_str())),
            Caller::Operator => None,
        };
        let fallback = if embedding {
            self.llm.embedding_model.clone()
        } else {
            own.and_then(|a| a.model.clone())
                .or_else(|| self.llm.default_model.clone())
        };
        let wanted = requested
            .map(str::to_owned)
            .or(fallback)
            .ok_or(ProxyError::BadField {
                field: "params.model",
                problem: "no model given and none configured (llm.default_model in mesh.yaml)"
                    .into(),
            })?;
        let model = parse_model(&wanted).map_err(|e| ProxyError::BadField {
            field: "params.model",
            problem: e.to_string(),
        })?;
        if caller.is_operator() {
            return Ok(model);
        }
        let mut allowed: BTreeSet<String> = BTreeSet::new();
        let configured = if embedding {
            [self.llm.embedding_model.clone(), None, None]
        } else {
            [
                own.and_then(|a| a.model.clone()),
                self.llm.default_model.clone(),
                self.llm.utility_model.clone(),
            ]
        };
        for m in configured
            .into_iter()
            .flatten()
            .chain(own.map(|a| a.allowed_models.clone()).unwrap_or_default())
        {
            if let Ok(parsed) = parse_model(&m) {
                allowed.insert(parsed.id());
            }
        }
        if allowed.contains(&model.id()) {
            Ok(model)
        } else {
            Err(ProxyError::Forbidden {
                agent: caller.id().into(),
                action: "use model",
                target: model.id(),
            })
        }
    }

    fn check_service(&self, caller: &Caller, req: &ApiProxyRequest) -> Result<(), ProxyError> {
        if caller.is_operator()
            || self
                .permissions
                .current()
                .can_use_api(caller.id(), &req.service)
        {
            Ok(())
        } else {
            Err(ProxyError::Forbidden {
                agent: caller.id().into(),
                action: "access",
                target: req.service.clone(),
            })
        }
    }

    /// Checks a chat request and reserves its budget; `Err(Ok(_))` is a refusal to send
    /// back as the answer, `Err(Err(_))` an HTTP error.
    #[allow(
        clippy::result_large_err,
        reason = "once per LLM call, never in a loop; boxing would only add an allocation"
    )]
    fn prepare(
        &self,
        caller: &Caller,
        req: &ApiProxyRequest,
    ) -> Result<Prepared, Result<ApiProxyResponse, ProxyError>> {
        let size = serde_json::to_vec(&req.params).map_or(0, |v| v.len());
        if size > MAX_PARAMS_BYTES {
            let msg = format!("params are {size} bytes; the limit is {MAX_PARAMS_BYTES}");
            return Err(Ok(reply::refusal(msg, "request_too_large", Some(413))));
        }
        let params = params::chat(&req.params)
            .map_err(|e| Ok(reply::refusal(e.to_string(), "invalid_request", Some(400))))?;
        let model = self
            .pin(caller, params.model.as_deref(), false)
            .map_err(Err)?;
        if model.provider == embeddings::PROVIDER && model.name == embeddings::MODEL_NAME {
            let msg = format!("{} is an embedding model; it cannot chat", model.id());
            return Err(Ok(reply::refusal(msg, "invalid_request", Some(400))));
        }
        let mut chain = self
            .llm
            .failover
            .get(&model.id())
            .cloned()
            .unwrap_or_default();
        if self.keyless {
            chain.push(local_llm::keyless::fallback_model().id());
        }
        let candidates = self.failover.candidates(&model, &chain);
        let max_tokens = params
            .max_tokens
            .or(self.llm.max_tokens)
            .unwrap_or(DEFAULT_MAX_TOKENS);
        let reservation = match caller {
            Caller::Operator => None,
            Caller::Agent(agent) => {
                // Reserve for the dearest candidate, so failover cannot overshoot either.
                let prompt = params::prompt_token_estimate(&params);
                let estimate = candidates
                    .iter()
                    .map(|m| {
                        self.costs
                            .prices()
                            .cost(&m.id(), prompt, u64::from(max_tokens))
                    })
                    .fold(0.0, f64::max);
                match self.costs.budgets().reserve(agent.as_str(), estimate) {
                    Ok(Ok(r)) => Some(r),
                    Ok(Err(exceeded)) => {
                        crate::counters::budget_refused(agent.as_str());
                        return Err(Ok(reply::refusal(
                            exceeded.to_string(),
                            "budget_exceeded",
                            None,
                        )));
                    }
                    Err(e) => return Err(Err(e.into())),
                }
            }
        };
        let request = ChatRequest {
            model: model.name.clone(),
            messages: params.messages,
            tools: params.tools,
            max_tokens: Some(max_tokens),
            temperature: params.temperature.or(self.llm.temperature),
            extra: params.extra,
            timeout: Duration::from_secs(req.timeout.max(1)),
        };
        Ok(Prepared {
            candidates,
            request,
            reservation,
        })
    }

    /// `POST /mesh/api`.
    pub async fn call(
        &self,
        caller: &Caller,
        req: ApiProxyRequest,
    ) -> Result<ApiProxyResponse, ProxyError> {
        self.check_service(caller, &req)?;
        match (req.service.as_str(), req.action.as_str()) {
            ("llm", "chat") => self.chat(caller, &req).await,
            ("llm", "embed") => self.embed(caller, &req).await,
            ("llm", other) => Ok(reply::refusal(
                format!("Unknown action for llm: {other} (chat, embed)"),
                "invalid_request",
                Some(400),
            )),
            (other, _) => Ok(reply::refusal(
                format!("Unknown service: {other}"),
                "invalid_request",
                Some(400),
            )),
        }
    }

    async fn chat(
        &self,
        caller: &Caller,
        req: &ApiProxyRequest,
    ) -> Result<ApiProxyResponse, ProxyError> {
        let prepared = match self.prepare(caller, req) {
            Ok(p) => p,
            Err(refusal) => return refusal,
        };
        match self
            .failover
            .chat(&prepared.candidates, &prepared.request)
            .await
        {
            Ok((response, model)) => {
                let cost = self
                    .costs
                    .charge(
                        prepared.reservation,
                        caller.id(),
                        &model.id(),
                        "chat",
                        response.usage,
                    )
                    .await;
                Ok(ApiProxyResponse::with_data(&reply::chat_data(
                    &response,
                    &model.id(),
                    cost,
                )))
            }
            Err(e) => {
                crate::counters::llm_error(caller.id(), &requested(&prepared.candidates));
                Ok(reply::llm_failure(&e, self.failover.vault.redactor()))
            }
        }
    }

    async fn embed(
        &self,
        caller: &Caller,
        req: &ApiProxyRequest,
    ) -> Result<ApiProxyResponse, ProxyError> {
        let (model, inputs, single) = match params::embed(&req.params) {
            Ok(p) => p,
            Err(e) => return Ok(reply::refusal(e.to_string(), "invalid_request", Some(400))),
        };
        let model = self.pin(caller, model.as_deref(), true)?;
        let request = EmbedRequest {
            model: model.name.clone(),
            input: inputs,
            timeout: Duration::from_secs(req.timeout.max(1)),
        };
        let result = if model.provider == embeddings::PROVIDER {
            self.local.embed(&request).await
        } else {
            self.failover.embed(&model, &request).await
        };
        match result {
            Ok(response) => {
                let used = Usage {
                    input_tokens: response.usage.input_tokens,
                    output_tokens: 0,
                };
                let cost = self
                    .costs
                    .charge(None, caller.id(), &model.id(), "embed", used)
                    .await;
                let mut data = EmbedData {
                    model: model.id(),
                    cost_usd: cost,
                    ..EmbedData::default()
                };
                if single {
                    data.embedding =
                        Some(response.embeddings.into_iter().next().unwrap_or_default());
                } else {
                    data.embeddings = Some(response.embeddings);
                }
                Ok(ApiProxyResponse::with_data(&data))
            }
            Err(e) => {
                crate::counters::llm_error(caller.id(), &model.id());
                Ok(reply::llm_failure(&e, self.failover.vault.redactor()))
            }
        }
    }

    /// `POST /mesh/api/stream`: the events to send as SSE `data:` lines. Only HTTP-level
    /// refusals (permission, model) are errors here; everything after is an `error` event.
    pub fn stream(
        &self,
        caller: &Caller,
        req: ApiProxyRequest,
    ) -> Result<mpsc::Receiver<ProxyEvent>, ProxyError> {
        self.check_service(caller, &req)?;
        let (tx, rx) = mpsc::channel(64);
        if (req.service.as_str(), req.action.as_str()) != ("llm", "chat") {
            let refusal = reply::refusal(
                format!(
                    "Streaming is for llm chat only, not {}/{}",
                    req.service, req.action
                ),
                "invalid_request",
                Some(400),
            );
            let _ = tx.try_send(reply::refusal_event(&refusal));
            return Ok(rx);
        }
        let prepared = match self.prepare(caller, &req) {
            Ok(p) => p,
            Err(Ok(refusal)) => {
                let _ = tx.try_send(reply::refusal_event(&refusal));
                return Ok(rx);
            }
            Err(Err(e)) => return Err(e),
        };
        let (relay_tx, mut relay_rx) = mpsc::channel(64);
        let requested = requested(&prepared.candidates);
        tokio::spawn(Arc::clone(&self.failover).stream(
            prepared.candidates,
            prepared.request,
            relay_tx,
        ));
        let costs = self.costs.clone();
        let redactor = self.failover.vault.redactor().clone();
        let agent = caller.id().to_owned();
        let mut reservation = prepared.reservation;
        tokio::spawn(async move {
            while let Some(relay) = relay_rx.recv().await {
                let event = match relay {
                    Relay::TextDelta(content) => ProxyEvent::TextDelta { content },
                    Relay::ToolCall(call) => ProxyEvent::ToolCall(reply::tool_call(&call)),
                    Relay::Done { response, model } => {
                        let cost = costs
                            .charge(reservation.take(), &agent, &model, "chat", response.usage)
                            .await;
                        ProxyEvent::Done(reply::chat_data(&response, &model, cost))
                    }
                    Relay::Failed(e) => {
                        crate::counters::llm_error(&agent, &requested);
                        reply::llm_failure_event(&e, &redactor)
                    }
                };
                if tx.send(event).await.is_err() {
                    return;
                }
            }
        });
        Ok(rx)
    }
}

/// The model a call asked for (the first of its failover chain), for the error metrics.
fn requested(candidates: &[ModelRef]) -> String {
    candidates.first().map(|m| m.id()).unwrap_or_default()
}
