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
    let lanes = client.get("/mesh/lanes").await?;
    for line in lane_lines(&lanes) {
        println!("{line}");
    }
    Ok(ExitCode::SUCCESS)
}

/// One line per lane with work in it (or refusals): depth and the oldest item's age.
pub(crate) fn lane_lines(lanes: &serde_json::Value) -> Vec<String> {
    let Some(list) = lanes["lanes"].as_array() else {
        return Vec::new();
    };
    if list.is_empty() {
        return vec!["lanes: all idle".into()];
    }
    list.iter()
        .map(|l| {
            let depth = l["queued"].as_u64().unwrap_or(0) + l["running"].as_u64().unwrap_or(0);
            format!(
                "lane {}: depth {depth} ({} running), oldest {:.1}s, refused {}",
                l["agent"].as_str().unwrap_or("?"),
                l["running"],
                l["oldest_age_seconds"].as_f64().unwrap_or(0.0),
                l["refused"],
            )
        })
        .collect()
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn lane_lines_show_depth_and_age() {
        let lanes = json!({"lanes": [
            {"agent": "a", "queued": 3, "running": 1, "oldest_age_seconds": 12.345, "refused": 2}
        ]});
        assert_eq!(
            super::lane_lines(&lanes),
            ["lane a: depth 4 (1 running), oldest 12.3s, refused 2"]
        );
        assert_eq!(
            super::lane_lines(&json!({"lanes": []})),
            ["lanes: all idle"]
        );
    }
}
