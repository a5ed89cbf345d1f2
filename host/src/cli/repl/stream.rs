//! An agent's answer, printed as it streams in (`POST …/api/chat/stream`, SSE): its text
//! as it comes, and a line for each tool call and result.

use std::io::Write;

use anyhow::Result;
use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::cli::client::OperatorClient;

/// Characters shown of a tool's input or output.
const PREVIEW: usize = 160;

fn preview(text: &str) -> String {
    let one_line = text.replace('\n', " ");
    if one_line.chars().count() > PREVIEW {
        format!("{}…", one_line.chars().take(PREVIEW).collect::<String>())
    } else {
        one_line
    }
}

/// Sends `message` to `agent` and prints the answer as it streams.
pub(super) async fn say(client: &OperatorClient, agent: &str, message: &str) -> Result<()> {
    let path = format!("/mesh/agents/{agent}/api/chat/stream");
    let resp = client
        .post_stream(&path, &json!({ "message": message }))
        .await?;
    let mut events = openlegion_protocol::sse::frame(resp.bytes_stream());
    let mut out = std::io::stdout();
    let mut at_line_start = true;
    while let Some(event) = events.next().await {
        let event = event?;
        let Ok(data) = serde_json::from_str::<Value>(&event.data) else {
            continue;
        };
        match data["type"].as_str() {
            Some("text_delta") => {
                print!("{}", data["content"].as_str().unwrap_or_default());
                at_line_start = false;
            }
            Some("tool_start") => {
                if !at_line_start {
                    println!();
                }
                println!(
                    "  ⚙ {}({})",
                    data["name"].as_str().unwrap_or("?"),
                    preview(&data["input"].to_string())
                );
                at_line_start = true;
            }
            Some("tool_result") => {
                println!(
                    "  → {}",
                    preview(data["output"].as_str().unwrap_or_default())
                );
                at_line_start = true;
            }
            Some("done") => {
                if at_line_start && data["response"].as_str().is_some_and(|r| !r.is_empty()) {
                    // Nothing was streamed (e.g. an error): show the final answer.
                    print!("{}", data["response"].as_str().unwrap_or_default());
                }
                println!();
                return Ok(());
            }
            _ => {}
        }
        out.flush()?;
    }
    println!();
    Ok(())
}
