//! The Telegram Bot API over HTTPS: the few methods a channel needs (`getMe`,
//! `getUpdates`, `sendMessage`, `editMessageText`, `sendChatAction`, `getFile` and the file
//! download), with typed answers. Unknown fields are ignored, as the API adds some often.
//!
//! Every method URL holds the bot token, so no error carries a URL.

use std::time::Duration;

use futures_util::future::BoxFuture;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::super::platform::{Attachment, Platform, read_limited};
use super::super::retry::PlatformError;

/// The public Bot API.
pub const DEFAULT_BASE: &str = "https://api.telegram.org";

/// Telegram's message limit, in UTF-16 units.
pub const LIMIT: usize = 4096;

const NAME: &str = "telegram";

/// Seconds a `getUpdates` call waits for news before answering with none.
pub(super) const POLL_SECONDS: u64 = 25;

/// The Bot API's answer to every method.
#[derive(Debug, Deserialize)]
struct Envelope<T> {
    ok: bool,
    result: Option<T>,
    #[serde(default)]
    description: String,
    error_code: Option<u16>,
    parameters: Option<Parameters>,
}

#[derive(Debug, Deserialize)]
struct Parameters {
    retry_after: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Update {
    pub update_id: i64,
    pub message: Option<Message>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Message {
    pub message_id: i64,
    pub from: Option<User>,
    pub chat: Chat,
    pub text: Option<String>,
    pub caption: Option<String>,
    pub document: Option<Document>,
    pub photo: Option<Vec<PhotoSize>>,
    pub reply_to_message: Option<Box<Message>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct User {
    pub id: i64,
    #[serde(default)]
    pub is_bot: bool,
    #[serde(default)]
    pub first_name: String,
    pub username: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Chat {
    pub id: i64,
    /// `private`, `group`, `supergroup`, `channel`.
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Document {
    pub file_id: String,
    pub file_name: Option<String>,
    pub file_size: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PhotoSize {
    pub file_id: String,
    pub file_size: Option<u64>,
    #[serde(default)]
    pub width: u32,
}

#[derive(Debug, Deserialize)]
struct File {
    file_size: Option<u64>,
    file_path: Option<String>,
}

#[derive(Debug, Serialize)]
struct GetUpdates<'a> {
    offset: i64,
    timeout: u64,
    allowed_updates: &'a [&'a str],
}

/// A bot's connection to the Bot API.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    /// `{base}/bot{token}/`.
    methods: String,
    /// `{base}/file/bot{token}/`.
    files: String,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("telegram::Api { .. }")
    }
}

/// A chat id as the API takes it: a number, or `@channel`.
fn chat_id(chat: &str) -> Value {
    chat.parse::<i64>()
        .map_or_else(|_| json!(chat), |n| json!(n))
}

impl Api {
    /// The API at `base` (default [`DEFAULT_BASE`]) for the bot with `token`.
    pub fn new(token: &str, base: Option<&str>) -> Self {
        let base = base.unwrap_or(DEFAULT_BASE).trim_end_matches('/');
        let http = crate::http_client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .build()
            .expect("an HTTP client builds");
        Self {
            http,
            methods: format!("{base}/bot{token}/"),
            files: format!("{base}/file/bot{token}/"),
        }
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: &str,
        body: &impl Serialize,
        timeout: Option<Duration>,
    ) -> Result<T, PlatformError> {
        let mut req = self
            .http
            .post(format!("{}{method}", self.methods))
            .json(body);
        if let Some(t) = timeout {
            req = req.timeout(t);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| PlatformError::network(NAME, e))?;
        let status = resp.status().as_u16();
        let text = resp
            .text()
            .await
            .map_err(|e| PlatformError::network(NAME, e))?;
        let envelope: Envelope<T> = match serde_json::from_str(&text) {
            Ok(e) => e,
            Err(_) if status >= 400 => {
                return Err(PlatformError::status(
                    NAME,
                    method,
                    status,
                    None,
                    clip(&text),
                ));
            }
            Err(e) => {
                return Err(PlatformError::Malformed {
                    platform: NAME,
                    what: method.to_owned(),
                    reason: e.to_string(),
                });
            }
        };
        match (envelope.ok, envelope.result) {
            (true, Some(result)) => Ok(result),
            (true, None) => Err(PlatformError::Malformed {
                platform: NAME,
                what: method.to_owned(),
                reason: "ok without a result".into(),
            }),
            (false, _) => Err(PlatformError::status(
                NAME,
                method,
                envelope.error_code.unwrap_or(status),
                envelope
                    .parameters
                    .and_then(|p| p.retry_after)
                    .map(Duration::from_secs),
                envelope.description,
            )),
        }
    }

    pub async fn get_me(&self) -> Result<User, PlatformError> {
        self.call("getMe", &json!({}), None).await
    }

    /// Updates from `offset` on, waiting up to [`POLL_SECONDS`] for one; asking with an
    /// offset confirms every update before it, which Telegram then forgets.
    pub async fn get_updates(&self, offset: i64) -> Result<Vec<Update>, PlatformError> {
        let body = GetUpdates {
            offset,
            timeout: POLL_SECONDS,
            allowed_updates: &["message"],
        };
        self.call(
            "getUpdates",
            &body,
            Some(Duration::from_secs(POLL_SECONDS + 15)),
        )
        .await
    }
}

fn clip(text: &str) -> String {
    text.chars().take(300).collect()
}

impl Platform for Api {
    fn name(&self) -> &'static str {
        NAME
    }

    fn limit(&self) -> usize {
        LIMIT
    }

    fn send<'a>(
        &'a self,
        chat: &'a str,
        text: &'a str,
        reply_to: Option<&'a str>,
    ) -> BoxFuture<'a, Result<String, PlatformError>> {
        Box::pin(async move {
            let mut body = json!({"chat_id": chat_id(chat), "text": text});
            if let Some(id) = reply_to.and_then(|r| r.parse::<i64>().ok()) {
                body["reply_parameters"] =
                    json!({"message_id": id, "allow_sending_without_reply": true});
            }
            let sent: Message = self.call("sendMessage", &body, None).await?;
            Ok(sent.message_id.to_string())
        })
    }

    fn edit<'a>(
        &'a self,
        chat: &'a str,
        message: &'a str,
        text: &'a str,
    ) -> BoxFuture<'a, Result<(), PlatformError>> {
        Box::pin(async move {
            let id: i64 = message.parse().map_err(|_| PlatformError::Malformed {
                platform: NAME,
                what: "editMessageText".into(),
                reason: format!("message id {message:?} is not a number"),
            })?;
            let body = json!({"chat_id": chat_id(chat), "message_id": id, "text": text});
            match self.call::<Value>("editMessageText", &body, None).await {
                Ok(_) => Ok(()),
                // The same text again: nothing to do.
                Err(PlatformError::Refused { description, .. })
                    if description.contains("message is not modified") =>
                {
                    Ok(())
                }
                Err(e) => Err(e),
            }
        })
    }

    fn typing<'a>(&'a self, chat: &'a str) -> BoxFuture<'a, Result<(), PlatformError>> {
        Box::pin(async move {
            let body = json!({"chat_id": chat_id(chat), "action": "typing"});
            self.call::<bool>("sendChatAction", &body, None)
                .await
                .map(drop)
        })
    }

    fn download<'a>(
        &'a self,
        file: &'a Attachment,
        limit: u64,
    ) -> BoxFuture<'a, Result<Vec<u8>, PlatformError>> {
        Box::pin(async move {
            let info: File = self
                .call("getFile", &json!({"file_id": file.source}), None)
                .await?;
            if let Some(size) = info.file_size.filter(|s| *s > limit) {
                return Err(PlatformError::TooLarge { size, limit });
            }
            let path = info.file_path.ok_or_else(|| PlatformError::Malformed {
                platform: NAME,
                what: "getFile".into(),
                reason: "no file_path (the file is too big for the Bot API)".into(),
            })?;
            let resp = self
                .http
                .get(format!("{}{path}", self.files))
                .send()
                .await
                .map_err(|e| PlatformError::network(NAME, e))?;
            let status = resp.status().as_u16();
            if status >= 400 {
                return Err(PlatformError::status(
                    NAME,
                    "a file download",
                    status,
                    None,
                    String::new(),
                ));
            }
            read_limited(NAME, resp, limit).await
        })
    }
}
