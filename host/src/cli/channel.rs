//! `openlegion channel pair CODE | users | unpair PLATFORM:USER`: who may talk to the agents
//! from Telegram and Discord, on the running mesh (codes are issued by it).

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Subcommand;
use reqwest::Method;
use serde_json::{Value, json};

use super::client::OperatorClient;

#[derive(Debug, Subcommand)]
pub(crate) enum ChannelCommand {
    /// Approve a pairing code: the person the bot gave it to may talk to the agents.
    Pair { code: String },
    /// List the paired users, and those waiting for approval.
    Users,
    /// Remove a paired user (PLATFORM:USER, as `users` lists them).
    Unpair { user: String },
}

/// Approves `code` on the mesh; returns the line to print.
pub(crate) async fn pair(client: &OperatorClient, code: &str) -> Result<String> {
    let answer = client
        .post("/mesh/channels/pair", &json!({ "code": code }))
        .await?;
    let u = &answer["paired"];
    Ok(format!(
        "paired {}:{} ({}); they have been told on {}",
        u["platform"].as_str().unwrap_or("?"),
        u["user_id"].as_str().unwrap_or("?"),
        u["name"].as_str().unwrap_or(""),
        u["platform"].as_str().unwrap_or("their platform"),
    ))
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or("")
}

pub(crate) async fn run(config_dir: &Path, cmd: ChannelCommand) -> Result<ExitCode> {
    let client = OperatorClient::require(config_dir)?;
    match cmd {
        ChannelCommand::Pair { code } => println!("{}", pair(&client, &code).await?),
        ChannelCommand::Users => {
            let answer = client.get("/mesh/channels/users").await?;
            let users = answer["users"].as_array().cloned().unwrap_or_default();
            if users.is_empty() {
                println!("no paired users");
            }
            for u in &users {
                println!(
                    "{}:{}\t{}\t{}\tpaired {}",
                    text(u, "platform"),
                    text(u, "user_id"),
                    text(u, "name"),
                    u["agent"].as_str().unwrap_or("(default agent)"),
                    text(u, "paired_at"),
                );
            }
            let pending = answer["pending"].as_array().cloned().unwrap_or_default();
            if !pending.is_empty() {
                println!("waiting for approval (ask them for their code):");
                for p in &pending {
                    println!(
                        "  {}:{}\t{}\tasked {}",
                        text(p, "platform"),
                        text(p, "user_id"),
                        text(p, "name"),
                        text(p, "asked_at"),
                    );
                }
            }
        }
        ChannelCommand::Unpair { user } => {
            let (platform, id) = user
                .split_once(':')
                .context("name the user as PLATFORM:USER (e.g. telegram:12345), as `openlegion channel users` lists them")?;
            client
                .call(
                    Method::DELETE,
                    client.url("/mesh/channels/users", &[platform, id]),
                    None,
                )
                .await?;
            println!("unpaired {platform}:{id}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
