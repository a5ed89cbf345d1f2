//! `openlegion costs`: LLM spending per agent and model.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use clap::ValueEnum;

use super::client::OperatorClient;
use super::table;

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
    let mut rows = table::plain(&["agent", "model", "calls", "in tok", "out tok", "USD"]);
    let mut budgets = table::plain(&[]);
    for (agent, a) in report["agents"].as_object().into_iter().flatten() {
        for (model, m) in a["models"].as_object().into_iter().flatten() {
            rows.add_row([
                agent.clone(),
                model.clone(),
                m["calls"].to_string(),
                m["prompt_tokens"].to_string(),
                m["completion_tokens"].to_string(),
                format!("{:.4}", m["cost_usd"].as_f64().unwrap_or(0.0)),
            ]);
        }
        let b = &a["budget"];
        budgets.add_row([
            agent.clone(),
            format!(
                "budget: ${:.2}/${:.2} today, ${:.2}/${:.2} this month",
                b["spent_today_usd"].as_f64().unwrap_or(0.0),
                b["daily_usd"].as_f64().unwrap_or(0.0),
                b["spent_month_usd"].as_f64().unwrap_or(0.0),
                b["monthly_usd"].as_f64().unwrap_or(0.0)
            ),
        ]);
    }
    table::right_align(&mut rows, &[2, 3, 4, 5]);
    table::print(&rows);
    table::print(&budgets);
    println!("total: ${:.4}", report["total_usd"].as_f64().unwrap_or(0.0));
}
