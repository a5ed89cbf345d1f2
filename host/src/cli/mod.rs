//! The command line: one module per subcommand. This is the only place that uses anyhow;
//! the library below returns typed errors.

mod agent;
mod bb;
mod channel;
mod client;
mod costs;
mod cron;
mod doctor;
mod local_model;
mod logging;
mod machine;
mod progress;
mod ready;
mod repl;
mod setup;
mod skill;
mod start;
mod status;
mod stop;
mod table;
mod webhook;
mod wizard;
mod workflow;

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
        /// Listen on this port instead of mesh.yaml's `mesh.port` (0: any free port).
        #[arg(long)]
        port: Option<u16>,
    },
    /// Set up this installation: provider and key, project, team, isolation (asks on a
    /// terminal; flags answer, --yes takes the defaults), then install the local models
    /// and build the container images the agents need. Without a terminal and without
    /// flags, only the last part.
    Setup(wizard::SetupArgs),
    /// Check this machine: Docker, gVisor, KVM, the local models, Chromium, disk space,
    /// and what each missing piece disables.
    Doctor,
    /// Print a completion script for a shell (bash, zsh, fish, elvish, powershell), e.g.
    /// `openlegion completions bash > ~/.local/share/bash-completion/completions/openlegion`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Stop a mesh started with `start -d` (SIGTERM, wait for it to drain).
    Stop {
        /// Seconds to wait for a clean exit.
        #[arg(long, default_value_t = 30)]
        timeout: u64,
    },
    /// Show whether the mesh runs, and what it holds.
    Status,
    /// Re-read permissions.json, agents.yaml and config/workflows/ in the running mesh.
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
    /// Manage cron jobs: list, add, remove, enable, disable, run.
    #[command(subcommand)]
    Cron(cron::CronCommand),
    /// Workflows: list, run, status, cancel, runs.
    #[command(subcommand)]
    Workflow(workflow::WorkflowCommand),
    /// Who may talk to the agents from Telegram and Discord: pair, users, unpair.
    #[command(subcommand)]
    Channel(channel::ChannelCommand),
}

pub(crate) fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.command {
        Command::Start {
            detach: true, port, ..
        } => runtime.block_on(start::detach(&cli.config, port)),
        Command::Start {
            detach: false,
            repl,
            port,
        } => runtime.block_on(start::foreground(&cli.config, repl, port)),
        Command::Setup(args) => runtime.block_on(wizard::run(&cli.config, args)),
        Command::Doctor => runtime.block_on(doctor::run(&cli.config)),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            use std::io::Write;
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "openlegion", &mut script);
            match std::io::stdout().write_all(&script) {
                // `| head`: the reader left, which is its business.
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
                _ => Ok(ExitCode::SUCCESS),
            }
        }
        Command::Stop { timeout } => stop::run(&cli.config, timeout),
        Command::Status => runtime.block_on(status::status(&cli.config)),
        Command::Reload => runtime.block_on(status::reload(&cli.config)),
        Command::Agent(cmd) => runtime.block_on(agent::run(&cli.config, cmd)),
        Command::Bb(cmd) => runtime.block_on(bb::run(&cli.config, cmd)),
        Command::Chat { name } => runtime.block_on(async {
            let client = client::OperatorClient::require(&cli.config)?;
            let config = openlegion_mesh::config::Config::load(&cli.config)?;
            let history = config.state_dir().join(repl::HISTORY_FILE);
            repl::run(&client, Some(name), false, Some(history)).await?;
            Ok(ExitCode::SUCCESS)
        }),
        Command::Costs { period } => runtime.block_on(costs::run(&cli.config, period)),
        Command::Skill(cmd) => runtime.block_on(skill::run(&cli.config, cmd)),
        Command::Webhook(cmd) => webhook::run(&cli.config, cmd),
        Command::Cron(cmd) => runtime.block_on(cron::run(&cli.config, cmd)),
        Command::Workflow(cmd) => runtime.block_on(workflow::run(&cli.config, cmd)),
        Command::Channel(cmd) => runtime.block_on(channel::run(&cli.config, cmd)),
    }
}
