//! One turn of the agent loop: ask the model, run the tools it calls, feed the results
//! back, until it answers without calling a tool (or a bound is reached).
//!
//! Both chat (`/chat`, `/chat/stream`) and tasks (`/task`) run turns; they differ only in
//! how the conversation starts and what happens to the answer.

mod detector;
pub(crate) mod llm;

use std::sync::Arc;

use openlegion_protocol::ChatEvent;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::context::{Context, Prepared};
use crate::learnings::Learnings;
use crate::mesh_client::MeshClient;
use crate::tools::Toolbox;
pub(crate) use detector::findings as loop_findings;
use detector::{LoopDetector, Verdict};

/// Largest tool result kept in the conversation; the rest is cut with a note, so one huge
/// file does not blow the model's context.
const MAX_RESULT_CHARS: usize = 50_000;

/// How a turn ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TurnOutcome {
    pub response: String,
    pub tool_outputs: Vec<Value>,
    pub tokens_used: u64,
    /// Why the turn stopped early, if it did (loop, round limit, cancel, LLM failure).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
}

/// Runs turns: the model behind the mesh, and the tools.
#[derive(Clone)]
pub struct Runner {
    pub mesh: MeshClient,
    pub tools: Arc<dyn Toolbox>,
    /// Output tokens per model call.
    pub max_tokens: u32,
    /// Seconds per model call.
    pub llm_timeout: u64,
    /// Where failed tool calls are recorded for later sessions.
    pub learnings: Learnings,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("max_tokens", &self.max_tokens)
            .finish_non_exhaustive()
    }
}

/// A tool call's arguments as the conversation keeps them. Arguments too large for any
/// tool (refused by the skill host, which says so in the tool's answer) are replaced by a
/// short placeholder: otherwise every later request of the conversation would carry them
/// again, and a model that once sent 5 MB could push each following request past the
/// mesh's limits.
fn remembered_arguments(arguments: &str) -> String {
    if arguments.len() <= openlegion_skill_host::MAX_ARGS_BYTES {
        return arguments.to_owned();
    }
    json!({"omitted": format!("{} bytes of arguments, refused as too large", arguments.len())})
        .to_string()
}

fn clip(text: String) -> String {
    if text.chars().count() <= MAX_RESULT_CHARS {
        return text;
    }
    let kept: String = text.chars().take(MAX_RESULT_CHARS).collect();
    format!("{kept}\n[… cut: the result was longer than {MAX_RESULT_CHARS} characters]")
}

/// `messages` with `warning` added to the system prompt, for one request.
pub(crate) fn with_warning(messages: &[Value], warning: &str) -> Vec<Value> {
    let mut sent = messages.to_vec();
    if let Some(system) = sent.first_mut()
        && let Some(text) = system.get("content").and_then(Value::as_str)
    {
        system["content"] = Value::String(format!("{text}\n\n{warning}"));
    }
    sent
}

impl Runner {
    /// Runs a turn on `messages` (system prompt first), appending the assistant and tool
    /// messages to it; `context` keeps them inside the model's window (it may compact
    /// them). `events`, if given, receives text and tool progress as it happens.
    pub(crate) async fn run(
        &self,
        messages: &mut Vec<Value>,
        context: &mut Context,
        max_rounds: u32,
        events: Option<&mpsc::Sender<ChatEvent>>,
        cancel: &CancellationToken,
    ) -> TurnOutcome {
        let mut detector = LoopDetector::default();
        let mut outcome = TurnOutcome {
            response: String::new(),
            tool_outputs: Vec::new(),
            tokens_used: 0,
            stopped: None,
        };
        for _ in 0..max_rounds {
            if cancel.is_cancelled() {
                outcome.stopped = Some("cancelled".into());
                return outcome;
            }
            // Asked every round: a tool the agent created in this turn is offered in the next
            // round of the same turn.
            let tools = self.tools.definitions();
            let prepared = tokio::select! {
                p = context.prepare(messages, &tools) => p,
                () = cancel.cancelled() => {
                    outcome.stopped = Some("cancelled".into());
                    return outcome;
                }
            };
            let warned;
            let (sent, raw): (&[Value], u64) = match prepared {
                Ok(Prepared { warning: None, raw }) => (messages, raw),
                Ok(Prepared {
                    warning: Some(warning),
                    raw,
                }) => {
                    warned = with_warning(messages, &warning);
                    (&warned, raw)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the conversation cannot fit the window");
                    outcome.response = e.clone();
                    outcome.stopped = Some(e);
                    return outcome;
                }
            };
            let mut on_text = |piece: &str| {
                if let Some(tx) = events {
                    let _ = tx.try_send(ChatEvent::TextDelta {
                        content: piece.to_owned(),
                    });
                }
            };
            let answer = tokio::select! {
                a = llm::complete(&self.mesh, sent, &tools, self.max_tokens, self.llm_timeout, &mut on_text) => a,
                () = cancel.cancelled() => {
                    outcome.stopped = Some("cancelled".into());
                    return outcome;
                }
            };
            let answer = match answer {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "model call failed");
                    outcome.response = e.clone();
                    outcome.stopped = Some(e);
                    return outcome;
                }
            };
            context.observe(raw, answer.input_tokens);
            outcome.tokens_used += answer.tokens;
            outcome.response = answer.text.clone();
            let calls: Vec<Value> = answer
                .calls
                .iter()
                .map(|c| json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": remembered_arguments(&c.arguments)}}))
                .collect();
            messages.push(if calls.is_empty() {
                json!({"role": "assistant", "content": answer.text})
            } else {
                json!({"role": "assistant", "content": if answer.text.is_empty() { Value::Null } else { Value::String(answer.text.clone()) }, "tool_calls": calls})
            });
            if answer.calls.is_empty() {
                return outcome;
            }
            for (i, call) in answer.calls.iter().enumerate() {
                let input: Value = serde_json::from_str(&call.arguments)
                    .unwrap_or(Value::String(call.arguments.clone()));
                if let Some(tx) = events {
                    let _ = tx
                        .send(ChatEvent::ToolStart {
                            name: call.name.clone(),
                            input: input.clone(),
                        })
                        .await;
                }
                let result = match &call.error {
                    Some(problem) => Err(problem.clone()),
                    None => self.tools.call(&call.name, &call.arguments).await,
                };
                let mut output = match result {
                    Ok(text) => clip(text),
                    Err(e) => {
                        self.learnings.tool_failed(&call.name, &call.arguments, &e);
                        clip(format!("Error: {e}"))
                    }
                };
                let verdict = detector.record(&call.name, &call.arguments, &output);
                if let Verdict::Warn(w) = &verdict {
                    output = format!("{output}\n\n{w}");
                }
                if let Some(tx) = events {
                    let _ = tx
                        .send(ChatEvent::ToolResult {
                            name: call.name.clone(),
                            output: output.clone(),
                        })
                        .await;
                }
                outcome
                    .tool_outputs
                    .push(json!({"tool": call.name, "input": input, "output": output}));
                messages.push(json!({"role": "tool", "tool_call_id": call.id, "content": output}));
                if let Verdict::Stop(why) = verdict {
                    tracing::warn!(tool = %call.name, "loop detected; stopping the turn");
                    // Every call of the assistant message needs an answer, or the next
                    // request is malformed.
                    for skipped in &answer.calls[i + 1..] {
                        messages.push(json!({"role": "tool", "tool_call_id": skipped.id, "content": "Skipped: the turn was stopped."}));
                    }
                    outcome.response = why.clone();
                    outcome.stopped = Some(why);
                    return outcome;
                }
            }
        }
        let why = format!("Stopped after {max_rounds} tool rounds without a final answer.");
        outcome.stopped = Some(why.clone());
        if outcome.response.is_empty() {
            outcome.response = why;
        }
        outcome
    }
}
