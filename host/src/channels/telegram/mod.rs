//! The Telegram adapter: long polling of the Bot API's `getUpdates` from the stored offset.
//!
//! Each batch of updates is recorded together with the next offset in one transaction
//! before anything is done with it, so a mesh killed at any point neither loses a message
//! nor handles one twice (Telegram re-sends what was not confirmed; the store knows what
//! it saw). In a private chat every message is for the bot; in a group only commands,
//! replies to the bot and messages that mention it (the mention is removed).
//!
//! Set `channels.telegram.api_base` to use a self-hosted Bot API server (or a local fake).

mod api;

use std::sync::Arc;

pub use api::{Api, DEFAULT_BASE, LIMIT, Message, Update, User};

use super::ChannelError;
use super::conversation::Channel;
use super::platform::{Attachment, Inbound};
use super::retry::retried;

/// The polling side of one bot.
#[derive(Debug, Clone)]
pub(crate) struct Adapter {
    api: Api,
    channel: Arc<Channel>,
}

impl Adapter {
    pub(crate) fn new(api: Api, channel: Arc<Channel>) -> Self {
        Self { api, channel }
    }

    /// Polls until the task is stopped; returns an error only when the Bot API keeps
    /// failing or refuses the bot (the supervisor starts it again later).
    pub(crate) async fn run(self) -> Result<(), ChannelError> {
        let me = retried(|| self.api.get_me()).await?;
        tracing::info!(
            bot = me.username.as_deref().unwrap_or("?"),
            "telegram bot connected"
        );
        let mut offset: i64 = self
            .channel
            .cursor()
            .await?
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        loop {
            let updates = retried(|| self.api.get_updates(offset)).await?;
            let Some(last) = updates.iter().map(|u| u.update_id).max() else {
                continue;
            };
            let next = (last + 1).max(offset);
            let messages = updates
                .into_iter()
                .filter_map(|u| inbound(u.message?, &me))
                .collect();
            self.channel
                .receive(messages, Some(next.to_string()))
                .await?;
            offset = next;
        }
    }
}

/// The message as the shared layer takes it, or `None` if it is not for the bot.
pub(crate) fn inbound(m: Message, me: &User) -> Option<Inbound> {
    let from = m.from.as_ref()?;
    if from.is_bot {
        return None;
    }
    let private = m.chat.kind == "private";
    let mut text = m.text.clone().or(m.caption.clone()).unwrap_or_default();
    if !private {
        let mention = me.username.as_deref().map(|u| format!("@{u}"));
        let mentioned = mention
            .as_deref()
            .is_some_and(|at| text.to_lowercase().contains(&at.to_lowercase()));
        let replied_to_bot = m
            .reply_to_message
            .as_ref()
            .and_then(|r| r.from.as_ref())
            .is_some_and(|u| u.id == me.id);
        if !(mentioned || replied_to_bot || text.starts_with('/')) {
            return None;
        }
        if let Some(at) = mention.filter(|_| mentioned) {
            text = remove_ignoring_case(&text, &at).trim().to_owned();
        }
    }
    let mut attachments = Vec::new();
    if let Some(d) = &m.document {
        attachments.push(Attachment {
            name: d.file_name.clone().unwrap_or_else(|| "document".into()),
            size: d.file_size,
            source: d.file_id.clone(),
        });
    }
    if let Some(photo) = m
        .photo
        .as_ref()
        .and_then(|p| p.iter().max_by_key(|s| s.width))
    {
        attachments.push(Attachment {
            name: format!("photo_{}.jpg", m.message_id),
            size: photo.file_size,
            source: photo.file_id.clone(),
        });
    }
    if text.trim().is_empty() && attachments.is_empty() {
        return None;
    }
    Some(Inbound {
        id: format!("{}:{}", m.chat.id, m.message_id),
        chat: m.chat.id.to_string(),
        message: m.message_id.to_string(),
        private,
        guild: None,
        user: from.id.to_string(),
        name: from
            .username
            .clone()
            .unwrap_or_else(|| from.first_name.clone()),
        text,
        attachments,
    })
}

/// `text` without any occurrence of `word`, compared without case (ASCII).
fn remove_ignoring_case(text: &str, word: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let word = word.to_ascii_lowercase();
    let mut out = String::new();
    let mut at = 0;
    while let Some(i) = lower[at..].find(&word) {
        out.push_str(&text[at..at + i]);
        at += i + word.len();
    }
    out.push_str(&text[at..]);
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn me() -> User {
        serde_json::from_value(
            json!({"id": 99, "is_bot": true, "first_name": "Bot", "username": "ol_bot"}),
        )
        .unwrap()
    }

    fn message(chat_type: &str, text: &str) -> Message {
        serde_json::from_value(json!({
            "message_id": 7, "date": 0,
            "from": {"id": 42, "is_bot": false, "first_name": "Alice", "username": "alice"},
            "chat": {"id": -100, "type": chat_type},
            "text": text
        }))
        .unwrap()
    }

    #[test]
    fn private_messages_are_for_the_bot_and_group_ones_only_when_addressed() {
        let m = inbound(message("private", "hello"), &me()).unwrap();
        assert_eq!(
            (m.id.as_str(), m.user.as_str(), m.name.as_str()),
            ("-100:7", "42", "alice")
        );
        assert!(m.private);
        assert!(inbound(message("group", "hello all"), &me()).is_none());
        let m = inbound(message("supergroup", "@OL_bot what now?"), &me()).unwrap();
        assert_eq!(m.text, "what now?");
        assert!(inbound(message("group", "/agents"), &me()).is_some());
        assert!(inbound(message("private", "   "), &me()).is_none());
    }

    #[test]
    fn documents_and_the_largest_photo_are_attachments() {
        let m: Message = serde_json::from_value(json!({
            "message_id": 8,
            "from": {"id": 42, "is_bot": false, "first_name": "Alice"},
            "chat": {"id": 42, "type": "private"},
            "caption": "look",
            "photo": [{"file_id": "small", "width": 90, "file_size": 10},
                      {"file_id": "big", "width": 800, "file_size": 900}]
        }))
        .unwrap();
        let m = inbound(m, &me()).unwrap();
        assert_eq!(m.text, "look");
        assert_eq!(m.name, "Alice");
        assert_eq!(m.attachments[0].source, "big");
        assert_eq!(m.attachments[0].size, Some(900));
    }
}
