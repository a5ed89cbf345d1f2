//! `openlegion setup`: prepares this machine for the agents of agents.yaml — builds the
//! container images they need (the full image takes minutes the first time), so that
//! `start` does not have to.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Result;
use openlegion_host::config::Config;
use openlegion_host::fleet::Backends;

pub(crate) async fn run(config_dir: &Path) -> Result<ExitCode> {
    let config = Config::load(config_dir)?;
    let agents = config.agents.agents.len();
    eprintln!(
        "preparing the container images of the {agents} agent{} in {} …",
        if agents == 1 { "" } else { "s" },
        config.dir.join("agents.yaml").display()
    );
    let backends = Backends::new(&config, Arc::new(|line: &str| eprintln!("{line}")));
    match backends.prepare(&config.agents).await {
        Ok(images) if images.is_empty() => {
            eprintln!("no agent runs in a container; nothing to build");
            Ok(ExitCode::SUCCESS)
        }
        Ok(images) => {
            for image in images {
                println!("ready: {image}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(failures) => {
            for failure in failures {
                eprintln!("error: {failure}");
            }
            Ok(ExitCode::FAILURE)
        }
    }
}
