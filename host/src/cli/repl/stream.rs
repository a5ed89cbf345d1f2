//! An agent's answer, printed as it streams in (`POST …/api/chat/stream`, SSE): its text
//! as it comes, and a line for each tool call and result.

use std::io::Write;

use anyhow::Result;
use futures_util::StreamExt;
use openlegion_protocol::ChatEvent;
use serde_json::json;

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
        // An event this CLI does not know (a mesh of another release) is skipped.
        let Ok(event) = serde_json::from_str::<ChatEvent>(&event.data) else {
            continue;
        };
        match event {
            ChatEvent::TextDelta { content } => {
                print!("{content}");
                at_line_start = false;
            }
            ChatEvent::ToolStart { name, input } => {
                if !at_line_start {
                    println!();
                }
                println!("  ⚙ {name}({})", preview(&input.to_string()));
                at_line_start = true;
            }
            ChatEvent::ToolResult { output, .. } => {
                println!("  → {}", preview(&output));
                at_line_start = true;
            }
            ChatEvent::Done(reply) => {
                if at_line_start && !reply.response.is_empty() {
                    // Nothing was streamed (e.g. an error): show the final answer.
                    print!("{}", reply.response);
                }
                println!();
                return Ok(());
            }
            ChatEvent::Error { .. } => {}
        }
        out.flush()?;
    }
    println!();
    Ok(())
}
