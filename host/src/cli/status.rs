//! `openlegion status` and `openlegion reload`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use openlegion_host::config::Config;
use serde_json::json;

use super::client::OperatorClient;

pub(crate) async fn status(config_dir: &Path) -> Result<ExitCode> {
    let config = Config::load(config_dir)?;
    let Some(client) = OperatorClient::for_config(&config)? else {
        println!("the mesh is not running (config {})", config.dir.display());
        return Ok(ExitCode::from(1));
    };
    let s = client.get("/mesh/status").await?;
    println!(
        "mesh running: pid {}, up {}s, version {}",
        s["pid"],
        s["uptime_seconds"],
        s["version"].as_str().unwrap_or("?")
    );
    println!("config: {}", s["config_dir"].as_str().unwrap_or("?"));
    println!("state:  {}", s["state_dir"].as_str().unwrap_or("?"));
    println!(
        "agents: {} ({} registered), inbox messages waiting: {}",
        s["agents"], s["registered_agents"], s["inbox_messages"]
    );
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn reload(config_dir: &Path) -> Result<ExitCode> {
    let client = OperatorClient::require(config_dir)?;
    let r = client.post("/mesh/reload", &json!({})).await?;
    println!(
        "reloaded: {} permission entries{}, {} new agents",
        r["permission_entries"],
        if r["permissions_file"] == true {
            ""
        } else {
            " (no permissions.json: deny-all)"
        },
        r["agents_added"]
    );
    Ok(ExitCode::SUCCESS)
}
