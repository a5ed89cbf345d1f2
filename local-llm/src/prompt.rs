//! The prompt: a conversation of our own types rendered into the model's chat format, as
//! token ids, with the offered tools described in the system turn.
//!
//! Tools are described in one line each (`name(arg: type, …): first sentence of the
//! description`), not with their full JSON schemas: an agent offers some twenty tools
//! whose schemas come to ~4,000 tokens, which a small model on two cores would spend most
//! of a minute reading, and which would fill half its context. The grammar enforces the
//! schemas anyway (`grammar`).
//!
//! A conversation longer than the context loses its oldest turns (the system turn and the
//! last user turn stay); the model answers from what is left.

use openlegion_llm::{Message, Role, ToolSpec};
use serde_json::Value;

use crate::LocalLlmError;
use crate::grammar::{CALL_CLOSE, CALL_OPEN};
use crate::tokenizer::{ChatFormat, Tokenizer};

/// Characters kept of a tool's description.
const MAX_DESCRIPTION_CHARS: usize = 160;

/// How the system turn tells the model to call a tool.
const TOOL_INSTRUCTIONS: &str = "To use a tool, answer with only a tool call:\n\
<tool_call>\n{\"name\": \"tool_name\", \"arguments\": {\"arg\": \"value\"}}\n</tool_call>\n\
You get its result in the next message. Otherwise answer in plain text.";

/// The default system turn of models whose template has one (SmolLM2's).
const DEFAULT_SYSTEM: &str = "You are a helpful AI assistant.";

/// One line per tool.
pub fn describe_tools(tools: &[ToolSpec]) -> String {
    let mut out = String::from("# Tools\n");
    for tool in tools {
        let schema = crate::grammar::required_first(&tool.parameters);
        let args = schema
            .get("properties")
            .and_then(Value::as_object)
            .map(|props| {
                let required: Vec<&str> = schema
                    .get("required")
                    .and_then(Value::as_array)
                    .map(|r| r.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                props
                    .iter()
                    .map(|(name, schema)| {
                        let ty = schema.get("type").and_then(Value::as_str).unwrap_or("any");
                        let optional = if required.contains(&name.as_str()) {
                            ""
                        } else {
                            "?"
                        };
                        format!("{name}{optional}: {ty}")
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default();
        let description = first_sentence(&tool.description);
        out.push_str(&format!("- {}({args})", tool.name));
        if !description.is_empty() {
            out.push_str(&format!(": {description}"));
        }
        out.push('\n');
    }
    out.push_str(TOOL_INSTRUCTIONS);
    out
}

fn first_sentence(text: &str) -> String {
    let text = text.trim();
    let end = text
        .find(". ")
        .map(|i| i + 1)
        .or_else(|| text.find('\n'))
        .unwrap_or(text.len());
    text[..end].chars().take(MAX_DESCRIPTION_CHARS).collect()
}

/// How an assistant turn's tool calls are written back into the conversation.
fn render_calls(message: &Message) -> String {
    let mut text = message.content.trim().to_owned();
    for call in &message.tool_calls {
        let args: Value =
            serde_json::from_str(&call.arguments).unwrap_or(Value::String(call.arguments.clone()));
        let call = serde_json::json!({"name": call.name, "arguments": args});
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&format!("{CALL_OPEN}{call}{CALL_CLOSE}"));
    }
    text
}

/// A rendered turn: its role's name and its text.
fn turn(message: &Message) -> (&'static str, String) {
    match message.role {
        Role::System => ("system", message.content.clone()),
        Role::User => ("user", message.content.clone()),
        Role::Assistant => ("assistant", render_calls(message)),
        // Qwen's convention: tool results come back in a user turn, tagged.
        Role::Tool => (
            "user",
            format!(
                "<tool_response>\n{}\n</tool_response>",
                message.content.trim()
            ),
        ),
    }
}

/// The tokens of one turn, closed.
fn turn_tokens(tok: &Tokenizer, role: &str, text: &str) -> Result<Vec<u32>, LocalLlmError> {
    let m = &tok.markers;
    let mut out = vec![m.open];
    match m.format {
        ChatFormat::ChatMl => {
            out.extend(tok.encode(&format!("{role}\n"))?);
            out.extend(tok.encode(text)?);
            out.push(m.close);
            out.extend(tok.encode("\n")?);
        }
        ChatFormat::Llama3 => {
            out.extend(tok.encode(role)?);
            out.extend(m.header_end);
            out.extend(tok.encode(&format!("\n\n{}", text.trim()))?);
            out.push(m.close);
        }
    }
    Ok(out)
}

/// The tokens that open the assistant's answer.
fn answer_tokens(tok: &Tokenizer) -> Result<Vec<u32>, LocalLlmError> {
    let m = &tok.markers;
    let mut out = vec![m.open];
    match m.format {
        ChatFormat::ChatMl => out.extend(tok.encode("assistant\n")?),
        ChatFormat::Llama3 => {
            out.extend(tok.encode("assistant")?);
            out.extend(m.header_end);
            out.extend(tok.encode("\n\n")?);
        }
    }
    Ok(out)
}

/// The prompt's tokens for `messages` with `tools` described, leaving `reserve` tokens of
/// `context` for the answer. Older turns are dropped (whole) until it fits.
pub(crate) fn render(
    tok: &Tokenizer,
    messages: &[Message],
    tools: &[ToolSpec],
    context: usize,
    reserve: usize,
) -> Result<Vec<u32>, LocalLlmError> {
    let mut system: Vec<&str> = messages
        .iter()
        .filter(|m| m.role == Role::System)
        .map(|m| m.content.trim())
        .filter(|c| !c.is_empty())
        .collect();
    if system.is_empty() {
        system.push(DEFAULT_SYSTEM);
    }
    let mut system = system.join("\n\n");
    if !tools.is_empty() {
        system.push_str("\n\n");
        system.push_str(&describe_tools(tools));
    }
    let mut head = Vec::new();
    if let Some(bos) = tok.markers.bos {
        head.push(bos);
    }
    head.extend(turn_tokens(tok, "system", &system)?);
    let turns: Vec<Vec<u32>> = messages
        .iter()
        .filter(|m| m.role != Role::System)
        .map(|m| {
            let (role, text) = turn(m);
            turn_tokens(tok, role, &text)
        })
        .collect::<Result<_, _>>()?;
    let tail = answer_tokens(tok)?;
    let budget = context.saturating_sub(reserve);
    let fixed = head.len() + tail.len();
    // Keep the newest turns that fit; the last one always.
    let mut kept = 0;
    let mut used = fixed;
    for t in turns.iter().rev() {
        if kept > 0 && used + t.len() > budget {
            break;
        }
        used += t.len();
        kept += 1;
    }
    if used > budget {
        return Err(LocalLlmError::ContextFull { context });
    }
    if kept < turns.len() {
        tracing::debug!(
            dropped = turns.len() - kept,
            "the conversation is longer than the local model's context: oldest turns dropped"
        );
    }
    let mut out = head;
    for t in &turns[turns.len() - kept..] {
        out.extend_from_slice(t);
    }
    out.extend(tail);
    Ok(out)
}
