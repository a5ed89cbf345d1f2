//! The command line: one module per subcommand. This is the only place that uses anyhow;
//! the library below returns typed errors.

mod agent;
mod bb;
mod client;
mod costs;
mod local_model;
mod logging;
mod repl;
mod setup;
mod skill;
mod start;
mod status;
mod stop;
mod webhook;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "openlegion",
    version,
    about = "Run and manage a fleet of sandboxed LLM agents"
)]
pub(crate) struct Cli {
    /// The configuration directory (mesh.yaml, agents.yaml, permissions.json).
    #[arg(
        long,
        global = true,
        env = "OPENLEGION_CONFIG",
        default_value = "config"
    )]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start the mesh (in the foreground, or in the background with -d).
    Start {
        /// Run in the background, with a pid file and a log file in the state directory.
        #[arg(short = 'd', long)]
        detach: bool,
        /// Open the REPL even when standard input is not a terminal.
        #[arg(long, conflicts_with = "detach")]
        repl: bool,
    },
    /// Install the local models mesh.yaml uses (embeddings, chat), offer the models of a
    /// local Ollama, and build the container images the agents need (start does what is
    /// missing).
    Setup,
    /// Stop a mesh started with `start -d` (SIGTERM, wait for it to drain).
    Stop {
        /// Seconds to wait for a clean exit.
        #[arg(long, default_value_t = 30)]
        timeout: u64,
    },
    /// Show whether the mesh runs, and what it holds.
    Status,
    /// Re-read permissions.json and agents.yaml in the running mesh.
    Reload,
    /// Chat with one agent (streaming).
    Chat {
        /// The agent.
        name: String,
    },
    /// Manage agents.
    #[command(subcommand)]
    Agent(agent::AgentCommand),
    /// LLM spending per agent and model, and the budgets.
    Costs {
        #[arg(long, value_enum, default_value = "today")]
        period: costs::Period,
    },
    /// Read and write the blackboard.
    #[command(subcommand)]
    Bb(bb::BbCommand),
    /// Write skills: new, build, test, install, list.
    #[command(subcommand)]
    Skill(skill::SkillCommand),
    /// Manage webhooks: add, list, remove.
    #[command(subcommand)]
    Webhook(webhook::WebhookCommand),
}

pub(crate) fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.command {
        Command::Start { detach: true, .. } => runtime.block_on(start::detach(&cli.config)),
        Command::Start {
            detach: false,
            repl,
        } => runtime.block_on(start::foreground(&cli.config, repl)),
        Command::Setup => runtime.block_on(setup::run(&cli.config)),
        Command::Stop { timeout } => stop::run(&cli.config, timeout),
        Command::Status => runtime.block_on(status::status(&cli.config)),
        Command::Reload => runtime.block_on(status::reload(&cli.config)),
        Command::Agent(cmd) => runtime.block_on(agent::run(&cli.config, cmd)),
        Command::Bb(cmd) => runtime.block_on(bb::run(&cli.config, cmd)),
        Command::Chat { name } => runtime.block_on(async {
            let client = client::OperatorClient::require(&cli.config)?;
            repl::run(&client, Some(name), false).await?;
            Ok(ExitCode::SUCCESS)
        }),
        Command::Costs { period } => runtime.block_on(costs::run(&cli.config, period)),
        Command::Skill(cmd) => runtime.block_on(skill::run(&cli.config, cmd)),
        Command::Webhook(cmd) => webhook::run(&cli.config, cmd),
    }
}
