//! The context manager: counts the tokens of every request against the model's window and
//! keeps the conversation inside it without losing what it holds.
//!
//! Before each model call, as a fraction of the window:
//! - at 60 %, once per session, the model is asked for the facts worth keeping, which go to
//!   `MEMORY.md` and the memory database (a flush; nothing is removed);
//! - at 70 %, write-then-compact: facts are extracted and kept first, the older messages
//!   are archived in full under `memory/archive/`, and only then replaced by a summary;
//!   the last 4 messages stay as they are;
//! - at 80 %, the request carries a warning to the model;
//! - above 90 %, the oldest messages are archived and dropped, then the longest cut, so no
//!   request is ever larger than the window.

mod extract;
mod keep;
mod tokens;

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{Value, json};

use crate::mesh_client::MeshClient;
use crate::tools::ToolDef;
use crate::turn::llm;

pub use extract::Fact;
pub use keep::FactStore;
use tokens::{raw_estimate, text_tokens};

/// A request made ready by [`Context::prepare`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Prepared {
    /// To add to the system prompt: the context is nearly full.
    pub(crate) warning: Option<String>,
    /// The request's uncalibrated token estimate, warning included.
    pub(crate) raw: u64,
}

/// Fractions of the window.
const FLUSH_AT: f64 = 0.60;
const COMPACT_AT: f64 = 0.70;
const WARN_AT: f64 = 0.80;
const FIT_AT: f64 = 0.90;

/// Messages kept verbatim by a compaction (more when the fourth-last is a tool result,
/// whose call must stay with it).
pub const KEEP_LAST: usize = 4;

/// The first words of the message that stands in for compacted messages.
pub const SUMMARY_PREFIX: &str = "[Summary of the earlier conversation]";
/// The first words of the note that stands in for messages dropped to fit the window.
const DROPPED_PREFIX: &str = "[Earlier messages were archived to fit the context window";

/// Output tokens asked of the extraction call.
const EXTRACT_MAX_TOKENS: u32 = 2_000;

/// What every session of an agent shares.
pub struct ContextEnv {
    pub agent: String,
    /// Tokens of the model's window.
    pub window: u32,
    pub mesh: MeshClient,
    /// Seconds per extraction call.
    pub llm_timeout: u64,
    pub workspace: PathBuf,
    /// The memory database; `None` keeps facts in `MEMORY.md` only.
    pub facts: Option<Arc<dyn FactStore>>,
}

impl std::fmt::Debug for ContextEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContextEnv")
            .field("window", &self.window)
            .finish_non_exhaustive()
    }
}

/// One conversation's accounting: a chat until it is reset, or one task.
#[derive(Debug)]
pub struct Context {
    env: Arc<ContextEnv>,
    counter: tokens::Counter,
    flushed: bool,
    tokens: u64,
}

fn role(message: &Value) -> &str {
    message.get("role").and_then(Value::as_str).unwrap_or("")
}

fn starts_with(message: &Value, prefix: &str) -> bool {
    message
        .get("content")
        .and_then(Value::as_str)
        .is_some_and(|c| c.starts_with(prefix))
}

/// A message standing in for others: a summary, or the note on dropped messages.
fn is_note(message: &Value) -> bool {
    starts_with(message, SUMMARY_PREFIX) || starts_with(message, DROPPED_PREFIX)
}

/// Where the verbatim tail of `messages` (system prompt at 0) begins: `keep` messages back,
/// moved earlier while it would start with a tool result.
fn tail_start(messages: &[Value], keep: usize) -> usize {
    let mut start = messages.len().saturating_sub(keep).max(1);
    while start > 1 && role(&messages[start]) == "tool" {
        start -= 1;
    }
    start
}

/// Indices where groups begin after the system prompt: a tool result belongs to the
/// assistant message that called it.
fn group_starts(messages: &[Value]) -> Vec<usize> {
    (1..messages.len())
        .filter(|&i| role(&messages[i]) != "tool")
        .collect()
}

impl Context {
    pub fn new(env: Arc<ContextEnv>) -> Self {
        Self {
            env,
            counter: tokens::Counter::default(),
            flushed: false,
            tokens: 0,
        }
    }

    /// Tokens of the last request counted.
    pub fn tokens(&self) -> u64 {
        self.tokens
    }

    pub fn window(&self) -> u32 {
        self.env.window
    }

    /// Learns from a request whose uncalibrated estimate was `raw` and which the provider
    /// counted as `reported` input tokens.
    pub(crate) fn observe(&mut self, raw: u64, reported: u64) {
        self.counter.calibrate(raw, reported);
        if reported > 0 {
            self.tokens = reported;
        }
    }

    /// Readies `messages` for a model call offering `tools`: flushes, compacts or trims them
    /// as their size asks. `Ok` carries the warning to show the model, if any, and the
    /// request's uncalibrated estimate (for [`Context::observe`], so a round counts its
    /// request once); `Err` says why no request can fit the window.
    pub(crate) async fn prepare(
        &mut self,
        messages: &mut Vec<Value>,
        tools: &[ToolDef],
    ) -> Result<Prepared, String> {
        let window = f64::from(self.env.window);
        // Only the raw estimate is kept: the calibrated count follows from it.
        let mut raw = raw_estimate(messages, tools);
        let count = |raw: u64| self.counter.calibrated(raw) as f64;
        if count(raw) >= COMPACT_AT * window {
            match self.compact(messages).await {
                Ok(true) => self.flushed = true,
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "compaction failed"),
            }
            raw = raw_estimate(messages, tools);
        } else if count(raw) >= FLUSH_AT * window && !self.flushed {
            // Once, whatever the outcome: a failing flush must not cost a call per round.
            self.flushed = true;
            if let Err(e) = self.flush(messages).await {
                tracing::warn!(error = %e, "flushing facts at 60 % failed");
            }
        }
        if count(raw) > FIT_AT * window {
            self.fit(messages, tools, (FIT_AT * window) as u64)?;
            raw = raw_estimate(messages, tools);
        }
        let tokens = self.counter.calibrated(raw);
        self.tokens = tokens;
        let pct = tokens as f64 / window;
        let warning = (pct >= WARN_AT).then(|| {
            format!(
                "CONTEXT WARNING: Your context is {:.0}% full ({tokens}/{} tokens). Save what \
                 must not be lost with memory_save now; older messages will be summarised.",
                pct * 100.0,
                self.env.window
            )
        });
        // The warning goes after a blank line at the end of the system prompt.
        if let Some(warning) = &warning {
            raw += text_tokens(&format!("\n\n{warning}"));
        }
        Ok(Prepared { warning, raw })
    }

    /// Asks the model for facts and a summary of `messages`.
    async fn extract(&self, messages: &[Value]) -> Result<extract::Extracted, String> {
        // The transcript takes at most half the window (4 characters a token).
        let budget = self.env.window as usize * 2;
        let text = extract::transcript(messages, extract::MESSAGE_CHARS, budget);
        let request = extract::request(&self.env.agent, &text);
        let answer = llm::complete(
            &self.env.mesh,
            &request,
            &[],
            EXTRACT_MAX_TOKENS,
            self.env.llm_timeout,
            &mut |_| {},
        )
        .await?;
        extract::parse(&answer.text)
    }

    /// Keeps `facts` in `MEMORY.md` (which must succeed) and the database (which may fail:
    /// the file still has them).
    async fn keep(&self, facts: &[Fact], source: &str) -> Result<(), String> {
        keep::to_memory_file(&self.env.workspace, facts, source)?;
        if let Some(store) = &self.env.facts
            && !facts.is_empty()
            && let Err(e) = store.remember(facts, source).await
        {
            tracing::warn!(error = %e, "facts kept in MEMORY.md but not in the memory database");
        }
        Ok(())
    }

    async fn flush(&self, messages: &[Value]) -> Result<(), String> {
        let extracted = self.extract(&messages[1..]).await?;
        tracing::info!(facts = extracted.facts.len(), "context at 60 %: facts kept");
        self.keep(&extracted.facts, "context flush at 60%").await
    }

    /// Write-then-compact. `Ok(false)` when there was nothing older than the tail to
    /// compact.
    async fn compact(&self, messages: &mut Vec<Value>) -> Result<bool, String> {
        let start = tail_start(messages, KEEP_LAST);
        let older = &messages[1..start];
        // A summary or note of an earlier compaction, and the "Noted." after it, are not
        // worth another call on their own.
        let fresh = older
            .iter()
            .enumerate()
            .filter(|&(i, m)| !(is_note(m) || i > 0 && is_note(&older[i - 1])))
            .count();
        if fresh == 0 {
            return Ok(false);
        }
        let summary = match self.extract(older).await {
            Ok(extracted) => {
                self.keep(&extracted.facts, "compaction at 70%").await?;
                let archived = keep::archive(&self.env.workspace, older, "compaction")?;
                let keys: Vec<&str> = extracted.facts.iter().map(|f| f.key.as_str()).collect();
                tracing::info!(
                    facts = keys.len(),
                    messages = older.len(),
                    "context at 70 %: compacted"
                );
                format!(
                    "{SUMMARY_PREFIX}\n{}\n\nFacts kept in memory (memory_recall finds them): {}. \
                     The messages themselves are in {}.",
                    extracted.summary.trim(),
                    if keys.is_empty() {
                        "none".to_owned()
                    } else {
                        keys.join(", ")
                    },
                    archived.display()
                )
            }
            Err(why) => {
                let archived = keep::archive(&self.env.workspace, older, "compaction")?;
                tracing::warn!(error = %why, "no summary; compacted to the archive");
                format!(
                    "{SUMMARY_PREFIX}\nNo summary could be made ({why}). The messages are in \
                     {}; memory_search finds what they said.",
                    archived.display()
                )
            }
        };
        let tail = messages.split_off(start);
        messages.truncate(1);
        messages.push(json!({"role": "user", "content": summary}));
        if tail.first().is_some_and(|m| role(m) == "user") {
            messages.push(json!({"role": "assistant", "content": "Noted."}));
        }
        messages.extend(tail);
        Ok(true)
    }

    /// Archives and drops the oldest groups, then cuts the longest messages, until the
    /// request is at most `limit` tokens.
    fn fit(
        &mut self,
        messages: &mut Vec<Value>,
        tools: &[ToolDef],
        limit: u64,
    ) -> Result<(), String> {
        for _ in 0..256 {
            if self.counter.count(messages, tools) <= limit {
                return Ok(());
            }
            let groups: Vec<usize> = group_starts(messages)
                .into_iter()
                .filter(|&i| !starts_with(&messages[i], DROPPED_PREFIX))
                .collect();
            if groups.len() > 1 {
                let dropped: Vec<Value> = messages.drain(groups[0]..groups[1]).collect();
                let archived =
                    keep::archive(&self.env.workspace, &dropped, "over 90% of the window")?;
                if !starts_with(&messages[1], DROPPED_PREFIX) {
                    messages.insert(1, json!({"role": "user", "content": format!("{DROPPED_PREFIX}; memory_search finds what they said.]")}));
                    if role(&messages[2]) == "user" {
                        messages.insert(2, json!({"role": "assistant", "content": "Noted."}));
                    }
                }
                tracing::warn!(messages = dropped.len(), archive = %archived.display(), "dropped to fit the window");
                continue;
            }
            let longest = (0..messages.len())
                .filter(|&i| {
                    messages[i]
                        .get("content")
                        .and_then(Value::as_str)
                        .is_some_and(|c| c.chars().count() > 400)
                })
                .max_by_key(|&i| tokens::message_tokens(&messages[i]));
            let Some(i) = longest else {
                let tools_alone = self.counter.count(&[], tools);
                return Err(format!(
                    "the request cannot fit the model's context window of {} tokens (the tools' \
                     definitions alone take about {tools_alone}); raise context_window in \
                     agents.yaml or give the agent fewer skills",
                    self.env.window
                ));
            };
            let archived = keep::archive(
                &self.env.workspace,
                &messages[i..=i],
                "cut to fit the window",
            )?;
            let text = messages[i]["content"].as_str().unwrap_or_default();
            let half: String = text.chars().take(text.chars().count() / 2).collect();
            messages[i]["content"] = Value::String(format!(
                "{half}\n[… cut to fit the context window; the whole text is in {}]",
                archived.display()
            ));
        }
        Err("the request could not be cut to fit the model's context window".into())
    }
}

#[cfg(test)]
mod tests;
