//! `openlegion agent add|list|remove|token`.
//!
//! agents.yaml is the source of truth for which agents an installation has; the running
//! mesh is told about changes (reload, or removal of the agent's tokens and inbox).

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use openlegion_host::config::{self, AgentConfig, Config};
use openlegion_host::state::StateDir;
use openlegion_host::store::{Store, StoreError, registry};
use openlegion_protocol::AgentId;
use reqwest::Method;
use serde_json::json;

use super::client::{MeshRefused, OperatorClient};

#[derive(Debug, Subcommand)]
pub(crate) enum AgentCommand {
    /// Add an agent to agents.yaml (and to the running mesh).
    Add {
        name: String,
        #[arg(long, default_value = "assistant")]
        role: String,
        /// `provider/model`, e.g. openai/gpt-4o-mini.
        #[arg(long)]
        model: Option<String>,
    },
    /// List the agents (live state if the mesh runs, else agents.yaml).
    List,
    /// Remove an agent: from agents.yaml, and its tokens, subscriptions and inbox; its
    /// sandbox is stopped.
    Remove {
        name: String,
        /// Also delete its data (the container volume or data directory).
        #[arg(long)]
        purge: bool,
    },
    /// Print a new mesh token for the agent (for scripts and tests).
    Token { name: String },
}

pub(crate) async fn run(config_dir: &Path, cmd: AgentCommand) -> Result<ExitCode> {
    let config = Config::load(config_dir)?;
    match cmd {
        AgentCommand::Add { name, role, model } => add(&config, &name, role, model).await,
        AgentCommand::List => list(&config).await,
        AgentCommand::Remove { name, purge } => remove(&config, &name, purge).await,
        AgentCommand::Token { name } => {
            let client = OperatorClient::require(config_dir)?;
            let url = client.url("/mesh/agents", &[&name, "token"]);
            let answer = client.call(Method::POST, url, Some(&json!({}))).await?;
            println!(
                "{}",
                answer["token"]
                    .as_str()
                    .context("the mesh returned no token")?
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn add(config: &Config, name: &str, role: String, model: Option<String>) -> Result<ExitCode> {
    let id = AgentId::new_agent(name)?;
    let path = config.agents_path();
    let mut agents = config::load_agents(&path)?;
    if agents.agents.contains_key(&id) {
        bail!("agent {id} already exists in {}", path.display());
    }
    agents.agents.insert(
        id.clone(),
        AgentConfig {
            role,
            model,
            ..AgentConfig::default()
        },
    );
    config::save_agents(&path, &agents)?;
    println!("added agent {id} to {}", path.display());
    if let Some(client) = OperatorClient::for_config(config)? {
        client
            .post("/mesh/reload", &json!({}))
            .await
            .context("the running mesh did not reload")?;
        println!("the running mesh knows it now; get its token with `openlegion agent token {id}`");
    }
    Ok(ExitCode::SUCCESS)
}

async fn list(config: &Config) -> Result<ExitCode> {
    if let Some(client) = OperatorClient::for_config(config)? {
        let agents = client.get("/mesh/agents").await?;
        println!(
            "{:<24} {:<16} {:<11} {:<6} url",
            "agent", "role", "registered", "inbox"
        );
        for (id, a) in agents.as_object().into_iter().flatten() {
            println!(
                "{:<24} {:<16} {:<11} {:<6} {}",
                id,
                a["role"].as_str().unwrap_or(""),
                a["registered"].as_bool().unwrap_or(false),
                a["inbox"],
                a["url"].as_str().unwrap_or("-")
            );
        }
    } else {
        println!(
            "(the mesh is not running; from {})",
            config.agents_path().display()
        );
        for (id, a) in &config.agents.agents {
            println!(
                "{id:<24} {:<16} {}",
                a.role,
                a.model.as_deref().unwrap_or("-")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn remove(config: &Config, name: &str, purge: bool) -> Result<ExitCode> {
    let id = AgentId::parse(name)?;
    let path = config.agents_path();
    let mut agents = config::load_agents(&path)?;
    let in_file = agents.agents.remove(&id).is_some();
    if in_file {
        config::save_agents(&path, &agents)?;
    }
    let in_mesh = match OperatorClient::for_config(config)? {
        Some(client) => {
            let mut url = client.url("/mesh/agents", &[name]);
            if purge {
                url.query_pairs_mut().append_pair("purge", "true");
            }
            match client.call(Method::DELETE, url, None).await {
                Ok(_) => true,
                Err(e)
                    if e.downcast_ref::<MeshRefused>()
                        .is_some_and(|r| r.status == 404) =>
                {
                    false
                }
                Err(e) => return Err(e),
            }
        }
        None => {
            // No mesh runs, so the database is ours to edit.
            let store = Store::open(&StateDir::new(config.state_dir()).db())?;
            let who = id.to_string();
            store
                .write(move |c| registry::delete_agent(c, &who))
                .await
                .map_err(|e: StoreError| e)?
        }
    };
    if !in_file && !in_mesh {
        bail!("no agent named {id}");
    }
    println!("removed agent {id}");
    Ok(ExitCode::SUCCESS)
}
