//! Chat channels: people talk to their agents from Telegram and Discord.
//!
//! One shared layer does everything a channel user sees, whatever the platform: pairing
//! (nobody reaches an agent until the operator approves their one-time code), routing
//! (`@agent message`, a current agent per user), the commands, streamed replies split at
//! the platform's limit, the typing indicator, attachments into the agent's `inbox/`, and
//! the sanitiser. Two thin adapters speak the wire protocols: [`telegram`] (Bot API long
//! polling) and [`discord`] (REST and the gateway WebSocket).
//!
//! The mesh is the trusted zone: bot tokens come from the vault and stay here. A channel
//! message reaches an agent as a lane turn whose origin is that user on that platform,
//! untrusted (trust zone 0). Each message is recorded before it is handled, and its
//! answer's progress after, so after a restart none is handled twice and none in flight
//! is lost. Each adapter runs under a supervisor: a crash restarts it after a pause and
//! never reaches the rest of the mesh.

mod commands;
mod conversation;
pub mod discord;
mod http;
mod inbox;
mod platform;
mod reply;
pub mod retry;
pub mod sanitize;
pub mod split;
pub mod telegram;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

pub use http::routes;
pub use retry::PlatformError;

use crate::config::ChannelSection;
use crate::mesh::Mesh;
use crate::store::{StoreError, channels as rows, now_micros};
use crate::vault::Vault;
use conversation::Channel;

/// Default wait between the edits of a streamed reply.
const EDIT_INTERVAL: Duration = Duration::from_millis(1500);

/// Default largest attachment: 10 MiB.
const MAX_ATTACHMENT_MB: u32 = 10;

/// Longest pause before a crashed adapter is started again.
const MAX_RESTART_WAIT: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChannelError {
    /// An enabled channel without its bot token.
    #[error(
        "channels.{channel} is enabled but its bot token is not set (OPENLEGION_CRED_{var} in .env or the environment)"
    )]
    NoToken { channel: String, var: String },
    /// No valid pairing code matches. (404)
    #[error(
        "no pending pairing code {code} (codes are valid for an hour; the user gets a new one by writing to the bot again)"
    )]
    UnknownCode { code: String },
    /// (404)
    #[error("no paired user {user} on {platform}")]
    UnknownUser { platform: String, user: String },
    /// A platform keeps failing or refuses the bot (its adapter is started again later).
    #[error(transparent)]
    Platform(#[from] PlatformError),
    /// The Discord gateway closed the connection for good (a bad token, intents not
    /// enabled for the bot …).
    #[error("the discord gateway closed the connection: {code} {reason}")]
    Gateway { code: u16, reason: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A channel's settings from mesh.yaml, with the defaults applied.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub default_agent: Option<String>,
    pub allowed_users: Vec<String>,
    pub allowed_chats: Vec<String>,
    pub allowed_guilds: Vec<String>,
    /// Zero: replies are sent once complete.
    pub edit_interval: Duration,
    pub max_attachment: u64,
}

impl Settings {
    fn of(section: &ChannelSection) -> Self {
        Self {
            default_agent: section.default_agent.clone(),
            allowed_users: section.allowed_users.clone(),
            allowed_chats: section.allowed_chats.clone(),
            allowed_guilds: section.allowed_guilds.clone(),
            edit_interval: section
                .edit_interval_ms
                .map_or(EDIT_INTERVAL, Duration::from_millis),
            max_attachment: u64::from(section.max_attachment_mb.unwrap_or(MAX_ATTACHMENT_MB))
                * 1024
                * 1024,
        }
    }
}

/// The bot tokens of the enabled channels, from the vault.
pub struct BotTokens(Vec<(String, String)>);

impl std::fmt::Debug for BotTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.0.iter().map(|(n, _)| n.as_str()).collect();
        write!(f, "BotTokens({names:?})")
    }
}

/// The bot token of every enabled channel of `sections`; fails (before anything starts)
/// naming the variable of a token that is missing.
pub fn bot_tokens(
    sections: &BTreeMap<String, ChannelSection>,
    vault: &Vault,
) -> Result<BotTokens, ChannelError> {
    let mut tokens = Vec::new();
    for (name, _) in sections.iter().filter(|(_, s)| s.enabled) {
        let var = format!("{}_BOT_TOKEN", name.to_uppercase());
        let token = vault
            .get(&var.to_lowercase())
            .map(|s| s.expose().to_owned())
            .ok_or_else(|| ChannelError::NoToken {
                channel: name.clone(),
                var,
            })?;
        tokens.push((name.clone(), token));
    }
    Ok(BotTokens(tokens))
}

/// A user the operator paired, for `openlegion channel users`.
#[derive(Debug, Clone, Serialize)]
pub struct PairedUser {
    pub platform: String,
    pub user_id: String,
    pub name: String,
    /// The agent the user talks to now (`None`: the channel's default).
    pub agent: Option<String>,
    pub paired_at: chrono::DateTime<chrono::Utc>,
}

impl From<rows::Paired> for PairedUser {
    fn from(p: rows::Paired) -> Self {
        Self {
            platform: p.platform,
            user_id: p.user_id,
            name: p.name,
            agent: p.agent,
            paired_at: crate::store::from_micros(p.paired_at),
        }
    }
}

/// Someone waiting for the operator to approve their code (the code itself is not shown:
/// the operator must get it from the person).
#[derive(Debug, Clone, Serialize)]
pub struct PendingUser {
    pub platform: String,
    pub user_id: String,
    pub name: String,
    pub asked_at: chrono::DateTime<chrono::Utc>,
}

/// The channels of one mesh.
#[derive(Debug)]
pub struct Channels {
    mesh: Arc<Mesh>,
    running: BTreeMap<&'static str, Arc<Channel>>,
}

impl Channels {
    /// Starts every enabled channel of `sections` (mesh.yaml's `channels:`) with its token
    /// from [`bot_tokens`], each under its own supervisor until `shutdown`.
    pub fn start(
        sections: &BTreeMap<String, ChannelSection>,
        tokens: BotTokens,
        mesh: Arc<Mesh>,
        shutdown: CancellationToken,
    ) -> Arc<Self> {
        let tokens = tokens
            .0
            .into_iter()
            .filter_map(|(name, token)| Some((sections.get_key_value(&name)?, token)))
            .map(|((name, section), token)| (name.as_str(), section, token));
        let mut running = BTreeMap::new();
        for (name, section, token) in tokens {
            if let Some(agent) = section
                .default_agent
                .as_deref()
                .filter(|a| !mesh.registry.exists(a))
            {
                tracing::warn!(
                    channel = name,
                    agent,
                    "the channel's default_agent is not an agent of this mesh"
                );
            }
            let settings = Settings::of(section);
            let channel = match name {
                "telegram" => {
                    let api = telegram::Api::new(&token, section.api_base.as_deref());
                    let channel = Channel::new(Arc::new(api.clone()), settings, &mesh, &shutdown);
                    let adapter = telegram::Adapter::new(api, Arc::clone(&channel));
                    supervise("telegram", shutdown.clone(), move || adapter.clone().run());
                    channel
                }
                "discord" => {
                    let rest = discord::Rest::new(&token, section.api_base.as_deref());
                    let channel = Channel::new(Arc::new(rest.clone()), settings, &mesh, &shutdown);
                    let adapter = discord::Adapter::new(
                        rest,
                        token.clone(),
                        section.gateway_url.clone(),
                        Arc::clone(&channel),
                    );
                    supervise("discord", shutdown.clone(), move || adapter.clone().run());
                    channel
                }
                // mesh.yaml's validation admits no other enabled channel.
                _ => continue,
            };
            tracing::info!(channel = name, "channel started");
            running.insert(channel.platform_name(), channel);
        }
        Arc::new(Self { mesh, running })
    }

    /// Approves pairing code `code`: its user may talk to the agents from now on, and is
    /// told so on their platform.
    pub async fn pair(&self, code: &str) -> Result<PairedUser, ChannelError> {
        let code = code.trim().to_uppercase();
        let wanted = code.clone();
        let row = self
            .mesh
            .store
            .write(move |c| rows::approve(c, &wanted, now_micros()))
            .await?
            .ok_or(ChannelError::UnknownCode { code })?;
        tracing::info!(platform = %row.platform, user = %row.user_id, "channel user paired");
        if let Some(channel) = self.running.get(row.platform.as_str()) {
            channel.paired(&row.chat_id).await;
        }
        let (platform, user) = (row.platform.clone(), row.user_id.clone());
        let paired = self
            .mesh
            .store
            .read(move |c| rows::paired(c, &platform, &user))
            .await?
            .ok_or_else(|| ChannelError::UnknownUser {
                platform: row.platform.clone(),
                user: row.user_id.clone(),
            })?;
        Ok(paired.into())
    }

    /// The paired users, and those waiting with a valid code.
    pub async fn users(&self) -> Result<(Vec<PairedUser>, Vec<PendingUser>), ChannelError> {
        let (users, codes) = self
            .mesh
            .store
            .read(|c| Ok::<_, StoreError>((rows::users(c)?, rows::codes(c, now_micros())?)))
            .await?;
        let pending = codes
            .into_iter()
            .map(|c| PendingUser {
                platform: c.platform,
                user_id: c.user_id,
                name: c.name,
                asked_at: crate::store::from_micros(c.created_at),
            })
            .collect();
        Ok((users.into_iter().map(Into::into).collect(), pending))
    }

    /// Unpairs `user` of `platform`: their next message gets a new pairing code.
    pub async fn unpair(&self, platform: &str, user: &str) -> Result<(), ChannelError> {
        let (p, u) = (platform.to_owned(), user.to_owned());
        let removed = self
            .mesh
            .store
            .write(move |c| rows::unpair(c, &p, &u))
            .await?;
        match removed {
            true => {
                tracing::info!(platform, user, "channel user unpaired");
                Ok(())
            }
            false => Err(ChannelError::UnknownUser {
                platform: platform.to_owned(),
                user: user.to_owned(),
            }),
        }
    }
}

/// Runs `adapter` until `shutdown`, starting it again (after a pause that grows to a
/// minute) whenever it fails or panics: the mesh goes on without it meanwhile.
fn supervise<F, Fut>(name: &'static str, shutdown: CancellationToken, adapter: F)
where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), ChannelError>> + Send + 'static,
{
    tokio::spawn(async move {
        let mut wait = Duration::from_secs(1);
        loop {
            let started = std::time::Instant::now();
            let run = tokio::spawn(adapter());
            let abort = run.abort_handle();
            let ended = tokio::select! {
                r = run => r,
                () = shutdown.cancelled() => {
                    abort.abort();
                    return;
                }
            };
            if started.elapsed() > MAX_RESTART_WAIT * 5 {
                // It ran well for a while: this failure starts a new series.
                wait = Duration::from_secs(1);
            }
            let started_again_in = wait;
            match ended {
                Ok(Ok(())) => return,
                Ok(Err(e)) => {
                    tracing::error!(channel = name, error = %e, ?started_again_in, "channel adapter failed")
                }
                Err(e) => {
                    tracing::error!(channel = name, error = %e, ?started_again_in, "channel adapter crashed")
                }
            }
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = shutdown.cancelled() => return,
            }
            wait = (wait * 2).min(MAX_RESTART_WAIT);
        }
    });
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[tokio::test]
    async fn a_panicking_adapter_is_started_again_and_nothing_else_notices() {
        let runs = Arc::new(AtomicU32::new(0));
        let shutdown = CancellationToken::new();
        let counted = Arc::clone(&runs);
        supervise("test", shutdown.clone(), move || {
            let counted = Arc::clone(&counted);
            async move {
                match counted.fetch_add(1, Ordering::SeqCst) {
                    0 => panic!("the adapter crashed"),
                    1 => Err(ChannelError::Gateway {
                        code: 4000,
                        reason: "gone".into(),
                    }),
                    _ => Ok(()),
                }
            }
        });
        // 1 s after the panic, 2 s after the error.
        tokio::time::sleep(Duration::from_millis(3500)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 3);
        shutdown.cancel();
    }
}
