//! Discord's REST API (v10): the calls a channel needs (send, edit, typing, the gateway's
//! address) and attachment downloads from Discord's CDN. A 429 carries its wait in the
//! body's `retry_after` (seconds, fractional) and in `Retry-After`.
//!
//! Answers never mention anyone (`allowed_mentions` is empty): an agent cannot ping
//! `@everyone` in a server.

use std::time::Duration;

use futures_util::future::BoxFuture;
use reqwest::Method;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::super::platform::{Attachment, Platform, read_limited};
use super::super::retry::PlatformError;

/// The public API.
pub const DEFAULT_BASE: &str = "https://discord.com/api/v10";

/// Discord's message limit.
pub const LIMIT: usize = 2000;

/// Hosts attachments are fetched from, besides the API's own.
const CDN_HOSTS: [&str; 2] = ["cdn.discordapp.com", "media.discordapp.net"];

const NAME: &str = "discord";

#[derive(Debug, Deserialize)]
struct Created {
    id: String,
}

#[derive(Debug, Deserialize)]
struct GatewayBot {
    url: String,
}

#[derive(Debug, Deserialize)]
struct RateLimited {
    retry_after: Option<f64>,
}

/// A bot's connection to the REST API.
#[derive(Clone)]
pub struct Rest {
    http: reqwest::Client,
    base: String,
    auth: String,
}

impl std::fmt::Debug for Rest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "discord::Rest {{ base: {:?} }}", self.base)
    }
}

impl Rest {
    /// The API at `base` (default [`DEFAULT_BASE`]) for the bot with `token`.
    pub fn new(token: &str, base: Option<&str>) -> Self {
        let http = crate::http_client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .user_agent(concat!(
                "DiscordBot (https://github.com/openlegion/openlegion-rs, ",
                env!("CARGO_PKG_VERSION"),
                ")"
            ))
            .build()
            .expect("an HTTP client builds");
        Self {
            http,
            base: base
                .unwrap_or(DEFAULT_BASE)
                .trim_end_matches('/')
                .to_owned(),
            auth: format!("Bot {token}"),
        }
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Option<T>, PlatformError> {
        let what = format!("{method} {path}");
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("Authorization", &self.auth);
        if let Some(body) = body {
            req = req.json(body);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| PlatformError::network(NAME, e))?;
        let status = resp.status().as_u16();
        let header_wait = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<f64>().ok());
        let text = resp
            .text()
            .await
            .map_err(|e| PlatformError::network(NAME, e))?;
        if status >= 400 {
            let body_wait = serde_json::from_str::<RateLimited>(&text)
                .ok()
                .and_then(|r| r.retry_after);
            let wait = body_wait
                .or(header_wait)
                .filter(|s| s.is_finite() && *s >= 0.0)
                .map(Duration::from_secs_f64);
            let description: String = text.chars().take(300).collect();
            return Err(PlatformError::status(
                NAME,
                &what,
                status,
                wait,
                description,
            ));
        }
        if status == 204 || text.is_empty() {
            return Ok(None);
        }
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| PlatformError::Malformed {
                platform: NAME,
                what,
                reason: e.to_string(),
            })
    }

    /// `GET path`, answered with JSON.
    pub(crate) async fn get_json<T: DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<T, PlatformError> {
        self.call(Method::GET, path, None)
            .await?
            .ok_or_else(|| PlatformError::Malformed {
                platform: NAME,
                what: format!("GET {path}"),
                reason: "an empty answer".into(),
            })
    }

    /// The gateway's WebSocket URL (`GET /gateway/bot`).
    pub async fn gateway_url(&self) -> Result<String, PlatformError> {
        Ok(self.get_json::<GatewayBot>("/gateway/bot").await?.url)
    }

    /// Whether an attachment URL may be fetched: Discord's CDN, or the API's own host
    /// (a self-hosted or fake API serves its files itself). Anything else is refused, so a
    /// crafted message cannot make the mesh fetch an arbitrary address.
    fn fetchable(&self, url: &str) -> bool {
        let Ok(url) = reqwest::Url::parse(url) else {
            return false;
        };
        let api_host = reqwest::Url::parse(&self.base)
            .ok()
            .and_then(|b| b.host_str().map(str::to_owned));
        match url.host_str() {
            Some(h) if url.scheme() == "https" && CDN_HOSTS.contains(&h) => true,
            Some(h) => api_host.as_deref() == Some(h),
            None => false,
        }
    }
}

impl Platform for Rest {
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
            let mut body = json!({"content": text, "allowed_mentions": {"parse": []}});
            if let Some(id) = reply_to {
                body["message_reference"] = json!({"message_id": id, "fail_if_not_exists": false});
            }
            let path = format!("/channels/{chat}/messages");
            let created: Option<Created> = self.call(Method::POST, &path, Some(&body)).await?;
            created
                .map(|c| c.id)
                .ok_or_else(|| PlatformError::Malformed {
                    platform: NAME,
                    what: format!("POST {path}"),
                    reason: "no message in the answer".into(),
                })
        })
    }

    fn edit<'a>(
        &'a self,
        chat: &'a str,
        message: &'a str,
        text: &'a str,
    ) -> BoxFuture<'a, Result<(), PlatformError>> {
        Box::pin(async move {
            let body = json!({"content": text, "allowed_mentions": {"parse": []}});
            let path = format!("/channels/{chat}/messages/{message}");
            self.call::<Value>(Method::PATCH, &path, Some(&body))
                .await
                .map(drop)
        })
    }

    fn typing<'a>(&'a self, chat: &'a str) -> BoxFuture<'a, Result<(), PlatformError>> {
        Box::pin(async move {
            let path = format!("/channels/{chat}/typing");
            self.call::<Value>(Method::POST, &path, None)
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
            if !self.fetchable(&file.source) {
                return Err(PlatformError::Refused {
                    platform: NAME,
                    what: "an attachment download".into(),
                    status: 0,
                    description: "the URL is not on Discord's CDN".into(),
                });
            }
            let resp = self
                .http
                .get(&file.source)
                .send()
                .await
                .map_err(|e| PlatformError::network(NAME, e))?;
            let status = resp.status().as_u16();
            if status >= 400 {
                return Err(PlatformError::status(
                    NAME,
                    "an attachment download",
                    status,
                    None,
                    String::new(),
                ));
            }
            read_limited(NAME, resp, limit).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attachments_come_only_from_discords_cdn_or_the_apis_host() {
        let real = Rest::new("t", None);
        assert!(real.fetchable("https://cdn.discordapp.com/attachments/1/2/a.png"));
        assert!(!real.fetchable("http://cdn.discordapp.com/attachments/1/2/a.png"));
        assert!(!real.fetchable("http://169.254.169.254/latest/meta-data"));
        assert!(!real.fetchable("not a url"));
        let fake = Rest::new("t", Some("http://127.0.0.1:9/api/v10"));
        assert!(fake.fetchable("http://127.0.0.1:9/files/a.txt"));
        assert!(!fake.fetchable("http://127.0.0.2:9/files/a.txt"));
    }
}
