//! The mesh's services: the blackboard, pub/sub, message routing, per-agent inboxes with
//! push delivery, and the agent registry, all over one [`Store`] and one live
//! [`PermissionMatrix`](crate::permissions::PermissionMatrix).
//!
//! Each service enforces its own permission checks and takes the verified [`Caller`], so
//! the HTTP layer above only parses and maps errors. [`Mesh`] wires them together and
//! owns the operations that touch several of them (registering or removing an agent,
//! reloading the configuration).

mod blackboard;
mod delivery;
mod error;
mod inbox;
mod messages;
mod pubsub;
mod registry;
mod turns;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use openlegion_protocol::{AgentId, AgentInfo, RegisterRequest, RegisterResponse};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

pub use blackboard::{Blackboard, MAX_LIST};
pub use delivery::Delivery;
pub use error::MeshError;
pub use inbox::{InboxItem, InboxPage, Inboxes};
pub use messages::{Messages, Routed};
pub use pubsub::{EventListener, PubSub, Published};
pub use registry::Registry;
pub use turns::Turns;

use crate::agent_link::AgentLinks;
use crate::auth::{Caller, Tokens};
use crate::config::{self, Config, ConfigError};
use crate::costs::{Costs, Limits, PriceTable, SystemClock};
use crate::permissions::{PermissionMatrix, Permissions};
use crate::proxy::Proxy;
use crate::store::{Store, blackboard as bb_rows, now_micros};
use crate::vault::Vault;

/// How often expired blackboard entries are deleted.
const GC_INTERVAL: Duration = Duration::from_secs(30);

/// Everything the mesh serves.
#[derive(Debug)]
pub struct Mesh {
    pub store: Store,
    pub tokens: Arc<Tokens>,
    pub permissions: Arc<Permissions>,
    pub registry: Arc<Registry>,
    pub inboxes: Arc<Inboxes>,
    pub blackboard: Arc<Blackboard>,
    pub pubsub: Arc<PubSub>,
    pub messages: Arc<Messages>,
    pub proxy: Arc<Proxy>,
    /// Connections to agents' APIs.
    pub links: Arc<AgentLinks>,
    /// Each agent's queue of turns.
    pub lanes: Arc<crate::lanes::Lanes>,
    /// Which delivered messages and events start a turn.
    pub turns: Arc<Turns>,
    /// Counts the reloads that succeeded: services with config files of their own
    /// (triggers) subscribe and re-read them.
    pub reloads: tokio::sync::watch::Sender<u64>,
    vault: Arc<Vault>,
    http_policy: config::HttpSection,
    /// mesh.yaml's `collaboration`, applied again to every reloaded permission matrix.
    collaboration: bool,
    /// What the fleet last saw of each agent it runs (`starting`, `running`, `unreachable`,
    /// `restarting`, `failed`, `stopped`).
    run_states: std::sync::Mutex<std::collections::HashMap<String, String>>,
    reload_hooks: std::sync::Mutex<Vec<Arc<dyn Reloadable>>>,
    config_dir: PathBuf,
    state_dir: PathBuf,
    started: Instant,
    shutdown: CancellationToken,
}

/// `GET /mesh/status`.
#[derive(Debug, Serialize)]
pub struct MeshStatus {
    pub version: &'static str,
    pub pid: u32,
    pub uptime_seconds: u64,
    pub config_dir: PathBuf,
    pub state_dir: PathBuf,
    pub agents: usize,
    pub registered_agents: usize,
    pub inbox_messages: u64,
    /// Names of the credentials in the vault (never their values).
    pub credentials: Vec<String>,
}

/// `POST /mesh/reload`.
#[derive(Debug, Serialize)]
pub struct Reloaded {
    pub permissions_file: bool,
    pub permission_entries: usize,
    pub agents_added: usize,
    /// What the [`Reloadable`]s reloaded, a line each (`2 workflows`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub also: Vec<String>,
}

/// Puts one part's reloaded files in force.
pub type Commit = Box<dyn FnOnce() + Send>;

/// A part outside the mesh whose files a reload re-reads along with permissions.json and
/// agents.yaml (the workflows), all or nothing.
pub trait Reloadable: Send + Sync + std::fmt::Debug {
    /// Reads this part's files against the reloaded agents.yaml. An error refuses the whole
    /// reload before anything has changed; `Ok` holds what puts the files in force and a
    /// line for the operator, if there is something to tell.
    fn prepare(&self, agents: &config::AgentsFile)
    -> Result<(Commit, Option<String>), ConfigError>;
}

fn matrix_of(
    config: Option<&config::PermissionsFile>,
    path: &std::path::Path,
    collaboration: bool,
) -> PermissionMatrix {
    match config {
        Some(file) => PermissionMatrix::from_file(file).with_collaboration(collaboration),
        None => {
            tracing::warn!(path = %path.display(), "no permissions file: every agent is denied everything");
            PermissionMatrix::deny_all()
        }
    }
}

fn set_lane_limits(lanes: &crate::lanes::Lanes, agents: &config::AgentsFile) {
    for (id, agent) in &agents.agents {
        let l = agent.lanes.unwrap_or_default();
        lanes.set_limits(
            id.as_str(),
            crate::lanes::LaneLimits {
                concurrency: l.concurrency,
                max: l.max,
            },
        );
    }
}

impl Mesh {
    /// Opens the store under `config.state_dir()` and loads every service from it.
    /// `vault` holds the provider credentials.
    pub async fn open(
        config: &Config,
        vault: Vault,
        shutdown: CancellationToken,
    ) -> Result<Arc<Self>, MeshError> {
        let state_dir = config.state_dir();
        let store = Store::open(&state_dir.join("mesh.db"))?;
        let vault = Arc::new(vault);
        let tokens = Arc::new(Tokens::default());
        let collaboration = config.mesh.collaboration.unwrap_or(true);
        let permissions = Arc::new(Permissions::new(matrix_of(
            config.permissions.as_ref(),
            &config.permissions_path(),
            collaboration,
        )));
        let registry = Arc::new(Registry::load(store.clone(), Arc::clone(&tokens)).await?);
        registry.seed(&config.agents).await?;
        let links = Arc::new(AgentLinks::default());
        let lanes = crate::lanes::Lanes::open(
            store.clone(),
            Arc::clone(&registry) as Arc<dyn crate::lanes::Directory>,
            Arc::clone(&links),
            shutdown.clone(),
        )
        .await?;
        set_lane_limits(&lanes, &config.agents);
        let turns = Arc::new(Turns::new(Arc::clone(&lanes)));
        turns.configure(&config.agents);
        let delivery = Delivery::new(
            store.clone(),
            Arc::clone(&registry),
            Arc::clone(&links),
            Arc::clone(&turns),
            shutdown.clone(),
        );
        let inboxes = Arc::new(Inboxes::new(
            store.clone(),
            config.mesh.mesh.inbox_max,
            delivery,
        ));
        let blackboard = Arc::new(
            Blackboard::load(
                store.clone(),
                Arc::clone(&permissions),
                Arc::clone(&inboxes),
            )
            .await?,
        );
        let pubsub = Arc::new(
            PubSub::load(
                store.clone(),
                Arc::clone(&permissions),
                Arc::clone(&inboxes),
            )
            .await?,
        );
        let messages = Arc::new(Messages::new(
            Arc::clone(&registry),
            Arc::clone(&permissions),
            Arc::clone(&inboxes),
        ));
        let costs = Costs::new(
            store.clone(),
            Arc::new(SystemClock),
            PriceTable::new(config.mesh.llm.prices.clone()),
            Limits::default(),
        );
        let proxy = Arc::new(Proxy::new(
            Arc::clone(&vault),
            costs,
            Arc::clone(&permissions),
            config.mesh.llm.clone(),
            config.agents.clone(),
            &crate::embeddings::default_models_dir(),
            &config.dir,
        ));
        let mesh = Arc::new(Self {
            store,
            tokens,
            permissions,
            registry,
            inboxes,
            blackboard,
            pubsub,
            messages,
            proxy,
            links,
            lanes,
            turns,
            reloads: tokio::sync::watch::channel(0).0,
            vault,
            http_policy: config.mesh.http.clone(),
            collaboration,
            run_states: std::sync::Mutex::new(std::collections::HashMap::new()),
            reload_hooks: std::sync::Mutex::new(Vec::new()),
            config_dir: config.dir.clone(),
            state_dir,
            started: Instant::now(),
            shutdown,
        });
        // Resume pushing whatever was queued before the last stop.
        for (agent, _) in mesh.inboxes.counts().await? {
            mesh.inboxes.wake([agent.as_str()]);
        }
        tokio::spawn(Arc::clone(&mesh).collect_garbage());
        Ok(mesh)
    }

    async fn collect_garbage(self: Arc<Self>) {
        loop {
            match self.store.write(|c| bb_rows::gc(c, now_micros())).await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(deleted = n, "expired blackboard entries collected"),
                Err(e) => tracing::error!(error = %e, "blackboard GC failed"),
            }
            tokio::select! {
                () = tokio::time::sleep(GC_INTERVAL) => {}
                () = self.shutdown.cancelled() => return,
            }
        }
    }

    /// `POST /mesh/register`: an agent announcing itself, or the operator creating one.
    pub async fn register(
        &self,
        caller: &Caller,
        req: RegisterRequest,
    ) -> Result<RegisterResponse, MeshError> {
        match caller {
            Caller::Agent(id) => {
                self.registry.register_self(id, &req).await?;
                self.pubsub.subscribe_configured(id.as_str()).await?;
                self.inboxes.wake([id.as_str()]);
                self.lanes.wake(id.as_str());
                Ok(RegisterResponse {
                    registered: true,
                    agent_id: id.to_string(),
                    token: None,
                })
            }
            Caller::Operator => {
                let (row, token) = self.registry.register_by_operator(&req).await?;
                self.inboxes.wake([row.id.as_str()]);
                Ok(RegisterResponse {
                    registered: true,
                    agent_id: row.id,
                    token: Some(token),
                })
            }
        }
    }

    /// Adds a part whose files every reload re-reads too.
    pub fn on_reload(&self, hook: Arc<dyn Reloadable>) {
        self.reload_hooks
            .lock()
            .expect("reload hooks lock")
            .push(hook);
    }

    pub fn set_run_state(&self, agent: &str, state: &str) {
        self.run_states
            .lock()
            .expect("run state lock")
            .insert(agent.to_owned(), state.to_owned());
    }

    pub fn run_state(&self, agent: &str) -> Option<String> {
        self.run_states
            .lock()
            .expect("run state lock")
            .get(agent)
            .cloned()
    }

    /// `GET /mesh/agents`.
    pub async fn agents(&self) -> Result<std::collections::BTreeMap<String, AgentInfo>, MeshError> {
        let counts: std::collections::HashMap<String, u64> =
            self.inboxes.counts().await?.into_iter().collect();
        Ok(self
            .registry
            .snapshot()
            .into_iter()
            .map(|a| {
                let inbox = counts.get(&a.id).copied().unwrap_or(0);
                let state = self.run_state(&a.id);
                let parent = self.permissions.parent_of(&a.id);
                let info = AgentInfo {
                    parent,
                    url: a.url,
                    role: a.role,
                    capabilities: a.capabilities,
                    registered: a.registered,
                    inbox,
                    state,
                };
                (a.id, info)
            })
            .collect())
    }

    /// Operator: a new token for `agent`.
    pub async fn mint_token(&self, caller: &Caller, agent: &str) -> Result<String, MeshError> {
        if !caller.is_operator() {
            return Err(MeshError::OperatorOnly {
                action: "mint tokens",
            });
        }
        self.registry.mint_token(&AgentId::parse(agent)?).await
    }

    /// Operator: deletes an agent with its tokens, subscriptions, watches and inbox.
    pub async fn remove_agent(&self, caller: &Caller, agent: &str) -> Result<(), MeshError> {
        if !caller.is_operator() {
            return Err(MeshError::OperatorOnly {
                action: "remove agents",
            });
        }
        let id = AgentId::parse(agent)?;
        if !self.registry.remove(&id).await? {
            return Err(MeshError::UnknownAgent {
                agent: agent.to_owned(),
            });
        }
        self.pubsub.forget_agent(agent);
        self.blackboard.forget_agent(agent);
        self.inboxes.wake([agent]);
        self.lanes.wake(agent);
        Ok(())
    }

    /// Re-reads permissions.json and agents.yaml. A broken file is reported and the
    /// configuration in force stays as it was (all or nothing).
    /// Returns the new agents.yaml too, for the fleet to start and stop agents by.
    pub async fn reload(&self) -> Result<(Reloaded, config::AgentsFile), MeshError> {
        let perms_path = self.config_dir.join(config::PERMISSIONS_FILE);
        let perms = config::load_permissions(&perms_path)?;
        let agents = config::load_agents(&self.config_dir.join(config::AGENTS_FILE))?;
        let hooks = self.reload_hooks.lock().expect("reload hooks lock").clone();
        let prepared = hooks
            .iter()
            .map(|h| h.prepare(&agents))
            .collect::<Result<Vec<_>, _>>()?;
        let entries = perms.as_ref().map_or(0, |p| p.permissions.len());
        self.permissions
            .replace(matrix_of(perms.as_ref(), &perms_path, self.collaboration));
        let agents_added = self.registry.seed(&agents).await?;
        self.proxy.set_agents(agents.clone());
        set_lane_limits(&self.lanes, &agents);
        self.turns.configure(&agents);
        let mut also = Vec::with_capacity(prepared.len());
        for (commit, line) in prepared {
            commit();
            also.extend(line);
        }
        self.reloads.send_modify(|n| *n += 1);
        let reloaded = Reloaded {
            permissions_file: perms.is_some(),
            permission_entries: entries,
            agents_added,
            also,
        };
        Ok((reloaded, agents))
    }

    /// The configuration directory, absolute.
    pub fn config_dir(&self) -> &std::path::Path {
        &self.config_dir
    }

    /// `POST /mesh/http`: fetches a URL for an agent allowed to use the internet.
    pub async fn fetch(
        &self,
        caller: &Caller,
        req: crate::fetch::FetchRequest,
    ) -> Result<crate::fetch::FetchResponse, MeshError> {
        let allowed = caller.is_operator()
            || self
                .permissions
                .current()
                .resolve(caller.id())
                .can_use_internet;
        if !allowed {
            return Err(MeshError::Forbidden {
                agent: caller.id().into(),
                action: "fetch",
                target: req.url,
            });
        }
        Ok(crate::fetch::fetch(req, &self.http_policy).await?)
    }

    pub async fn status(&self) -> Result<MeshStatus, MeshError> {
        let agents = self.registry.snapshot();
        let inbox_messages = self.inboxes.counts().await?.iter().map(|(_, n)| n).sum();
        Ok(MeshStatus {
            version: env!("CARGO_PKG_VERSION"),
            pid: std::process::id(),
            uptime_seconds: self.started.elapsed().as_secs(),
            config_dir: self.config_dir.clone(),
            state_dir: self.state_dir.clone(),
            agents: agents.len(),
            registered_agents: agents.iter().filter(|a| a.registered).count(),
            inbox_messages,
            credentials: self.vault.names(),
        })
    }
}
