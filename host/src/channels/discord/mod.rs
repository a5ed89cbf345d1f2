//! The Discord adapter: the gateway for incoming messages, REST for everything sent.
//!
//! The session (id, sequence number, resume URL) is stored with every message recorded,
//! so a dropped connection, and a restarted mesh, resume it: Discord replays what was
//! dispatched meanwhile, and the store's record of message ids keeps a replayed message
//! from being answered twice. A session the gateway no longer knows is replaced by a new
//! identify. Direct messages are always for the bot; in a server, only messages that
//! mention it or reply to it (the mention is removed).
//!
//! Set `channels.discord.api_base` and `gateway_url` to use a local fake.

pub mod gateway;
mod rest;

use std::sync::Arc;
use std::time::{Duration, Instant};

use backon::{BackoffBuilder, ExponentialBuilder};
use serde::Deserialize;

pub use gateway::{INTENTS, Session};
pub use rest::{DEFAULT_BASE, LIMIT, Rest};

use super::ChannelError;
use super::conversation::Channel;
use super::platform::{Attachment, Inbound};
use super::retry::retried;
use gateway::{Dispatch, Ended};

/// Failed connection attempts in a row before the adapter gives up (and its supervisor
/// starts it again later).
const MAX_FAILED_CONNECTS: u32 = 8;

/// A connection that lasted this long was healthy: the next failure starts a new series.
const HEALTHY: Duration = Duration::from_secs(60);

/// The bot, as `GET /users/@me` describes it.
#[derive(Debug, Clone, Deserialize)]
struct Me {
    id: String,
    #[serde(default)]
    username: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct MessageCreate {
    id: String,
    channel_id: String,
    guild_id: Option<String>,
    author: Author,
    #[serde(default)]
    content: String,
    #[serde(default)]
    mentions: Vec<Author>,
    #[serde(default)]
    attachments: Vec<DiscordAttachment>,
    referenced_message: Option<Box<Referenced>>,
}

#[derive(Debug, Deserialize)]
struct Referenced {
    author: Author,
}

#[derive(Debug, Deserialize)]
struct Author {
    id: String,
    #[serde(default)]
    username: String,
    global_name: Option<String>,
    #[serde(default)]
    bot: bool,
}

#[derive(Debug, Deserialize)]
struct DiscordAttachment {
    filename: String,
    size: Option<u64>,
    url: String,
}

/// The gateway side of one bot.
#[derive(Clone)]
pub(crate) struct Adapter {
    rest: Rest,
    token: String,
    gateway_url: Option<String>,
    channel: Arc<Channel>,
}

impl std::fmt::Debug for Adapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "discord::Adapter {{ gateway_url: {:?} }}",
            self.gateway_url
        )
    }
}

impl Adapter {
    pub(crate) fn new(
        rest: Rest,
        token: String,
        gateway_url: Option<String>,
        channel: Arc<Channel>,
    ) -> Self {
        Self {
            rest,
            token,
            gateway_url,
            channel,
        }
    }

    /// The stored session, if any (a damaged one is dropped: the next connection
    /// identifies).
    async fn stored_session(&self) -> Result<Option<Session>, ChannelError> {
        Ok(self
            .channel
            .cursor()
            .await?
            .and_then(|c| serde_json::from_str(&c).ok()))
    }

    /// Connects, and reconnects, until the task is stopped or the gateway refuses the bot.
    pub(crate) async fn run(self) -> Result<(), ChannelError> {
        let me: Me = retried(|| self.rest.me()).await?;
        tracing::info!(bot = me.username, "discord bot connected");
        let mut backoff = new_backoff();
        let mut failures = 0;
        loop {
            let session = self.stored_session().await?;
            let url = match (&session, &self.gateway_url) {
                (Some(s), _) => s.resume_url.clone(),
                (None, Some(url)) => url.clone(),
                (None, None) => retried(|| self.rest.gateway_url()).await?,
            };
            let started = Instant::now();
            let ended = gateway::connect(&url, &self.token, session.as_ref(), |d, s| {
                self.dispatch(d, s, &me)
            })
            .await;
            if started.elapsed() > HEALTHY {
                backoff = new_backoff();
                failures = 0;
            }
            match ended {
                Ok(Ended::Fatal { code, reason }) => {
                    return Err(ChannelError::Gateway { code, reason });
                }
                Ok(ended) => {
                    failures = 0;
                    if ended == Ended::Identify {
                        self.channel.set_cursor(String::new()).await?;
                    }
                    tracing::info!(?ended, "discord gateway: connecting again");
                }
                Err(e) => {
                    failures += 1;
                    if failures >= MAX_FAILED_CONNECTS {
                        return Err(ChannelError::Gateway {
                            code: 0,
                            reason: e.to_string(),
                        });
                    }
                    // A resume URL that no longer answers: identify afresh next time.
                    if session.is_some() && failures > 2 {
                        self.channel.set_cursor(String::new()).await?;
                    }
                    tracing::warn!(error = %e, "discord gateway unreachable");
                }
            }
            if started.elapsed() < HEALTHY {
                // A gateway that drops every connection at once is not hammered.
                tokio::time::sleep(backoff.next().unwrap_or(HEALTHY)).await;
            }
        }
    }

    /// Handles one dispatch; `session` is the session after it.
    async fn dispatch(&self, d: Dispatch, session: Option<Session>, me: &Me) {
        let cursor = session.map(|s| serde_json::to_string(&s).expect("a session serialises"));
        let recorded = match d.name.as_str() {
            "READY" | "RESUMED" => {
                tracing::info!(event = d.name, "discord gateway session");
                match cursor {
                    Some(c) => self.channel.set_cursor(c).await,
                    None => Ok(()),
                }
            }
            "MESSAGE_CREATE" => match serde_json::from_value::<MessageCreate>(d.data) {
                Ok(m) => match inbound(m, &me.id) {
                    Some(m) => self.channel.receive(vec![m], cursor).await.map(drop),
                    None => Ok(()),
                },
                Err(e) => {
                    tracing::warn!(error = %e, "discord: a malformed MESSAGE_CREATE was ignored");
                    Ok(())
                }
            },
            _ => Ok(()),
        };
        if let Err(e) = recorded {
            // Not recorded: the stored sequence number stays before it, so the next resume
            // replays it.
            tracing::error!(error = %e, "discord: cannot record a dispatch");
        }
    }
}

fn new_backoff() -> impl Iterator<Item = Duration> {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_secs(1))
        .with_max_delay(Duration::from_secs(60))
        .with_jitter()
        .without_max_times()
        .build()
}

/// The message as the shared layer takes it, or `None` if it is not for the bot.
pub(crate) fn inbound(m: MessageCreate, bot: &str) -> Option<Inbound> {
    if m.author.bot {
        return None;
    }
    let private = m.guild_id.is_none();
    let mut text = m.content;
    if !private {
        let tags = [format!("<@{bot}>"), format!("<@!{bot}>")];
        let mentioned =
            m.mentions.iter().any(|u| u.id == bot) || tags.iter().any(|t| text.contains(t));
        let replied = m
            .referenced_message
            .as_ref()
            .is_some_and(|r| r.author.id == bot);
        if !(mentioned || replied) {
            return None;
        }
        for tag in &tags {
            text = text.replace(tag, "");
        }
        text = text.trim().to_owned();
    }
    let attachments: Vec<Attachment> = m
        .attachments
        .into_iter()
        .map(|a| Attachment {
            name: a.filename,
            size: a.size,
            source: a.url,
        })
        .collect();
    if text.trim().is_empty() && attachments.is_empty() {
        return None;
    }
    Some(Inbound {
        id: m.id.clone(),
        chat: m.channel_id,
        message: m.id,
        private,
        guild: m.guild_id,
        user: m.author.id,
        name: m.author.global_name.unwrap_or(m.author.username),
        text,
        attachments,
    })
}

impl Rest {
    async fn me(&self) -> Result<Me, super::PlatformError> {
        self.get_json("/users/@me").await
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn message(extra: serde_json::Value) -> MessageCreate {
        let mut m = json!({
            "id": "111", "channel_id": "222",
            "author": {"id": "42", "username": "alice", "global_name": "Alice"},
            "content": "hello"
        });
        m.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        serde_json::from_value(m).unwrap()
    }

    #[test]
    fn direct_messages_are_for_the_bot_and_server_ones_only_when_addressed() {
        let m = inbound(message(json!({})), "9").unwrap();
        assert!(m.private);
        assert_eq!((m.name.as_str(), m.chat.as_str()), ("Alice", "222"));
        assert!(inbound(message(json!({"guild_id": "5"})), "9").is_none());
        let m = inbound(
            message(json!({"guild_id": "5", "content": "<@9> status?", "mentions": [{"id": "9"}]})),
            "9",
        )
        .unwrap();
        assert_eq!(
            (m.text.as_str(), m.guild.as_deref()),
            ("status?", Some("5"))
        );
        let reply =
            message(json!({"guild_id": "5", "referenced_message": {"author": {"id": "9"}}}));
        assert!(inbound(reply, "9").is_some());
        let bot = message(json!({"author": {"id": "7", "bot": true}}));
        assert!(inbound(bot, "9").is_none());
    }
}
