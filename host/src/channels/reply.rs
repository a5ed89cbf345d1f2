//! Following one turn to its answer: "typing…" until the first text goes out, the text
//! streamed into the chat as the agent writes (one edit per interval at most, which keeps
//! within the platforms' edit limits), and the final answer, split at the platform's
//! limit, in place of the streamed one.
//!
//! The ids and texts of the messages sent are stored as they go out, so a reply resumed
//! after a restart edits them instead of sending the answer again. An empty answer (or the
//! original's `__SILENT__`) sends nothing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use openlegion_protocol::ChatEvent;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::conversation::Channel;
use super::platform::Inbound;
use super::retry::{PlatformError, retried};
use super::split::split;
use crate::lanes::{Outcome, Ticket};
use crate::store::channels as rows;

/// How often "typing…" is renewed (Telegram shows it for 5 s, Discord for 10 s).
const TYPING_EVERY: Duration = Duration::from_secs(4);

/// Marks a streamed text as unfinished.
const MORE: &str = " …";

/// Tries of the final answer when the platform keeps failing, and the pause between them.
const FINAL_TRIES: u32 = 3;
const FINAL_PAUSE: Duration = Duration::from_secs(20);

/// An answer the agent gives when it means to say nothing.
const SILENT: &str = "__SILENT__";

/// One message an answer went out as.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Sent {
    pub id: String,
    pub text: String,
}

/// The answer to one message.
#[derive(Debug)]
pub(crate) struct Reply {
    channel: Arc<Channel>,
    to: Inbound,
    /// `[agent] `, before the first part.
    prefix: String,
    sent: Vec<Sent>,
}

impl Reply {
    /// Follows `ticket` in a task of its own; `sent` is what went out before a restart.
    pub(crate) fn spawn(
        channel: Arc<Channel>,
        to: Inbound,
        agent: String,
        ticket: Ticket,
        sent: Vec<Sent>,
    ) {
        let prefix = match agent.as_str() {
            "" => String::new(),
            a => format!("[{a}] "),
        };
        let reply = Self {
            channel,
            to,
            prefix,
            sent,
        };
        tokio::spawn(reply.follow(ticket));
    }

    async fn follow(mut self, mut ticket: Ticket) {
        let interval = self.channel.settings.edit_interval;
        let mut events = std::mem::replace(&mut ticket.events, broadcast::channel(1).1);
        let outcome = ticket.outcome();
        tokio::pin!(outcome);
        let typing = CancellationToken::new();
        if self.sent.is_empty() {
            tokio::spawn(keep_typing(
                Arc::clone(&self.channel),
                self.to.chat.clone(),
                typing.clone(),
            ));
        }
        let mut text = String::new();
        let mut dirty = false;
        let mut last = Instant::now();
        let mut events_open = true;
        let outcome = loop {
            let due = last + interval;
            tokio::select! {
                outcome = &mut outcome => break outcome,
                event = events.recv(), if events_open => match event {
                    Ok(event) => match event {
                        ChatEvent::TextDelta { content } => {
                            text.push_str(&content);
                            dirty = true;
                        }
                        // A new round: its text replaces the last one's.
                        ChatEvent::ToolStart { .. } => text.clear(),
                        _ => {}
                    },
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => events_open = false,
                },
                () = tokio::time::sleep_until(due.into()), if dirty && !interval.is_zero() => {
                    if !text.trim().is_empty() {
                        let shown = format!("{}{}{MORE}", self.prefix, text.trim_end());
                        if let Err(e) = self.show(&shown).await {
                            tracing::debug!(error = %e, "a streamed edit failed; the next one will carry it");
                        }
                        typing.cancel();
                    }
                    dirty = false;
                    last = Instant::now();
                }
                () = self.channel.shutdown.cancelled() => return typing.cancel(),
            }
        };
        typing.cancel();
        let answer = match outcome {
            Outcome::Replied { reply } => reply.response.trim().to_owned(),
            // Channel turns are chats; a task outcome is shown as data.
            Outcome::Completed { result } => {
                serde_json::to_string(&result.result).expect("a task result serialises")
            }
            Outcome::Failed { error } => {
                format!("(The agent could not answer: {})", clip(&error, 300))
            }
            Outcome::Cancelled => "(cancelled)".to_owned(),
        };
        self.finish(&answer).await;
    }

    /// Shows the final answer (retrying a platform that keeps failing), then records the
    /// message as answered.
    async fn finish(&mut self, answer: &str) {
        let text = match answer {
            "" | SILENT if self.sent.is_empty() => None,
            "" | SILENT => Some("(no answer)".to_owned()),
            a => Some(format!(
                "{}{}{a}",
                self.prefix.trim_end(),
                if a.starts_with("```") { "\n" } else { " " }
            )),
        };
        if let Some(text) = text {
            let text = if self.prefix.is_empty() {
                text.trim_start().to_owned()
            } else {
                text
            };
            for attempt in 1..=FINAL_TRIES {
                match self.show(&text).await {
                    Ok(()) => break,
                    Err(e) if attempt < FINAL_TRIES => {
                        tracing::warn!(error = %e, attempt, "an answer could not be delivered; trying again");
                        tokio::select! {
                            () = tokio::time::sleep(FINAL_PAUSE) => {}
                            () = self.channel.shutdown.cancelled() => return,
                        }
                    }
                    Err(e) => {
                        tracing::error!(platform = self.channel.platform_name(), error = %e, "an answer was not delivered");
                    }
                }
            }
        }
        self.channel.done(&self.to.id).await;
    }

    /// Makes the chat show `text`: the parts already sent are edited where they differ,
    /// the others sent (the first as a reply to the user's message).
    async fn show(&mut self, text: &str) -> Result<(), PlatformError> {
        let platform = &self.channel.platform;
        let parts = split(text, platform.limit());
        for (i, part) in parts.iter().enumerate() {
            match self.sent.get_mut(i) {
                Some(sent) if sent.text == *part => {}
                Some(sent) => {
                    retried(|| platform.edit(&self.to.chat, &sent.id, part)).await?;
                    sent.text.clone_from(part);
                }
                None => {
                    let reply_to = (i == 0).then_some(self.to.message.as_str());
                    let id = retried(|| platform.send(&self.to.chat, part, reply_to)).await?;
                    self.sent.push(Sent {
                        id,
                        text: part.clone(),
                    });
                    self.record().await;
                }
            }
        }
        // Parts the final answer no longer needs (it came out shorter than the stream).
        for sent in self.sent.iter_mut().skip(parts.len()) {
            if sent.text != "…" {
                retried(|| platform.edit(&self.to.chat, &sent.id, "…")).await?;
                sent.text = "…".into();
            }
        }
        Ok(())
    }

    /// Stores what has gone out, for a resume after a restart.
    async fn record(&self) {
        let json = serde_json::to_string(&self.sent).expect("sent parts serialise");
        let (platform, id) = (self.channel.platform_name(), self.to.id.clone());
        if let Err(e) = self
            .channel
            .mesh
            .store
            .write(move |c| rows::set_replies(c, platform, &id, &json))
            .await
        {
            tracing::error!(platform, error = %e, "cannot record a sent reply");
        }
    }
}

/// "typing…" in `chat` until `stop`.
async fn keep_typing(channel: Arc<Channel>, chat: String, stop: CancellationToken) {
    loop {
        if let Err(e) = channel.platform.typing(&chat).await {
            tracing::debug!(error = %e, "a typing indicator failed");
        }
        tokio::select! {
            () = tokio::time::sleep(TYPING_EVERY) => {}
            () = stop.cancelled() => return,
            () = channel.shutdown.cancelled() => return,
        }
    }
}

fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}
