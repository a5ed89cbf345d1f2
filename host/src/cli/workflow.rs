//! `openlegion workflow list | run NAME [--input JSON] [--wait] | status RUN | cancel RUN |
//! runs NAME`, against the running mesh.

use std::collections::HashMap;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use serde_json::{Value, json};

use super::client::OperatorClient;

#[derive(Debug, Subcommand)]
pub(crate) enum WorkflowCommand {
    /// The workflows in force, their triggers and steps.
    List,
    /// Start a run and print its id.
    Run {
        name: String,
        /// The run's trigger.payload, a JSON object.
        #[arg(long, default_value = "{}")]
        input: String,
        /// Follow the run to its end; exit 1 unless it completes.
        #[arg(long)]
        wait: bool,
    },
    /// A run: every step's state, attempts, timing, result or error, and its log.
    Status { run: String },
    /// Cancel a run (its steps in flight are cancelled on their agents).
    Cancel { run: String },
    /// The latest runs of a workflow.
    Runs {
        name: String,
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
}

pub(crate) async fn run(config_dir: &Path, cmd: WorkflowCommand) -> Result<ExitCode> {
    let client = OperatorClient::require(config_dir)?;
    match cmd {
        WorkflowCommand::List => {
            let all = client.get("/mesh/workflows").await?;
            let list = all["workflows"].as_array().cloned().unwrap_or_default();
            if list.is_empty() {
                println!("no workflows (config/workflows/ is empty or absent)");
            }
            for w in list {
                println!("{}", list_line(&w));
            }
        }
        WorkflowCommand::Run { name, input, wait } => {
            let input: Value = serde_json::from_str(&input).context("--input is not JSON")?;
            if !input.is_object() {
                bail!("--input must be a JSON object");
            }
            let url = client.url("/mesh/workflows", &[&name, "run"]);
            let started = client
                .call(reqwest::Method::POST, url, Some(&json!({ "input": input })))
                .await?;
            let id = started["run_id"].as_str().unwrap_or_default().to_owned();
            println!("{id}");
            if wait {
                return follow(&client, &id).await;
            }
        }
        WorkflowCommand::Status { run } => {
            let view = get_run(&client, &run, "").await?;
            for line in status_lines(&view) {
                println!("{line}");
            }
        }
        WorkflowCommand::Cancel { run } => {
            let url = client.url("/mesh/workflows/runs", &[&run, "cancel"]);
            client
                .call(reqwest::Method::POST, url, Some(&json!({})))
                .await?;
            println!("cancelling {run}");
        }
        WorkflowCommand::Runs { name, limit } => {
            let mut url = client.url("/mesh/workflows", &[&name, "runs"]);
            url.set_query(Some(&format!("limit={limit}")));
            let runs = client.call(reqwest::Method::GET, url, None).await?;
            let list = runs["runs"].as_array().cloned().unwrap_or_default();
            if list.is_empty() {
                println!("no runs of {name}");
            }
            for r in list {
                println!(
                    "{}\t{}\t{}\t{}",
                    r["id"].as_str().unwrap_or_default(),
                    r["status"].as_str().unwrap_or_default(),
                    r["started_at"].as_str().unwrap_or_default(),
                    r["error"].as_str().unwrap_or_default()
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn get_run(client: &OperatorClient, id: &str, query: &str) -> Result<Value> {
    let mut url = client.url("/mesh/workflows/runs", &[id]);
    if !query.is_empty() {
        url.set_query(Some(query));
    }
    client.call(reqwest::Method::GET, url, None).await
}

/// Prints each step as its state changes until the run ends; exit 0 only if it completes.
async fn follow(client: &OperatorClient, id: &str) -> Result<ExitCode> {
    let mut seen: HashMap<String, String> = HashMap::new();
    let mut version = 0u64;
    loop {
        let view = get_run(client, id, &format!("wait=30&since={version}")).await?;
        for step in view["steps"].as_array().into_iter().flatten() {
            let line = step_line(step);
            let name = step["id"].as_str().unwrap_or_default().to_owned();
            if seen.get(&name) != Some(&line) && step["status"] != "pending" {
                println!("{line}");
                seen.insert(name, line);
            }
        }
        if view["finished"] == true {
            let status = view["status"].as_str().unwrap_or_default();
            match view["error"].as_str() {
                Some(e) => println!("run {id} {status}: {e}"),
                None => println!("run {id} {status}"),
            }
            return Ok(if status == "complete" {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            });
        }
        version = view["version"].as_u64().unwrap_or(version);
    }
}

fn list_line(w: &Value) -> String {
    let t = &w["triggers"];
    let mut triggers = Vec::new();
    if let Some(topic) = t["topic"].as_str() {
        triggers.push(format!("topic {topic}"));
    }
    if t["webhook"].is_object() {
        triggers.push("webhook".to_owned());
    }
    if let Some(cron) = t["cron"].as_str() {
        triggers.push(format!("cron {cron}"));
    }
    let steps: Vec<String> = w["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            format!(
                "{}@{}",
                s["id"].as_str().unwrap_or("?"),
                s["agent"].as_str().unwrap_or("?")
            )
        })
        .collect();
    format!(
        "{}\t{}\t{}\t{} running",
        w["name"].as_str().unwrap_or_default(),
        if triggers.is_empty() {
            "by hand".to_owned()
        } else {
            triggers.join(", ")
        },
        steps.join(" "),
        w["active_runs"]
    )
}

fn short(v: &Value, max: usize) -> String {
    let text = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if text.chars().count() > max {
        format!("{}…", text.chars().take(max).collect::<String>())
    } else {
        text
    }
}

fn step_line(s: &Value) -> String {
    let mut line = format!(
        "  {} {} (agent {}, {} attempt(s))",
        s["id"].as_str().unwrap_or_default(),
        s["status"].as_str().unwrap_or_default(),
        s["agent"].as_str().unwrap_or("-"),
        s["attempts"]
    );
    if let Some(e) = s["error"].as_str() {
        line.push_str(&format!(": {}", short(&json!(e), 200)));
    } else if !s["result"].is_null() {
        line.push_str(&format!(": {}", short(&s["result"], 200)));
    }
    line
}

fn status_lines(view: &Value) -> Vec<String> {
    let mut out = vec![format!(
        "run {} of {}: {}{}",
        view["id"].as_str().unwrap_or_default(),
        view["workflow"].as_str().unwrap_or_default(),
        view["status"].as_str().unwrap_or_default(),
        view["error"]
            .as_str()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default()
    )];
    out.extend(
        view["steps"]
            .as_array()
            .into_iter()
            .flatten()
            .map(step_line),
    );
    out.push("log:".to_owned());
    for l in view["log"].as_array().into_iter().flatten() {
        out.push(format!(
            "  {} {}{}",
            l["at"].as_str().unwrap_or_default(),
            l["step"]
                .as_str()
                .map(|s| format!("[{s}] "))
                .unwrap_or_default(),
            l["message"].as_str().unwrap_or_default()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_prints_its_steps_and_log() {
        let view = json!({"id": "wfr_1", "workflow": "p", "status": "failed", "error": "step b failed: boom",
            "steps": [{"id": "a", "status": "complete", "agent": "x", "attempts": 1, "result": {"score": 8}, "error": null},
                      {"id": "b", "status": "failed", "agent": "y", "attempts": 3, "result": null, "error": "boom"}],
            "log": [{"at": "2026-01-01T00:00:00Z", "step": "a", "message": "attempt 1 on agent x"}]});
        let lines = status_lines(&view);
        assert_eq!(lines[0], "run wfr_1 of p: failed (step b failed: boom)");
        assert_eq!(
            lines[1],
            "  a complete (agent x, 1 attempt(s)): {\"score\":8}"
        );
        assert_eq!(lines[2], "  b failed (agent y, 3 attempt(s)): boom");
        assert_eq!(lines[4], "  2026-01-01T00:00:00Z [a] attempt 1 on agent x");
    }
}
