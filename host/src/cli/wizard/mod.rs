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

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use openlegion_host::config::{self, Isolation};
use openlegion_host::templates::{self, Existing, Template};
use openlegion_protocol::AgentId;
use serde_json::Value;

use self::ask::Ask;
use self::files::{DotEnv, MeshYaml};

/// The bundled chat model of the `local` provider (issue 18 names it in
/// `openlegion_host::local_llm`; point this at that constant when it lands).
pub(crate) const LOCAL_CHAT_MODEL: &str = "local/smollm2-135m-instruct";

#[derive(Debug, Clone, Default, clap::Args)]
pub(crate) struct SetupArgs {
    /// The LLM provider: openai, anthropic, groq, openrouter, ollama, or local (a small
    /// model the mesh runs itself: no key, no account).
    #[arg(long, value_parser = PROVIDERS.map(|p| p.name))]
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

/// A provider the wizard offers.
#[derive(Debug, Clone, Copy)]
struct Provider {
    name: &'static str,
    label: &'static str,
    default_model: &'static str,
    /// Whether it needs an API key (else a base URL at most).
    needs_key: bool,
}

const PROVIDERS: [Provider; 6] = [
    Provider {
        name: "openai",
        label: "OpenAI",
        default_model: "openai/gpt-4o-mini",
        needs_key: true,
    },
    Provider {
        name: "anthropic",
        label: "Anthropic",
        default_model: "anthropic/claude-haiku-4-5",
        needs_key: true,
    },
    Provider {
        name: "groq",
        label: "Groq",
        default_model: "groq/llama-3.3-70b-versatile",
        needs_key: true,
    },
    Provider {
        name: "openrouter",
        label: "OpenRouter",
        default_model: "openrouter/openai/gpt-4o-mini",
        needs_key: true,
    },
    Provider {
        name: "ollama",
        label: "Ollama (a server on this machine; no key)",
        default_model: "ollama/llama3.2",
        needs_key: false,
    },
    Provider {
        name: "local",
        label: "local: a small model the mesh runs itself (no key, works offline)",
        default_model: LOCAL_CHAT_MODEL,
        needs_key: false,
    },
];

/// The embedding model the `local` provider comes with.
fn local_embedding_model() -> String {
    format!(
        "{}/{}",
        openlegion_host::embeddings::PROVIDER,
        openlegion_host::embeddings::MODEL_NAME
    )
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

    /// The provider, the default model and the provider's credential.
    fn provider(&mut self, ask: &Ask, args: &SetupArgs) -> Result<()> {
        let current = self
            .mesh
            .get("llm", "default_model")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let current_provider = current
            .as_deref()
            .and_then(|m| m.split_once('/'))
            .map(|(p, _)| p.to_owned());
        let provider = match (&args.provider, &args.model) {
            (Some(name), _) => *PROVIDERS.iter().find(|p| p.name == name).expect("clap checked"),
            (None, Some(model)) => {
                let name = model.split_once('/').map_or("", |(p, _)| p);
                *PROVIDERS
                    .iter()
                    .find(|p| p.name == name)
                    .with_context(|| format!("--model {model}: give it as provider/model, with a provider of {}", names()))?
            }
            (None, None) => {
                let default = current_provider
                    .as_deref()
                    .and_then(|c| PROVIDERS.iter().position(|p| p.name == c))
                    .unwrap_or(0);
                let labels: Vec<String> = PROVIDERS.iter().map(|p| p.label.to_owned()).collect();
                PROVIDERS[ask.select("Which LLM provider do the agents use?", &labels, default)?]
            }
        };
        let model_default = match &current {
            Some(m) if current_provider.as_deref() == Some(provider.name) => m.clone(),
            _ => provider.default_model.to_owned(),
        };
        let model = match &args.model {
            Some(m) => m.clone(),
            None if provider.name == "local" => model_default,
            None => ask.input("Default model (provider/model)", &model_default)?,
        };
        if !model.starts_with(&format!("{}/", provider.name)) {
            bail!("the model {model} is not one of {}'s (write it as {}/MODEL)", provider.name, provider.name);
        }
        openlegion_host::vault::parse_model(&model).map_err(|e| anyhow::anyhow!("{model}: {e}"))?;
        if current.as_deref() != Some(model.as_str()) {
            self.mesh.set("llm", "default_model", Value::from(model.clone()));
            self.changes.push(format!("mesh.yaml: llm.default_model {model}"));
        }
        if provider.name == "local" {
            let embedding = local_embedding_model();
            let current = self.mesh.get("llm", "embedding_model").and_then(Value::as_str);
            if current != Some(embedding.as_str()) {
                self.mesh.set("llm", "embedding_model", Value::from(embedding.clone()));
                self.changes.push(format!("mesh.yaml: llm.embedding_model {embedding}"));
            }
        }
        self.credentials(ask, args, provider)
    }

    fn credentials(&mut self, ask: &Ask, args: &SetupArgs, provider: Provider) -> Result<()> {
        let upper = provider.name.to_uppercase();
        let base_var = format!("OPENLEGION_CRED_{upper}_API_BASE");
        let base = match (&args.api_base, provider.name) {
            (Some(url), _) => Some(url.clone()),
            (None, "ollama") => {
                let current = self
                    .dotenv
                    .get(&base_var)
                    .unwrap_or_else(|| "http://localhost:11434/v1".into());
                let url = ask.input("Ollama's address", &current)?;
                (Some(&url) != self.dotenv.get(&base_var).as_ref()
                    && url != "http://localhost:11434/v1")
                    .then_some(url)
            }
            _ => None,
        };
        if let Some(url) = base {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                bail!("{url} is not an http(s) URL");
            }
            self.dotenv.set(&base_var, &url)?;
            self.changes.push(format!(".env: {base_var}={url}"));
        }
        if !provider.needs_key {
            return Ok(());
        }
        let key_var = format!("OPENLEGION_CRED_{upper}_API_KEY");
        let in_file = self.dotenv.get(&key_var).is_some();
        let in_env = std::env::var(&key_var).is_ok_and(|v| !v.is_empty());
        let key = if let Some(var) = &args.api_key_env {
            let value = std::env::var(var)
                .ok()
                .filter(|v| !v.trim().is_empty())
                .with_context(|| format!("--api-key-env {var}: the variable is not set"))?;
            Some(value.trim().to_owned())
        } else if in_file && !ask.replace(&format!("The {} key ({key_var} in .env)", provider.label))? {
            None
        } else if ask.interactive() {
            ask.secret(&format!(
                "Paste your {} API key (hidden; Enter to skip)",
                provider.label
            ))?
        } else {
            None
        };
        match key {
            Some(key) => {
                if key.chars().any(char::is_whitespace) {
                    bail!("an API key has no spaces or line breaks; check what was pasted");
                }
                self.dotenv.set(&key_var, &key)?;
                self.changes.push(format!(".env: {key_var} (hidden; the file is mode 0600)"));
            }
            None if !in_file && !in_env => self.notes.push(format!(
                "no {} key yet: put {key_var}=… in {} (or in the environment) before `start`",
                provider.label,
                self.project_path.with_file_name(".env").display()
            )),
            None => {}
        }
        Ok(())
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
            None => ask.input("Describe the project in a sentence or two (Enter to skip)", "")?,
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
                let default = if agents.agents.is_empty() { 0 } else { builtin.len() };
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
            let path = self.config_dir.join("workflows").join(format!("{name}.yaml"));
            if path.exists() {
                if ask.replace(&format!("{}", path.display()))? {
                    self.replace_workflows.push(path);
                } else {
                    self.notes.push(format!("{} exists; kept as it is", path.display()));
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
                let path = self.config_dir.join("workflows").join(format!("{name}.yaml"));
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
                    options.push(("docker", "docker   a hardened container per agent (recommended)"));
                }
                if gvisor {
                    options.push(("gvisor", "gvisor   containers under gVisor: a second kernel between agents and this one"));
                }
                options.push(("process", "process  plain processes: no OS isolation, for development"));
                let default = current
                    .as_deref()
                    .and_then(|c| options.iter().position(|(name, _)| *name == c))
                    .unwrap_or(0);
                if let Some(c) = current.as_deref()
                    && !options.iter().any(|(name, _)| *name == c)
                    && c != "external"
                {
                    self.notes.push(format!("runtime.isolation is {c}, which this machine cannot run now"));
                }
                if current.as_deref() == Some("external") && !ask.interactive() {
                    return Ok(());
                }
                let labels: Vec<String> = options.iter().map(|(_, l)| (*l).to_owned()).collect();
                options[ask.select("Where do agents run?", &labels, default)?].0.to_owned()
            }
        };
        if current.as_deref() != Some(chosen.as_str()) {
            let _checked: Isolation = serde_json::from_value(Value::from(chosen.clone()))?;
            self.mesh.set("runtime", "isolation", Value::from(chosen.clone()));
            self.changes.push(format!("mesh.yaml: runtime.isolation {chosen}"));
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
                println!("wrote {}", self.config_dir.join(config::MESH_FILE).display());
            }
        }
        if self.dotenv.changed() {
            self.dotenv.save()?;
            println!("wrote {} (mode 0600)", self.project_path.with_file_name(".env").display());
        }
        if let Some(text) = &self.project {
            openlegion_host::atomic_file::write(&self.project_path, text.as_bytes())
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

fn names() -> String {
    PROVIDERS.map(|p| p.name).join(", ")
}
