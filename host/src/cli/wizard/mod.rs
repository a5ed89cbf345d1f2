//! `openlegion setup`: the guided first run. It asks for a provider (or the local model)
//! and its key, a project description, a team template and where agents run, then writes
//! mesh.yaml, `.env`, PROJECT.md, agents.yaml, permissions.json and the template's
//! workflows, and prepares the machine (`super::setup`: local models, container images).
//!
//! Every question has a flag, and `--yes` answers the rest with their defaults, so it runs
//! unattended. On an existing configuration nothing is changed that the user did not
//! choose: a value already set is the default answer, and replacing what exists (an agent,
//! a workflow, PROJECT.md, a key) is asked with "no" as the answer unless `--replace`.
//! Before anything is written the changes are listed, and on a terminal confirmed.

mod ask;
mod files;
mod provider;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use openlegion_mesh::config::{self, Isolation};
use openlegion_mesh::templates::{self, Existing, Template};
use openlegion_protocol::AgentId;
use serde_json::Value;

use self::ask::Ask;
use self::files::{DotEnv, MeshYaml};

#[derive(Debug, Clone, Default, clap::Args)]
pub(crate) struct SetupArgs {
    /// The LLM provider: openai, anthropic, groq, openrouter, ollama, or local (a small
    /// model the mesh runs itself: no key, no account).
    #[arg(long, value_parser = provider::PROVIDERS.map(|p| p.name))]
    provider: Option<String>,
    /// The default model, `provider/model` (default: the provider's small model).
    #[arg(long)]
    model: Option<String>,
    /// Read the provider's API key from this environment variable (keys never go on the
    /// command line, where other users of the machine see them).
    #[arg(long, value_name = "VAR")]
    api_key_env: Option<String>,
    /// The provider's base URL (an OpenAI-compatible server, a proxy); written to .env.
    #[arg(long, value_name = "URL")]
    api_base: Option<String>,
    /// What the project is, in a sentence or two; written to PROJECT.md.
    #[arg(long)]
    description: Option<String>,
    /// The team: starter, sales, devteam, content, a template file, or `none` to keep
    /// agents.yaml as it is.
    #[arg(long)]
    template: Option<String>,
    /// Where agents run: docker, gvisor or process (no OS isolation, for development).
    #[arg(long, value_parser = ["docker", "gvisor", "process"])]
    isolation: Option<String>,
    /// The port the mesh listens on.
    #[arg(long)]
    port: Option<u16>,
    /// Ask nothing: what no flag says keeps its current value, or takes its default.
    #[arg(short = 'y', long)]
    yes: bool,
    /// With --yes: replace what exists (agents and workflows of the template, PROJECT.md,
    /// the provider's key) instead of keeping it.
    #[arg(long, requires = "yes")]
    replace: bool,
    /// Write the configuration only: install no model, build no image.
    #[arg(long)]
    no_build: bool,
}

impl SetupArgs {
    /// Whether any question is answered by a flag (a script wants the wizard, unattended).
    fn any_answer(&self) -> bool {
        self.yes
            || self.provider.is_some()
            || self.model.is_some()
            || self.api_key_env.is_some()
            || self.api_base.is_some()
            || self.description.is_some()
            || self.template.is_some()
            || self.isolation.is_some()
            || self.port.is_some()
    }
}

pub(crate) async fn run(config_dir: &Path, args: SetupArgs) -> Result<ExitCode> {
    let terminal = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    if !terminal && !args.any_answer() {
        // A script's plain `openlegion setup`: prepare the machine for the configuration
        // as it is, as this command always did.
        return super::setup::run(config_dir).await;
    }
    let ask = Ask::new(terminal && !args.yes, args.replace);
    std::fs::create_dir_all(config_dir)
        .with_context(|| format!("cannot create {}", config_dir.display()))?;
    let config_dir = std::path::absolute(config_dir)?;
    let root = config_dir.parent().unwrap_or(&config_dir).to_owned();
    if ask.interactive() {
        println!(
            "OpenLegion setup: {} (Enter keeps the value shown; nothing is written before you confirm)\n",
            config_dir.display()
        );
    }
    let mut plan = Plan::new(&config_dir, &root)?;
    plan.provider(&ask, &args)?;
    plan.project(&ask, &args)?;
    plan.team(&ask, &args)?;
    plan.isolation(&ask, &args).await?;
    if let Some(port) = args.port {
        plan.mesh.set("mesh", "port", Value::from(port));
        plan.changes.push(format!("mesh.yaml: mesh.port {port}"));
    }
    if plan.changes.is_empty() {
        println!("nothing to change in {}", config_dir.display());
    } else {
        println!("\nChanges:");
        for change in &plan.changes {
            println!("  - {change}");
        }
        if !ask.confirm("Write these changes?", true)? {
            println!("nothing written");
            return Ok(ExitCode::from(1));
        }
        plan.write()?;
    }
    for note in &plan.notes {
        println!("note: {note}");
    }
    if args.no_build {
        return Ok(ExitCode::SUCCESS);
    }
    println!();
    let prepared = super::setup::run(&config_dir).await?;
    if prepared == ExitCode::SUCCESS {
        println!(
            "\nready: start the mesh with `openlegion --config {} start`",
            config_dir.display()
        );
    }
    Ok(prepared)
}

/// What the answers change, gathered before anything is written.
struct Plan {
    config_dir: PathBuf,
    mesh: MeshYaml,
    dotenv: DotEnv,
    project_path: PathBuf,
    project: Option<String>,
    template: Option<Template>,
    /// Agents and workflow files of the template the user agreed to replace.
    replace_agents: Vec<AgentId>,
    replace_workflows: Vec<PathBuf>,
    /// One line per change, listed before writing.
    changes: Vec<String>,
    /// What the user should know (a key still missing, …).
    notes: Vec<String>,
}

impl Plan {
    fn new(config_dir: &Path, root: &Path) -> Result<Self> {
        Ok(Self {
            config_dir: config_dir.to_owned(),
            mesh: MeshYaml::read(&config_dir.join(config::MESH_FILE))?,
            dotenv: DotEnv::read(&root.join(".env"))?,
            project_path: root.join("PROJECT.md"),
            project: None,
            template: None,
            replace_agents: Vec::new(),
            replace_workflows: Vec::new(),
            changes: Vec::new(),
            notes: Vec::new(),
        })
    }

    /// PROJECT.md from a description.
    fn project(&mut self, ask: &Ask, args: &SetupArgs) -> Result<()> {
        let shown = self.project_path.display().to_string();
        if self.project_path.exists() && !ask.replace(&shown)? {
            if args.description.is_some() {
                self.notes
                    .push(format!("{shown} exists; kept (--replace replaces it)"));
            }
            return Ok(());
        }
        let description = match &args.description {
            Some(d) => d.clone(),
            None => ask.input(
                "Describe the project in a sentence or two (Enter to skip)",
                "",
            )?,
        };
        if description.trim().is_empty() {
            return Ok(());
        }
        self.changes.push(format!("{shown}: the project brief"));
        self.project = Some(files::project_brief(&description));
        Ok(())
    }

    /// The team template, and what of it may replace what exists.
    fn team(&mut self, ask: &Ask, args: &SetupArgs) -> Result<()> {
        let agents = config::load_agents(&self.config_dir.join(config::AGENTS_FILE))?;
        let builtin = templates::builtin_names();
        let choice = match &args.template {
            Some(t) if t == "none" => None,
            Some(t) => Some(t.clone()),
            None => {
                let mut labels: Vec<String> = builtin
                    .iter()
                    .map(|name| {
                        let t = templates::load(name).expect("built-in templates load");
                        format!("{name:<8} {}", t.description)
                    })
                    .collect();
                labels.push("none     keep agents.yaml as it is".into());
                let default = if agents.agents.is_empty() {
                    0
                } else {
                    builtin.len()
                };
                let i = ask.select("Which team of agents?", &labels, default)?;
                builtin.get(i).map(|n| (*n).to_owned())
            }
        };
        let Some(choice) = choice else {
            return Ok(());
        };
        let template = templates::load(&choice)?;
        for id in template.agents.keys() {
            if agents.agents.contains_key(id) {
                if ask.replace(&format!("Agent {id} in agents.yaml"))? {
                    self.replace_agents.push(id.clone());
                } else {
                    self.notes.push(format!("agent {id} exists; kept as it is"));
                }
            }
        }
        for name in template.workflows.keys() {
            let path = self
                .config_dir
                .join("workflows")
                .join(format!("{name}.yaml"));
            if path.exists() {
                if ask.replace(&format!("{}", path.display()))? {
                    self.replace_workflows.push(path);
                } else {
                    self.notes
                        .push(format!("{} exists; kept as it is", path.display()));
                }
            }
        }
        let written: Vec<String> = template
            .agents
            .keys()
            .filter(|id| !agents.agents.contains_key(*id) || self.replace_agents.contains(id))
            .map(ToString::to_string)
            .collect();
        if !written.is_empty() {
            self.changes.push(format!(
                "agents.yaml and permissions.json: the {} team ({})",
                template.name,
                written.join(", ")
            ));
        }
        let workflows: Vec<&String> = template
            .workflows
            .keys()
            .filter(|name| {
                let path = self
                    .config_dir
                    .join("workflows")
                    .join(format!("{name}.yaml"));
                !path.exists() || self.replace_workflows.contains(&path)
            })
            .collect();
        if !workflows.is_empty() {
            self.changes.push(format!(
                "workflows/: {}",
                workflows
                    .iter()
                    .map(|w| format!("{w}.yaml"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        self.template = Some(template);
        Ok(())
    }

    /// Where agents run: only what this machine offers is proposed.
    async fn isolation(&mut self, ask: &Ask, args: &SetupArgs) -> Result<()> {
        let current = self
            .mesh
            .get("runtime", "isolation")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let chosen = match &args.isolation {
            Some(i) => i.clone(),
            None => {
                let docker = super::machine::docker().await.ok;
                let gvisor = docker && super::machine::gvisor().await.ok;
                let mut options: Vec<(&str, &str)> = Vec::new();
                if docker {
                    options.push((
                        "docker",
                        "docker   a hardened container per agent (recommended)",
                    ));
                }
                if gvisor {
                    options.push(("gvisor", "gvisor   containers under gVisor: a second kernel between agents and this one"));
                }
                options.push((
                    "process",
                    "process  plain processes: no OS isolation, for development",
                ));
                let default = current
                    .as_deref()
                    .and_then(|c| options.iter().position(|(name, _)| *name == c))
                    .unwrap_or(0);
                if let Some(c) = current.as_deref()
                    && !options.iter().any(|(name, _)| *name == c)
                    && c != "external"
                {
                    self.notes.push(format!(
                        "runtime.isolation is {c}, which this machine cannot run now"
                    ));
                }
                if current.as_deref() == Some("external") && !ask.interactive() {
                    return Ok(());
                }
                let labels: Vec<String> = options.iter().map(|(_, l)| (*l).to_owned()).collect();
                options[ask.select("Where do agents run?", &labels, default)?]
                    .0
                    .to_owned()
            }
        };
        if current.as_deref() != Some(chosen.as_str()) {
            let _checked: Isolation = serde_json::from_value(Value::from(chosen.clone()))?;
            self.mesh
                .set("runtime", "isolation", Value::from(chosen.clone()));
            self.changes
                .push(format!("mesh.yaml: runtime.isolation {chosen}"));
        }
        Ok(())
    }

    /// Writes every change; the configuration is checked as a whole afterwards.
    fn write(&self) -> Result<()> {
        if self.mesh.changed() {
            if let Some(bak) = self.mesh.save()? {
                println!(
                    "wrote {} (its comments are kept in {})",
                    self.config_dir.join(config::MESH_FILE).display(),
                    bak.display()
                );
            } else {
                println!(
                    "wrote {}",
                    self.config_dir.join(config::MESH_FILE).display()
                );
            }
        }
        if self.dotenv.changed() {
            self.dotenv.save()?;
            println!(
                "wrote {} (mode 0600)",
                self.project_path.with_file_name(".env").display()
            );
        }
        if let Some(text) = &self.project {
            openlegion_mesh::atomic_file::write(&self.project_path, text.as_bytes())
                .with_context(|| format!("cannot write {}", self.project_path.display()))?;
            println!("wrote {}", self.project_path.display());
        }
        if let Some(template) = &self.template {
            let applied = templates::apply(template, &self.config_dir, &mut |e| match e {
                Existing::Agent(id) => self.replace_agents.contains(id),
                Existing::Workflow(path) => self.replace_workflows.iter().any(|p| p == path),
            })?;
            if !applied.agents.is_empty() {
                println!(
                    "wrote the {} team into agents.yaml and permissions.json: {}",
                    template.name,
                    applied
                        .agents
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            for path in &applied.workflows {
                println!("wrote {}", path.display());
            }
        }
        config::Config::load(&self.config_dir)
            .context("the configuration written does not load")?;
        Ok(())
    }
}
