//! One skill run outside any agent, for its author (`openlegion skill test`, through
//! `openlegion-agent try`): the same skill host, engine and limits an agent uses, with the
//! `log` and `workspace` capabilities on a scratch workspace and no way to the mesh (a call
//! of `mesh`, `http` or `process` fails with the capability named, as it would in an agent
//! not granted it).
//!
//! `openlegion-agent try DIR [TOOL [ARGS_JSON]]` prints the tools (no TOOL) or the tool's
//! answer; it exits 1 when the tool fails and 2 when the skill cannot be loaded.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use openlegion_skill_host::{Capabilities, Capability, Manifest, SkillHost, SkillHostSettings};
use serde_json::{Value, json};

/// What a trial printed: the tools when no tool was named, else the tool's answer.
#[derive(Debug)]
enum Trial {
    Tools(Value),
    Answer(Result<String, String>),
}

/// Loads the skill in `dir` (`skill.yaml` and `skill.wasm`, as `skill build` lays them
/// out) and calls `tool` with `args_json`, or lists the tools if `tool` is `None`.
async fn run(dir: &Path, tool: Option<&str>, args_json: &str) -> anyhow::Result<Trial> {
    let manifest_path = dir.join("skill.yaml");
    let yaml = std::fs::read_to_string(&manifest_path)
        .with_context(|| format!("cannot read {}", manifest_path.display()))?;
    let manifest = Manifest::from_yaml(&manifest_path, &yaml)?;
    let wasm_path = dir.join("skill.wasm");
    let wasm = std::fs::read(&wasm_path)
        .with_context(|| format!("cannot read {}", wasm_path.display()))?;
    let scratch = tempfile::tempdir().context("a scratch directory")?;
    let workspace = scratch.path().join("data");
    std::fs::create_dir(&workspace)?;
    let caps = Capabilities::new(&workspace).allowing([Capability::Log, Capability::Workspace]);
    let host = SkillHost::new(SkillHostSettings::new(scratch.path().join("cache")), caps)?;
    host.load_bytes(manifest, wasm).await?;
    let Some(tool) = tool else {
        let tools: Vec<Value> = host
            .tools()
            .into_iter()
            .map(|t| json!({"name": t.name, "description": t.description, "parameters": t.parameters}))
            .collect();
        return Ok(Trial::Tools(Value::Array(tools)));
    };
    Ok(Trial::Answer(
        host.invoke(tool, args_json)
            .await
            .map_err(|e| e.to_string()),
    ))
}

pub(crate) fn main(dir: &Path, tool: Option<&str>, args_json: Option<&str>) -> ExitCode {
    let trial = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("a runtime")
        .and_then(|rt| rt.block_on(run(dir, tool, args_json.unwrap_or("{}"))));
    match trial {
        Ok(Trial::Tools(tools)) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&tools).unwrap_or_default()
            );
            ExitCode::SUCCESS
        }
        Ok(Trial::Answer(Ok(answer))) => {
            println!("{answer}");
            ExitCode::SUCCESS
        }
        Ok(Trial::Answer(Err(error))) => {
            eprintln!("the tool failed: {error}");
            ExitCode::from(1)
        }
        Err(err) => {
            eprintln!("cannot load the skill in {}: {err:#}", dir.display());
            ExitCode::from(2)
        }
    }
}
