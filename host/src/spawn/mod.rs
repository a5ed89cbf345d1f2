//! Sub-agents (`spawn_agent`): ephemeral agents an agent starts for a task of its own.
//!
//! A sub-agent runs on its parent's backend and isolation (same image, resources and
//! model), with its parent's permissions laid over the matrix (never more: `can_spawn`
//! only while `spawn.max_depth` allows it), and a budget carved out of its parent's: the
//! carve is reserved in the parent's ledger while the child lives, and settled with what
//! the child really spent when it goes. It works on its instructions as a task through its
//! lane at once; the parent gets its id, may message it and read its history (its task
//! result included, kept here after the child is gone). After its time to live it is
//! stopped, its data deleted (volume or directory) and its registration removed; the same
//! happens to every sub-agent when the mesh stops, since they do not outlive it.
//!
//! What this module does not own: starting and stopping agents ([`Fleet`]), the overlay of
//! permissions ([`crate::mesh::Permissions`]), budgets and models ([`crate::proxy::Proxy`]).

mod routes;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use chrono::Utc;
use openlegion_browser::BrowserService;
use openlegion_protocol::{
    AgentId, Origin, RegisterRequest, SpawnRequest, SpawnedAgent, TaskAssignment, new_id,
};
use serde_json::{Map, Value, json};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub use routes::routes;

use crate::auth::Caller;
use crate::config::{Budget, SpawnSection};
use crate::costs::{Limits, Reservation};
use crate::fleet::Fleet;
use crate::lanes::{Outcome, Submission, Work};
use crate::mesh::{Mesh, MeshError};
use crate::server::ApiError;

/// Finished sub-agents whose record (and result) is kept for their parents.
const KEPT_EXPIRED: usize = 200;
/// How long a new sub-agent may take to announce itself before its task is queued anyway
/// (the lane then retries while it comes up).
const STARTUP_WAIT: Duration = Duration::from_secs(60);

/// The `spawn:` settings with their defaults filled in.
#[derive(Debug, Clone, Copy)]
struct Settings {
    max_children: usize,
    max_depth: u32,
    default_ttl: u64,
    max_ttl: u64,
    default_budget: f64,
}

impl Settings {
    fn from(section: &SpawnSection) -> Self {
        Self {
            max_children: section.max_children.unwrap_or(3) as usize,
            max_depth: section.max_depth.unwrap_or(1),
            default_ttl: section.default_ttl_seconds.unwrap_or(600),
            max_ttl: section.max_ttl_seconds.unwrap_or(3600),
            default_budget: section.default_budget_usd.unwrap_or(1.0),
        }
    }

    /// A request's time to live (the default where it names none, at most the cap) and
    /// budget (the default where it names none).
    fn terms(&self, request: &SpawnRequest) -> (u64, f64) {
        let ttl = request
            .ttl_seconds
            .unwrap_or(self.default_ttl)
            .min(self.max_ttl);
        (ttl, request.budget_usd.unwrap_or(self.default_budget))
    }
}

#[derive(Debug)]
struct Record {
    info: SpawnedAgent,
    depth: u32,
    expires: Instant,
    /// The carve in the parent's ledger, settled when the child goes.
    carve: Option<Reservation>,
    live: bool,
}

/// The mesh's sub-agents, live and recently gone.
#[derive(Debug)]
pub struct Spawner {
    mesh: Arc<Mesh>,
    fleet: Arc<Fleet>,
    browser: Option<Arc<BrowserService>>,
    settings: Settings,
    records: Mutex<BTreeMap<String, Record>>,
    shutdown: CancellationToken,
}

fn refuse(status: StatusCode, detail: impl Into<String>) -> ApiError {
    ApiError::new(status, detail)
}

impl Spawner {
    pub fn new(
        mesh: Arc<Mesh>,
        fleet: Arc<Fleet>,
        browser: Option<Arc<BrowserService>>,
        section: &SpawnSection,
        shutdown: CancellationToken,
    ) -> Arc<Self> {
        Arc::new(Self {
            mesh,
            fleet,
            browser,
            settings: Settings::from(section),
            records: Mutex::new(BTreeMap::new()),
            shutdown,
        })
    }

    /// The parent of `agent`, if it is a sub-agent (live or recently gone).
    pub fn parent_of(&self, agent: &str) -> Option<String> {
        self.lock().get(agent).map(|r| r.info.parent.clone())
    }

    /// What is known of sub-agent `agent`.
    pub fn get(&self, agent: &str) -> Option<SpawnedAgent> {
        self.lock().get(agent).map(|r| r.info.clone())
    }

    /// Every sub-agent (`GET /mesh/spawn`): `parent` only that parent's.
    pub fn list(&self, parent: Option<&str>) -> Vec<SpawnedAgent> {
        self.lock()
            .values()
            .filter(|r| parent.is_none_or(|p| r.info.parent == p))
            .map(|r| r.info.clone())
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Record>> {
        self.records.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts a sub-agent of `parent` for `request`.
    pub async fn spawn(
        self: &Arc<Self>,
        parent: &AgentId,
        request: SpawnRequest,
    ) -> Result<SpawnedAgent, ApiError> {
        request
            .check()
            .map_err(|p| refuse(StatusCode::UNPROCESSABLE_ENTITY, p))?;
        let forbidden = |target: String| {
            ApiError::from(MeshError::Forbidden {
                agent: parent.to_string(),
                action: "spawn",
                target,
            })
        };
        let perms = self.mesh.permissions.current().resolve(parent.as_str());
        if !perms.can_spawn {
            return Err(forbidden("sub-agents (can_spawn is off)".into()));
        }
        let s = self.settings;
        let (depth, parent_expires) = {
            let records = self.lock();
            let depth = records.get(parent.as_str()).map_or(0, |r| r.depth) + 1;
            let live = records
                .values()
                .filter(|r| r.live && r.info.parent == parent.as_str())
                .count();
            if depth > s.max_depth {
                return Err(forbidden(format!(
                    "sub-agents deeper than spawn.max_depth ({})",
                    s.max_depth
                )));
            }
            if live >= s.max_children {
                return Err(refuse(
                    StatusCode::TOO_MANY_REQUESTS,
                    format!(
                        "Agent {parent} already has {live} live sub-agents, the most allowed \
                         (spawn.max_children); wait for one to finish"
                    ),
                ));
            }
            (depth, records.get(parent.as_str()).map(|r| r.expires))
        };
        let (mut ttl, budget) = s.terms(&request);
        if let Some(end) = parent_expires {
            // A sub-agent never outlives its parent.
            ttl = ttl.min(
                end.saturating_duration_since(Instant::now())
                    .as_secs()
                    .max(1),
            );
        }
        let mut cfg = self.fleet.setup_of(parent.as_str()).await.ok_or_else(|| {
            refuse(
                StatusCode::CONFLICT,
                format!(
                    "Agent {parent} is not run by this mesh; a sub-agent starts on its \
                     parent's backend"
                ),
            )
        })?;
        let carve = match self
            .mesh
            .proxy
            .costs()
            .budgets()
            .reserve(parent.as_str(), budget)
        {
            Ok(Ok(carve)) => carve,
            Ok(Err(exceeded)) => {
                return Err(refuse(
                    StatusCode::PAYMENT_REQUIRED,
                    format!("cannot carve ${budget:.2} out of the budget of {parent}: {exceeded}"),
                ));
            }
            Err(e) => return Err(ApiError::from(MeshError::from(e))),
        };
        let child = child_id(parent.as_str());
        let id = AgentId::new_agent(&child).map_err(|e| ApiError::from(MeshError::from(e)))?;
        cfg.role = request.role.clone();
        cfg.system_prompt = Some(format!(
            "You are {child}, a sub-agent that {parent} started for one task. Do the task \
             you are given with your tools and end with your result. You are stopped after \
             {ttl} seconds and your files are deleted then: put what matters in your final \
             answer."
        ));
        cfg.instructions = None;
        cfg.initial_instructions = None;
        cfg.budget = Some(Budget {
            daily_usd: Some(budget),
            monthly_usd: Some(budget),
        });
        cfg.lanes = None;
        let expires_at = Utc::now() + chrono::Duration::seconds(ttl as i64);
        let info = SpawnedAgent {
            agent_id: child.clone(),
            parent: parent.to_string(),
            role: request.role.clone(),
            expires_at: expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            budget_usd: budget,
            state: "starting".into(),
            result: None,
        };
        self.mesh
            .registry
            .register_by_operator(&RegisterRequest {
                agent_id: Some(child.clone()),
                role: Some(request.role.clone()),
                ..RegisterRequest::default()
            })
            .await?;
        self.mesh
            .permissions
            .add_sub_agent(parent.as_str(), &child, depth < s.max_depth);
        self.mesh.proxy.add_ephemeral(
            &child,
            cfg.clone(),
            Limits {
                daily: budget,
                monthly: budget,
            },
        );
        self.lock().insert(
            child.clone(),
            Record {
                info: info.clone(),
                depth,
                expires: Instant::now() + Duration::from_secs(ttl),
                carve: Some(carve),
                live: true,
            },
        );
        if let Err(e) = self.fleet.start_ephemeral(&id, cfg).await {
            tracing::error!(agent = %child, error = %e, "a sub-agent did not start");
            self.expire(&child, "failed").await;
            return Err(refuse(StatusCode::BAD_GATEWAY, e.to_string()));
        }
        tracing::info!(agent = %child, %parent, ttl, budget, "sub-agent started");
        let this = Arc::clone(self);
        tokio::spawn(async move { this.work(id, request.instructions, ttl).await });
        let this = Arc::clone(self);
        tokio::spawn(async move { this.reap(child, ttl).await });
        Ok(info)
    }

    /// Gives the new sub-agent its task once it is up, and keeps the result.
    async fn work(self: Arc<Self>, id: AgentId, instructions: String, ttl: u64) {
        let child = id.to_string();
        let started = Instant::now();
        while started.elapsed() < STARTUP_WAIT
            && !self
                .mesh
                .registry
                .get(&child)
                .is_some_and(|row| row.registered)
        {
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        let parent = self.parent_of(&child).unwrap_or_default();
        let task = TaskAssignment {
            task_id: new_id("task", 12),
            workflow_id: String::new(),
            step_id: String::new(),
            task_type: "spawned".into(),
            input_data: Map::from_iter([("instructions".to_owned(), Value::String(instructions))]),
            context: Map::from_iter([("spawned_by".to_owned(), Value::String(parent.clone()))]),
            timeout: ttl,
            max_retries: 0,
            origin: None,
        };
        self.set_state(&child, "working", None);
        let submitted = self
            .mesh
            .lanes
            .submit(Submission {
                agent: id,
                work: Work::Task {
                    task: Box::new(task),
                },
                origin: Origin::agent(parent),
            })
            .await;
        let outcome = match submitted {
            Ok(ticket) => ticket.outcome().await,
            Err(e) => Outcome::Failed {
                error: e.to_string(),
            },
        };
        let (state, result) = match outcome {
            Outcome::Completed { result } => (
                if result.status == openlegion_protocol::TaskStatus::Complete {
                    "done"
                } else {
                    "failed"
                },
                serde_json::to_value(result).unwrap_or(Value::Null),
            ),
            Outcome::Failed { error } => ("failed", json!({"error": error})),
            Outcome::Cancelled => ("failed", json!({"error": "the task was cancelled"})),
            Outcome::Replied { reply } => ("done", json!({"response": reply.response})),
        };
        self.set_state(&child, state, Some(result));
    }

    fn set_state(&self, child: &str, state: &str, result: Option<Value>) {
        if let Some(r) = self.lock().get_mut(child) {
            // A result that arrives as the child is stopped is still kept; its state is
            // then `expired` for good.
            if r.live {
                r.info.state = state.to_owned();
            }
            if result.is_some() {
                r.info.result = result;
            }
        }
    }

    /// Stops the sub-agent at its time to live. (When the mesh stops first, its
    /// [`stop_all`](Self::stop_all) does it.)
    async fn reap(self: Arc<Self>, child: String, ttl: u64) {
        tokio::time::sleep(Duration::from_secs(ttl)).await;
        if !self.shutdown.is_cancelled() {
            self.expire(&child, "expired").await;
        }
    }

    /// Stops `child`, deletes its data, its registration and its permissions, and settles
    /// its parent's carve with what it spent. Its record stays, marked `state`, for its
    /// parent to read.
    async fn expire(&self, child: &str, state: &str) {
        let carve = {
            let mut records = self.lock();
            let Some(r) = records.get_mut(child) else {
                return;
            };
            if !r.live {
                return;
            }
            r.live = false;
            r.carve.take()
        };
        if let Err(e) = self.fleet.stop(child, true).await {
            tracing::warn!(agent = child, error = %e, "stopping a sub-agent");
        }
        if let Some(browser) = &self.browser
            && let Ok(id) = AgentId::parse(child)
        {
            browser.close_agent(&id).await;
        }
        if let Err(e) = self.mesh.remove_agent(&Caller::Operator, child).await {
            tracing::warn!(agent = child, error = %e, "removing a sub-agent");
        }
        self.mesh.permissions.remove_sub_agent(child);
        let spent = self
            .mesh
            .proxy
            .costs()
            .budgets()
            .spent(child)
            .map(|(today, _)| today)
            .unwrap_or(0.0);
        self.mesh.proxy.remove_ephemeral(child);
        if let Some(carve) = carve {
            carve.settle(spent);
        }
        {
            let mut records = self.lock();
            if let Some(r) = records.get_mut(child) {
                r.info.state = state.to_owned();
            }
            prune(&mut records);
        }
        tracing::info!(agent = child, spent, "sub-agent stopped and deleted");
    }

    /// Stops and deletes every live sub-agent (the mesh is stopping).
    pub async fn stop_all(&self) {
        let live: Vec<String> = self
            .lock()
            .iter()
            .filter(|(_, r)| r.live)
            .map(|(id, _)| id.clone())
            .collect();
        for child in live {
            self.expire(&child, "expired").await;
        }
    }
}

/// Drops the oldest records of gone sub-agents beyond [`KEPT_EXPIRED`].
fn prune(records: &mut BTreeMap<String, Record>) {
    let mut gone: Vec<(Instant, String)> = records
        .iter()
        .filter(|(_, r)| !r.live)
        .map(|(id, r)| (r.expires, id.clone()))
        .collect();
    if gone.len() <= KEPT_EXPIRED {
        return;
    }
    gone.sort();
    for (_, id) in gone.iter().take(gone.len() - KEPT_EXPIRED) {
        records.remove(id);
    }
}

/// `<parent>-sub-<6 hex>`, the parent's part shortened so the id stays within the
/// 64-character limit.
fn child_id(parent: &str) -> String {
    let suffix = new_id("sub", 6).replace('_', "-");
    let room = openlegion_protocol::limits::MAX_AGENT_ID_CHARS - suffix.len() - 1;
    let head: String = parent.chars().take(room).collect();
    format!("{head}-{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spawn_section_keys_set_ttl_and_budget() {
        let request = |ttl_seconds, budget_usd| SpawnRequest {
            role: "r".into(),
            instructions: "i".into(),
            ttl_seconds,
            budget_usd,
        };
        let defaults = Settings::from(&SpawnSection::default());
        assert_eq!(defaults.terms(&request(None, None)), (600, 1.0));
        let s = Settings::from(&SpawnSection {
            default_ttl_seconds: Some(120),
            max_ttl_seconds: Some(300),
            default_budget_usd: Some(0.25),
            ..SpawnSection::default()
        });
        assert_eq!(s.terms(&request(None, None)), (120, 0.25));
        assert_eq!(s.terms(&request(Some(9999), Some(2.0))), (300, 2.0));
    }

    #[test]
    fn child_ids_are_valid_and_name_their_parent() {
        let id = child_id("researcher");
        assert!(id.starts_with("researcher-sub-"), "{id}");
        assert!(AgentId::new_agent(&id).is_ok());
        let long = child_id(&"a".repeat(64));
        assert_eq!(long.len(), 64);
        assert!(AgentId::new_agent(&long).is_ok());
    }
}
