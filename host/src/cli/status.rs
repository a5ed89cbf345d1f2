//! `openlegion status` and `openlegion reload`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use openlegion_mesh::config::Config;
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
    let agents = client.get("/mesh/agents").await?;
    for line in agent_lines(&agents) {
        println!("{line}");
    }
    let lanes = client.get("/mesh/lanes").await?;
    for line in lane_lines(&lanes) {
        println!("{line}");
    }
    Ok(ExitCode::SUCCESS)
}

/// One line per agent, its sub-agents indented under it.
fn agent_lines(agents: &serde_json::Value) -> Vec<String> {
    let Some(map) = agents.as_object() else {
        return Vec::new();
    };
    let line = |id: &str, a: &serde_json::Value, depth: usize| {
        let indent = "  ".repeat(depth + 1);
        let mark = if depth == 0 { "" } else { "└ " };
        format!(
            "{indent}{mark}{id} ({}): {}",
            a["role"]
                .as_str()
                .filter(|r| !r.is_empty())
                .unwrap_or("no role"),
            a["state"].as_str().unwrap_or(if a["registered"] == true {
                "registered"
            } else {
                "not running"
            })
        )
    };
    fn children<'a>(
        map: &'a serde_json::Map<String, serde_json::Value>,
        parent: &str,
    ) -> Vec<(&'a String, &'a serde_json::Value)> {
        map.iter()
            .filter(|(_, a)| a["parent"].as_str() == Some(parent))
            .collect()
    }
    let mut out = Vec::new();
    let mut stack: Vec<(&String, &serde_json::Value, usize)> = map
        .iter()
        .filter(|(_, a)| a["parent"].is_null())
        .rev()
        .map(|(id, a)| (id, a, 0))
        .collect();
    while let Some((id, a, depth)) = stack.pop() {
        out.push(line(id, a, depth));
        for (cid, ca) in children(map, id).into_iter().rev() {
            stack.push((cid, ca, depth + 1));
        }
    }
    out
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
    for line in r["also"].as_array().into_iter().flatten() {
        println!("reloaded: {}", line.as_str().unwrap_or_default());
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn sub_agents_are_listed_under_their_parent() {
        let agents = json!({
            "boss": {"role": "lead", "state": "running"},
            "boss-sub-abc123": {"role": "researcher", "state": "running", "parent": "boss"},
            "solo": {"role": "", "registered": false},
        });
        assert_eq!(
            super::agent_lines(&agents),
            [
                "  boss (lead): running",
                "    └ boss-sub-abc123 (researcher): running",
                "  solo (no role): not running",
            ]
        );
    }

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
