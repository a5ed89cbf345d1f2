//! `openlegion costs`: LLM spending per agent and model.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use clap::ValueEnum;

use super::client::OperatorClient;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum Period {
    Today,
    Week,
    Month,
}

pub(crate) async fn run(config_dir: &Path, period: Period) -> Result<ExitCode> {
    let client = OperatorClient::require(config_dir)?;
    let name = format!("{period:?}").to_lowercase();
    let report = client.get(&format!("/mesh/costs?period={name}")).await?;
    print_report(&report, &name);
    Ok(ExitCode::SUCCESS)
}

/// Prints a `GET /mesh/costs` report (also the REPL's `/costs`).
pub(crate) fn print_report(report: &serde_json::Value, name: &str) {
    println!(
        "LLM costs, {name} (since {}):",
        report["since"].as_str().unwrap_or("?")
    );
    println!(
        "{:<20} {:<36} {:>6} {:>10} {:>10} {:>10}",
        "agent", "model", "calls", "in tok", "out tok", "USD"
    );
    for (agent, a) in report["agents"].as_object().into_iter().flatten() {
        for (model, m) in a["models"].as_object().into_iter().flatten() {
            println!(
                "{agent:<20} {model:<36} {:>6} {:>10} {:>10} {:>10.4}",
                m["calls"],
                m["prompt_tokens"],
                m["completion_tokens"],
                m["cost_usd"].as_f64().unwrap_or(0.0)
            );
        }
        let b = &a["budget"];
        println!(
            "{agent:<20} budget: ${:.2}/${:.2} today, ${:.2}/${:.2} this month",
            b["spent_today_usd"].as_f64().unwrap_or(0.0),
            b["daily_usd"].as_f64().unwrap_or(0.0),
            b["spent_month_usd"].as_f64().unwrap_or(0.0),
            b["monthly_usd"].as_f64().unwrap_or(0.0)
        );
    }
    println!("total: ${:.4}", report["total_usd"].as_f64().unwrap_or(0.0));
}
