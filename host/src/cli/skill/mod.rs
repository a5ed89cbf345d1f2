//! `openlegion skill`: write a skill as a human — start a project from the SDK's templates,
//! build it into a component, try its tools locally in the agent's own skill host, install
//! it into an agent, and list what an agent has loaded.

mod install;
mod project;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Subcommand;

use self::project::Lang;
use super::client::OperatorClient;

#[derive(Debug, Subcommand)]
pub(crate) enum SkillCommand {
    /// Start a skill project in DIR/NAME from the SDK's template for the language.
    New {
        /// The skill's name: 1 to 64 of a-z, 0-9, `-` and `_`, starting with a letter.
        name: String,
        #[arg(long, value_enum)]
        lang: Lang,
        /// Where to create the project's directory.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
    /// Build the project in DIR into DIR/dist/<name>/ (skill.wasm and skill.yaml), and check
    /// that the component imports only what agents provide.
    Build {
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// Call a tool of a built skill locally, in the skill host agents use (log and workspace
    /// capabilities on a scratch directory). Without TOOL, list the tools.
    Test {
        /// The project, or a built skill directory.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        tool: Option<String>,
        /// The arguments, a JSON object.
        #[arg(default_value = "{}")]
        args: String,
    },
    /// Install a built skill into an agent; it loads it within a second.
    Install {
        agent: String,
        /// The project, or a built skill directory.
        #[arg(default_value = ".")]
        path: PathBuf,
    },
    /// The skills an agent has loaded, with their tools.
    List { agent: String },
}

pub(crate) async fn run(config_dir: &Path, command: SkillCommand) -> Result<ExitCode> {
    match command {
        SkillCommand::New { name, lang, dir } => {
            let project = project::scaffold(&sdk_dir(config_dir)?, &name, lang, &dir)?;
            println!(
                "created {} ({}); build it with `openlegion skill build {}`",
                project.display(),
                lang.name(),
                project.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        SkillCommand::Build { dir } => {
            let built = project::build(&sdk_dir(config_dir)?, &dir).await?;
            println!("built {}", built.display());
            Ok(ExitCode::SUCCESS)
        }
        SkillCommand::Test { dir, tool, args } => {
            let built = project::built_dir(&dir)?;
            serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&args)
                .with_context(|| format!("the arguments {args:?} are not a JSON object"))?;
            let mut trial = tokio::process::Command::new(agent_binary(config_dir));
            trial.arg("try").arg(&built);
            if let Some(tool) = &tool {
                trial.arg(tool).arg(&args);
            }
            let status = trial.status().await.context(
                "cannot run openlegion-agent (build it: cargo build -p openlegion-agent)",
            )?;
            Ok(ExitCode::from(
                status.code().unwrap_or(2).clamp(0, 255) as u8
            ))
        }
        SkillCommand::Install { agent, path } => {
            let built = project::built_dir(&path)?;
            let at = install::install(config_dir, &agent, &built).await?;
            println!("installed {} into agent {agent} ({at})", built.display());
            Ok(ExitCode::SUCCESS)
        }
        SkillCommand::List { agent } => {
            let client = OperatorClient::require(config_dir)?;
            let skills = client
                .get(&format!("/mesh/agents/{agent}/api/skills"))
                .await?;
            println!("{}", serde_json::to_string_pretty(&skills)?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The SDK (`skills-sdk/` of the source tree): `OPENLEGION_SKILL_SDK`, else beside the
/// configuration directory, else above the `openlegion` binary (`target/release/`).
fn sdk_dir(config_dir: &Path) -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("OPENLEGION_SKILL_SDK") {
        return Ok(PathBuf::from(dir));
    }
    let beside_config = config_dir
        .canonicalize()
        .ok()
        .and_then(|c| c.parent().map(|p| p.join("skills-sdk")));
    let above_binary = std::env::current_exe().ok().and_then(|exe| {
        exe.ancestors()
            .map(|a| a.join("skills-sdk"))
            .find(|d| d.join("compilers.sh").is_file())
    });
    beside_config
        .filter(|d| d.join("compilers.sh").is_file())
        .or(above_binary)
        .map_or_else(
            || {
                bail!(
                    "cannot find the skill SDK (skills-sdk/ of the OpenLegion source tree); \
                     set OPENLEGION_SKILL_SDK to it"
                )
            },
            Ok,
        )
}

/// The agent binary, as the mesh would start it (the one beside this binary when the
/// configuration cannot be read: `skill test` needs none).
fn agent_binary(config_dir: &Path) -> PathBuf {
    match openlegion_mesh::config::Config::load(config_dir) {
        Ok(config) => openlegion_mesh::fleet::Backends::agent_binary(&config),
        Err(_) => std::env::current_exe()
            .map(|exe| exe.with_file_name("openlegion-agent"))
            .unwrap_or_else(|_| "openlegion-agent".into()),
    }
}
