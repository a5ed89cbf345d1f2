//! `openlegion bb get|put|list|rm`: the blackboard from the shell, as the operator.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Subcommand;
use reqwest::Method;
use serde_json::Value;

use super::client::OperatorClient;

#[derive(Debug, Subcommand)]
pub(crate) enum BbCommand {
    /// Print the entry at KEY.
    Get { key: String },
    /// Write a JSON object at KEY.
    Put {
        key: String,
        /// The value: a JSON object, e.g. '{"status": "done"}'.
        value: String,
        /// Expire the entry this many seconds after the write.
        #[arg(long)]
        ttl: Option<u64>,
    },
    /// List entries whose key starts with PREFIX.
    List {
        #[arg(default_value = "")]
        prefix: String,
    },
    /// Delete KEY.
    Rm { key: String },
}

fn segments(key: &str) -> Vec<&str> {
    key.split('/').collect()
}

pub(crate) async fn run(config_dir: &Path, cmd: BbCommand) -> Result<ExitCode> {
    let client = OperatorClient::require(config_dir)?;
    let out = match cmd {
        BbCommand::Get { key } => {
            client
                .call(
                    Method::GET,
                    client.url("/mesh/blackboard/", &segments(&key)),
                    None,
                )
                .await?
        }
        BbCommand::Put { key, value, ttl } => {
            let value: Value =
                serde_json::from_str(&value).context("the value is not valid JSON")?;
            anyhow::ensure!(
                value.is_object(),
                "the value must be a JSON object, like '{{\"a\": 1}}'"
            );
            let mut url = client.url("/mesh/blackboard/", &segments(&key));
            if let Some(ttl) = ttl {
                url.query_pairs_mut().append_pair("ttl", &ttl.to_string());
            }
            client.call(Method::PUT, url, Some(&value)).await?
        }
        BbCommand::List { prefix } => {
            let mut url = client.url("/mesh/blackboard/", &[]);
            url.query_pairs_mut().append_pair("prefix", &prefix);
            client.call(Method::GET, url, None).await?
        }
        BbCommand::Rm { key } => {
            client
                .call(
                    Method::DELETE,
                    client.url("/mesh/blackboard/", &segments(&key)),
                    None,
                )
                .await?
        }
    };
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(ExitCode::SUCCESS)
}
