//! `openlegion agent add|list|remove|token`.
//!
//! agents.yaml is the source of truth for which agents an installation has; the running
//! mesh is told about changes (reload, or removal of the agent's tokens and inbox).

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use openlegion_mesh::config::{self, AgentConfig, Config};
use openlegion_mesh::state_dir::StateDir;
use openlegion_mesh::store::{Store, StoreError, registry};
use openlegion_protocol::AgentId;
use reqwest::Method;
use serde_json::json;

use super::client::{MeshRefused, OperatorClient};
use super::table;

#[derive(Debug, Subcommand)]
pub(crate) enum AgentCommand {
    /// Add an agent to agents.yaml (and to the running mesh). Without a name, asks for
    /// the name, role and model on the terminal.
    Add {
        name: Option<String>,
        /// What the agent does (default: assistant).
        #[arg(long)]
        role: Option<String>,
        /// `provider/model`, e.g. openai/gpt-4o-mini (default: mesh.yaml's llm.default_model).
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
        /// Do not ask for confirmation (needed when not on a terminal).
        #[arg(short = 'y', long)]
        yes: bool,
    },
    /// Print a new mesh token for the agent (for scripts and tests).
    Token { name: String },
}

pub(crate) async fn run(config_dir: &Path, cmd: AgentCommand) -> Result<ExitCode> {
    let config = Config::load(config_dir)?;
    match cmd {
        AgentCommand::Add { name, role, model } => {
            let (name, role, model) = complete_add(&config, name, role, model)?;
            add(&config, &name, role, model).await
        }
        AgentCommand::List => list(&config).await,
        AgentCommand::Remove { name, purge, yes } => {
            if !yes && !confirm_remove(&name, purge)? {
                println!("kept agent {name}");
                return Ok(ExitCode::from(1));
            }
            remove(&config, &name, purge).await
        }
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

/// The name, role and model of `agent add`: the flags, and on a terminal the answers to
/// what they leave out when no name was given.
fn complete_add(
    config: &Config,
    name: Option<String>,
    role: Option<String>,
    model: Option<String>,
) -> Result<(String, String, Option<String>)> {
    if let Some(name) = name {
        return Ok((name, role.unwrap_or_else(|| "assistant".into()), model));
    }
    if !(std::io::stdin().is_terminal() && std::io::stdout().is_terminal()) {
        bail!(
            "give the agent's name (`openlegion agent add NAME`), or run this on a terminal to be asked"
        );
    }
    let theme = dialoguer::theme::ColorfulTheme::default();
    let existing = config.agents.agents.clone();
    let name: String = dialoguer::Input::with_theme(&theme)
        .with_prompt("Name (letters, digits, - and _)")
        .validate_with(|n: &String| match AgentId::new_agent(n) {
            Ok(id) if existing.contains_key(&id) => Err(format!("{id} exists already")),
            Ok(_) => Ok(()),
            Err(e) => Err(e.to_string()),
        })
        .interact_text()?;
    let role = match role {
        Some(r) => r,
        None => dialoguer::Input::with_theme(&theme)
            .with_prompt("Role (what it does)")
            .default("assistant".to_owned())
            .interact_text()?,
    };
    let model = match model {
        Some(m) => Some(m),
        None => {
            let default = config.mesh.llm.default_model.clone().unwrap_or_default();
            let answer: String = dialoguer::Input::with_theme(&theme)
                .with_prompt("Model (provider/model; Enter: the default model)")
                .default(default.clone())
                .show_default(!default.is_empty())
                .allow_empty(true)
                .interact_text()?;
            (!answer.is_empty() && answer != default).then_some(answer)
        }
    };
    Ok((name, role, model))
}

/// Asks before removing an agent; refuses without a terminal (pass --yes there).
fn confirm_remove(name: &str, purge: bool) -> Result<bool> {
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        bail!("removing agent {name} needs --yes when not on a terminal");
    }
    Ok(
        dialoguer::Confirm::with_theme(&dialoguer::theme::ColorfulTheme::default())
            .with_prompt(if purge {
                format!("Remove agent {name} and delete its data?")
            } else {
                format!("Remove agent {name}? (its data stays)")
            })
            .default(false)
            .interact()?,
    )
}

async fn add(config: &Config, name: &str, role: String, model: Option<String>) -> Result<ExitCode> {
    let id = write_agent(&config.dir, name, role, model)?;
    println!("added agent {id} to {}", config.agents_path().display());
    if let Some(client) = OperatorClient::for_config(config)? {
        client
            .post("/mesh/reload", &json!({}))
            .await
            .context("the running mesh did not reload")?;
        println!("the running mesh knows it now; get its token with `openlegion agent token {id}`");
    }
    Ok(ExitCode::SUCCESS)
}

/// Adds agent `name` to the agents.yaml of `config_dir` (what `agent add` and the REPL's
/// `/add` do before the mesh reloads).
pub(crate) fn write_agent(
    config_dir: &Path,
    name: &str,
    role: String,
    model: Option<String>,
) -> Result<AgentId> {
    let id = AgentId::new_agent(name)?;
    let path = config_dir.join(config::AGENTS_FILE);
    let mut agents = config::load_agents(&path)?;
    if agents.agents.contains_key(&id) {
        bail!("agent {id} already exists in {}", path.display());
    }
    if let Some(model) = &model {
        openlegion_mesh::vault::parse_model(model)
            .map_err(|e| anyhow::anyhow!("model {model}: {e}"))?;
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
    Ok(id)
}

async fn list(config: &Config) -> Result<ExitCode> {
    if let Some(client) = OperatorClient::for_config(config)? {
        let agents = client.get("/mesh/agents").await?;
        let mut rows = table::plain(&["agent", "role", "registered", "inbox", "url"]);
        for (id, a) in agents.as_object().into_iter().flatten() {
            rows.add_row([
                id.clone(),
                a["role"].as_str().unwrap_or("").to_owned(),
                a["registered"].as_bool().unwrap_or(false).to_string(),
                a["inbox"].to_string(),
                a["url"].as_str().unwrap_or("-").to_owned(),
            ]);
        }
        table::print(&rows);
    } else {
        println!(
            "(the mesh is not running; from {})",
            config.agents_path().display()
        );
        let mut rows = table::plain(&[]);
        for (id, a) in &config.agents.agents {
            rows.add_row([
                id.to_string(),
                a.role.clone(),
                a.model.as_deref().unwrap_or("-").to_owned(),
            ]);
        }
        table::print(&rows);
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
        // No mesh ever ran here: there is no database to forget the agent in.
        None if !StateDir::new(config.state_dir()).db().exists() => false,
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
