//! The agent registry: which agents exist, where their HTTP API is, what they can do, and
//! their bearer tokens.
//!
//! An agent exists once the operator registers it (or it is listed in agents.yaml); it is
//! *registered* once it has announced itself with its own token. The table lives in the
//! store and is mirrored in memory for the per-request lookups.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use openlegion_protocol::{AgentId, RegisterRequest, limits};

use super::MeshError;
use crate::auth::{Caller, Tokens, hash_token, mint_token};
use crate::config::AgentsFile;
use crate::store::registry::{self as rows, AgentRow};
use crate::store::{Store, now_micros};

#[derive(Debug)]
pub struct Registry {
    store: Store,
    tokens: Arc<Tokens>,
    agents: RwLock<BTreeMap<String, AgentRow>>,
    /// `capabilities` of agents.yaml, by agent: advertised beside what the agent registers
    /// (its tools), so `capability:<name>` reaches it under either.
    configured: RwLock<std::collections::HashMap<String, Vec<String>>>,
}

impl Registry {
    /// Loads agents and their token hashes from the store.
    pub async fn load(store: Store, tokens: Arc<Tokens>) -> Result<Self, MeshError> {
        let (agents, hashes) = store
            .read(|c| Ok::<_, MeshError>((rows::load_agents(c)?, rows::load_tokens(c)?)))
            .await?;
        for (hash, agent) in hashes {
            if let Ok(id) = AgentId::parse(&agent) {
                tokens.insert(hash, Caller::Agent(id));
            }
        }
        let agents = agents.into_iter().map(|a| (a.id.clone(), a)).collect();
        Ok(Self {
            store,
            tokens,
            agents: RwLock::new(agents),
            configured: RwLock::new(std::collections::HashMap::new()),
        })
    }

    /// Adds the agents of agents.yaml that the registry does not know yet.
    pub async fn seed(&self, configured: &AgentsFile) -> Result<usize, MeshError> {
        *self.configured.write().expect("registry lock") = configured
            .agents
            .iter()
            .map(|(id, cfg)| (id.to_string(), cfg.capabilities.clone()))
            .collect();
        let now = now_micros();
        let missing: Vec<AgentRow> = {
            let known = self.agents.read().expect("registry lock");
            configured
                .agents
                .iter()
                .filter(|(id, _)| !known.contains_key(id.as_str()))
                .map(|(id, cfg)| AgentRow {
                    id: id.to_string(),
                    role: cfg.role.clone(),
                    capabilities: cfg.capabilities.clone(),
                    url: None,
                    registered: false,
                    registered_at: now,
                })
                .collect()
        };
        let added = missing.len();
        for row in missing {
            self.save(row).await?;
        }
        Ok(added)
    }

    async fn save(&self, row: AgentRow) -> Result<AgentRow, MeshError> {
        let saved = row.clone();
        self.store
            .write(move |c| rows::upsert_agent(c, &saved).map_err(MeshError::from))
            .await?;
        self.agents
            .write()
            .expect("registry lock")
            .insert(row.id.clone(), row.clone());
        Ok(row)
    }

    pub fn get(&self, id: &str) -> Option<AgentRow> {
        self.agents.read().expect("registry lock").get(id).cloned()
    }

    pub fn exists(&self, id: &str) -> bool {
        self.agents.read().expect("registry lock").contains_key(id)
    }

    pub fn url(&self, id: &str) -> Option<String> {
        self.agents
            .read()
            .expect("registry lock")
            .get(id)
            .and_then(|a| a.url.clone())
    }

    /// Resolves a message target: an agent id, or `capability:<name>` for the first
    /// registered agent (in registration order) that advertises `<name>`.
    pub fn resolve_target(&self, to: &str) -> Option<String> {
        let agents = self.agents.read().expect("registry lock");
        match to.strip_prefix("capability:") {
            Some(cap) => agents
                .values()
                .filter(|a| a.registered && a.capabilities.iter().any(|c| c == cap))
                .min_by_key(|a| (a.registered_at, a.id.clone()))
                .map(|a| a.id.clone()),
            None => agents.contains_key(to).then(|| to.to_owned()),
        }
    }

    pub fn snapshot(&self) -> Vec<AgentRow> {
        self.agents
            .read()
            .expect("registry lock")
            .values()
            .cloned()
            .collect()
    }

    /// An agent announcing itself: its capabilities and, optionally, the loopback port of
    /// its HTTP API. It cannot choose an arbitrary URL: the mesh would POST wherever it
    /// pointed.
    pub async fn register_self(
        &self,
        id: &AgentId,
        req: &RegisterRequest,
    ) -> Result<AgentRow, MeshError> {
        let mut row = self
            .get(id.as_str())
            .ok_or_else(|| MeshError::UnknownAgent {
                agent: id.to_string(),
            })?;
        let mut capabilities = req.capabilities.clone();
        let configured = self
            .configured
            .read()
            .expect("registry lock")
            .get(id.as_str())
            .cloned()
            .unwrap_or_default();
        for cap in configured {
            if !capabilities.contains(&cap) {
                capabilities.push(cap);
            }
        }
        check_capabilities(&capabilities)?;
        if req.url.is_some() {
            return Err(MeshError::OperatorOnly {
                action: "set an agent's url (agents give a port)",
            });
        }
        row.capabilities = capabilities;
        if let Some(port) = req.port {
            row.url = Some(port_url(port)?);
        }
        if let Some(role) = &req.role {
            row.role = role.clone();
        }
        if !row.registered {
            row.registered = true;
            row.registered_at = now_micros();
        }
        self.save(row).await
    }

    /// The operator creating or updating an agent; returns its row and a new token.
    pub async fn register_by_operator(
        &self,
        req: &RegisterRequest,
    ) -> Result<(AgentRow, String), MeshError> {
        let name = req.agent_id.as_deref().ok_or(MeshError::BadField {
            field: "agent_id",
            problem: "the operator must name the agent to register".into(),
        })?;
        let id = AgentId::new_agent(name)?;
        check_capabilities(&req.capabilities)?;
        let url = match (&req.url, req.port) {
            (Some(url), _) => Some(check_url(url)?),
            (None, Some(port)) => Some(port_url(port)?),
            (None, None) => None,
        };
        let now = now_micros();
        let mut row = self.get(id.as_str()).unwrap_or(AgentRow {
            id: id.to_string(),
            role: String::new(),
            capabilities: Vec::new(),
            url: None,
            registered: false,
            registered_at: now,
        });
        if !req.capabilities.is_empty() {
            row.capabilities = req.capabilities.clone();
        }
        if url.is_some() {
            row.url = url;
        }
        if let Some(role) = &req.role {
            row.role = role.clone();
        }
        let row = self.save(row).await?;
        let token = self.mint_token(&id).await?;
        Ok((row, token))
    }

    /// Sets where the agent's API is (the mesh starting an agent knows its socket).
    pub async fn set_url(&self, id: &AgentId, url: String) -> Result<(), MeshError> {
        let mut row = self
            .get(id.as_str())
            .ok_or_else(|| MeshError::UnknownAgent {
                agent: id.to_string(),
            })?;
        row.url = Some(url);
        self.save(row).await.map(drop)
    }

    /// A new bearer token for an existing agent (its other tokens stay valid).
    pub async fn mint_token(&self, id: &AgentId) -> Result<String, MeshError> {
        self.new_token(id, false).await
    }

    /// The agent's only token from now on: the mesh starts a new instance of the agent
    /// with it, and whatever held an older one (the instance it replaces) loses access.
    pub async fn rotate_token(&self, id: &AgentId) -> Result<String, MeshError> {
        self.new_token(id, true).await
    }

    async fn new_token(&self, id: &AgentId, revoke_others: bool) -> Result<String, MeshError> {
        if !self.exists(id.as_str()) {
            return Err(MeshError::UnknownAgent {
                agent: id.to_string(),
            });
        }
        let token = mint_token();
        let hash = hash_token(&token);
        let agent = id.to_string();
        self.store
            .write(move |c| {
                if revoke_others {
                    rows::delete_tokens(c, &agent)?;
                }
                rows::insert_token(c, &hash, &agent, now_micros()).map_err(MeshError::from)
            })
            .await?;
        if revoke_others {
            self.tokens.revoke_agent(id);
        }
        self.tokens.insert(hash, Caller::Agent(id.clone()));
        Ok(token)
    }

    /// Deletes an agent, its tokens, subscriptions, watches and inbox.
    pub async fn remove(&self, id: &AgentId) -> Result<bool, MeshError> {
        let agent = id.to_string();
        let existed = self
            .store
            .write(move |c| rows::delete_agent(c, &agent).map_err(MeshError::from))
            .await?;
        self.tokens.revoke_agent(id);
        self.agents
            .write()
            .expect("registry lock")
            .remove(id.as_str());
        Ok(existed)
    }
}

fn check_capabilities(caps: &[String]) -> Result<(), MeshError> {
    if caps.len() > limits::MAX_CAPABILITIES {
        return Err(MeshError::BadField {
            field: "capabilities",
            problem: format!(
                "{} given, at most {} allowed",
                caps.len(),
                limits::MAX_CAPABILITIES
            ),
        });
    }
    if let Some(bad) = caps
        .iter()
        .find(|c| c.is_empty() || c.chars().count() > limits::MAX_NAME_CHARS)
    {
        return Err(MeshError::BadField {
            field: "capabilities",
            problem: format!("{bad:?} must be 1 to {} characters", limits::MAX_NAME_CHARS),
        });
    }
    Ok(())
}

fn port_url(port: u16) -> Result<String, MeshError> {
    if port < 1024 {
        return Err(MeshError::BadField {
            field: "port",
            problem: format!("{port} is not in 1024..=65535"),
        });
    }
    Ok(format!("http://127.0.0.1:{port}"))
}

fn check_url(url: &str) -> Result<String, MeshError> {
    let parsed = reqwest::Url::parse(url).map_err(|e| MeshError::BadField {
        field: "url",
        problem: format!("{url:?} is not a URL: {e}"),
    })?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        return Err(MeshError::BadField {
            field: "url",
            problem: format!("{url:?} is not an http(s) URL"),
        });
    }
    Ok(url.trim_end_matches('/').to_owned())
}

impl crate::lanes::Directory for Registry {
    fn url(&self, agent: &str) -> Option<String> {
        Registry::url(self, agent)
    }

    fn exists(&self, agent: &str) -> bool {
        Registry::exists(self, agent)
    }
}
