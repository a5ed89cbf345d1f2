//! The interactive chat: `openlegion chat NAME` (one agent) and the REPL that
//! `openlegion start` opens on a terminal (`@agent message`, `/use`, `/agents`, `/status`,
//! `/reset`, `/quit`). Answers stream in as the agent produces them.

use std::io::Write;

use anyhow::Result;
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

use super::client::OperatorClient;

const HELP: &str = "@agent message  talk to an agent (and make it the current one)
/use agent      make an agent the current one
/agents         list the agents
/status         the mesh's status
/reset          clear the current agent's conversation
/pair CODE      let the Telegram/Discord user with this pairing code talk to the agents
/quit           leave";

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
async fn say(client: &OperatorClient, agent: &str, message: &str) -> Result<()> {
    let path = format!("/mesh/agents/{agent}/api/chat/stream");
    let resp = client
        .post_stream(&path, &json!({ "message": message }))
        .await?;
    let mut events = eventsource_stream::Eventsource::eventsource(resp.bytes_stream());
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

/// Prints a line where an answer is expected.
fn note(text: &str) -> Result<()> {
    println!("{text}");
    Ok(())
}

/// Reads lines until `/quit` or end of input. `current` is the agent plain lines go to.
pub(crate) async fn run(
    client: &OperatorClient,
    mut current: Option<String>,
    multi: bool,
) -> Result<()> {
    if multi {
        println!("OpenLegion REPL. {HELP}");
    } else {
        println!(
            "Chatting with {}. /reset clears the conversation, /quit leaves.",
            current.as_deref().unwrap_or("?")
        );
    }
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    loop {
        print!("{}> ", current.as_deref().unwrap_or(""));
        std::io::stdout().flush()?;
        let Some(line) = lines.next_line().await? else {
            break;
        };
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let outcome = match line.split_once(' ').unwrap_or((line, "")) {
            ("/quit" | "/exit", _) => break,
            ("/help", _) => {
                println!("{HELP}");
                Ok(())
            }
            ("/agents", _) if multi => client.get("/mesh/agents").await.map(|agents| {
                for (id, a) in agents.as_object().into_iter().flatten() {
                    println!(
                        "{id:<20} {:<14} {}",
                        a["role"].as_str().unwrap_or(""),
                        if a["url"].is_null() {
                            "not running"
                        } else {
                            "running"
                        }
                    );
                }
            }),
            ("/status", _) if multi => client.get("/mesh/status").await.map(|s| {
                println!(
                    "mesh pid {}, up {}s, {} agents",
                    s["pid"], s["uptime_seconds"], s["agents"]
                );
            }),
            ("/use", name) if multi && !name.trim().is_empty() => {
                current = Some(name.trim().to_owned());
                Ok(())
            }
            ("/pair", code) if !code.trim().is_empty() => super::channel::pair(client, code.trim())
                .await
                .map(|line| println!("{line}")),
            ("/reset", _) => match &current {
                Some(agent) => client
                    .post(&format!("/mesh/agents/{agent}/api/chat/reset"), &json!({}))
                    .await
                    .map(|_| println!("conversation cleared")),
                None => note("no current agent: /use one first"),
            },
            (word, rest) if multi && word.starts_with('@') && word.len() > 1 => {
                current = Some(word[1..].to_owned());
                say(client, &word[1..], rest).await
            }
            (word, _) if word.starts_with('/') => {
                note(&format!("unknown command {word}; /help lists them"))
            }
            _ => match &current {
                Some(agent) => say(client, agent, line).await,
                None => note("talk to an agent with @agent message"),
            },
        };
        if let Err(e) = outcome {
            println!("error: {e:#}");
        }
    }
    Ok(())
}
