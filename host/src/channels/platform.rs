//! What the shared channel layer needs of a platform, and what a platform hands it: the
//! outbound calls ([`Platform`]) and one received message ([`Inbound`]). The adapters
//! (`telegram`, `discord`) implement the one and produce the other; nothing above them
//! knows a wire format.

use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};

use super::retry::PlatformError;

/// A platform's outbound side.
pub(crate) trait Platform: Send + Sync + std::fmt::Debug {
    /// `telegram`, `discord`: the name in configuration, the store and origins.
    fn name(&self) -> &'static str;

    /// The longest message the platform accepts, in UTF-16 units.
    fn limit(&self) -> usize;

    /// Sends `text` to `chat` (as a reply to message `reply_to` where given); returns the
    /// new message's id.
    fn send<'a>(
        &'a self,
        chat: &'a str,
        text: &'a str,
        reply_to: Option<&'a str>,
    ) -> BoxFuture<'a, Result<String, PlatformError>>;

    /// Replaces the text of message `message` in `chat`.
    fn edit<'a>(
        &'a self,
        chat: &'a str,
        message: &'a str,
        text: &'a str,
    ) -> BoxFuture<'a, Result<(), PlatformError>>;

    /// Shows "typing…" in `chat` for a few seconds.
    fn typing<'a>(&'a self, chat: &'a str) -> BoxFuture<'a, Result<(), PlatformError>>;

    /// Fetches an attachment, refusing one over `limit` bytes.
    fn download<'a>(
        &'a self,
        file: &'a Attachment,
        limit: u64,
    ) -> BoxFuture<'a, Result<Vec<u8>, PlatformError>>;
}

/// One message a user sent, as the adapter received it (stored as JSON until it is
/// answered, so a restart can finish it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Inbound {
    /// Unique on the platform (Telegram: `chat:message`; Discord: the message id).
    pub id: String,
    /// Where to answer.
    pub chat: String,
    /// The message's own id in its chat, to reply to.
    pub message: String,
    /// A direct conversation with the bot (not a group or server channel).
    pub private: bool,
    /// Discord: the server it was sent in.
    #[serde(default)]
    pub guild: Option<String>,
    pub user: String,
    /// The user's display name as the platform gives it (unsanitised).
    pub name: String,
    /// The text, with the bot's own mention removed.
    pub text: String,
    #[serde(default)]
    pub attachments: Vec<Attachment>,
}

/// A file sent with a message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Attachment {
    /// The file name the user gave, or one made up from its kind.
    pub name: String,
    /// The size the platform reports, if it does.
    pub size: Option<u64>,
    /// How to fetch it: Telegram's file id, Discord's URL.
    pub source: String,
}

/// The body of `resp`, failing as soon as it grows past `limit` bytes.
pub(crate) async fn read_limited(
    platform: &'static str,
    resp: reqwest::Response,
    limit: u64,
) -> Result<Vec<u8>, PlatformError> {
    let mut body = Vec::new();
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| PlatformError::network(platform, e))?;
        body.extend_from_slice(&chunk);
        if body.len() as u64 > limit {
            return Err(PlatformError::TooLarge {
                size: body.len() as u64,
                limit,
            });
        }
    }
    Ok(body)
}
