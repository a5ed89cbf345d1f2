//! `openlegion webhook add|list|remove`: edits config/webhooks.json, which a running mesh
//! re-reads when it changes (no reload needed).

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::Subcommand;
use openlegion_mesh::config::Config;
use openlegion_mesh::state_dir::StateDir;
use openlegion_mesh::webhooks::{Hook, WEBHOOKS_FILE, config};

#[derive(Debug, Subcommand)]
pub(crate) enum WebhookCommand {
    /// Add a hook for an agent and print its URL (the id in it is a credential).
    Add {
        name: String,
        /// The agent whose lane receives the payloads.
        #[arg(long)]
        agent: String,
        /// The credential (vault name or environment variable) holding the HMAC secret;
        /// with it, every delivery must carry `X-Hub-Signature-256`.
        #[arg(long)]
        secret_env: Option<String>,
    },
    /// List the hooks.
    List,
    /// Remove a hook by name.
    Remove { name: String },
}

pub(crate) fn run(config_dir: &Path, cmd: WebhookCommand) -> Result<ExitCode> {
    let cfg = Config::load(config_dir)?;
    let path = cfg.dir.join(WEBHOOKS_FILE);
    let mut file = config::load(&path)?;
    match cmd {
        WebhookCommand::Add {
            name,
            agent,
            secret_env,
        } => {
            if file.by_name(&name).is_some() {
                bail!("a webhook named {name:?} already exists");
            }
            let known = openlegion_protocol::AgentId::parse(&agent)
                .is_ok_and(|id| cfg.agents.agents.contains_key(&id));
            if !known {
                bail!("no agent {agent:?} in {}", cfg.agents_path().display());
            }
            let hook = Hook::new(&name, &agent, secret_env);
            let id = hook.id.clone();
            file.hooks.insert(id.clone(), hook);
            config::save(&path, &file)?;
            let base = StateDir::read_trimmed(&StateDir::new(cfg.state_dir()).addr_file())
                .unwrap_or_default();
            println!("{base}/webhook/hook/{id}");
        }
        WebhookCommand::List => {
            if file.hooks.is_empty() {
                println!("no webhooks ({} is empty or absent)", path.display());
            }
            for hook in file.hooks.values() {
                let signed = match &hook.secret_env {
                    Some(var) => format!("signed ({var})"),
                    None => "unsigned".into(),
                };
                println!(
                    "{}\t{}\t/webhook/hook/{}\t{signed}\tcreated {}",
                    hook.name, hook.agent, hook.id, hook.created_at
                );
            }
        }
        WebhookCommand::Remove { name } => {
            let Some(id) = file.by_name(&name).map(|h| h.id.clone()) else {
                bail!("no webhook named {name:?}");
            };
            file.hooks.remove(&id);
            config::save(&path, &file)?;
            println!("removed webhook {name}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
