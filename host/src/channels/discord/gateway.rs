//! One connection to the Discord gateway (v10, JSON, no compression): HELLO, then IDENTIFY
//! (or RESUME of a known session), heartbeats at the interval HELLO names (a heartbeat
//! left unacknowledged means a dead connection), and the dispatches, each numbered.
//!
//! A connection ends in one of three ways ([`Ended`]): resume (the socket dropped, the
//! gateway asked to reconnect, a heartbeat went unanswered), identify again (the session
//! is gone), or stop for good (a close code that retrying cannot fix: a bad token,
//! intents the bot may not use).

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::time::{Instant, sleep_until};
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::{Connector, connect_async_tls_with_config};

/// Messages in servers, direct messages, and their content (a privileged intent: enable
/// "Message Content Intent" for the bot in the developer portal).
pub const INTENTS: u64 = (1 << 9) | (1 << 12) | (1 << 15);

/// How long to wait for HELLO after connecting.
const HELLO_TIMEOUT: Duration = Duration::from_secs(20);

/// A session the gateway can resume: replaying the dispatches after `seq`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub session_id: String,
    pub seq: u64,
    pub resume_url: String,
}

/// How a connection ended.
#[derive(Debug, PartialEq)]
pub enum Ended {
    /// Connect again and resume the session.
    Resume,
    /// The session is gone: connect again and identify.
    Identify,
    /// Do not reconnect: the gateway refused the bot.
    Fatal { code: u16, reason: String },
}

/// Why a connection could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("cannot connect to the discord gateway: {0}")]
    Connect(#[from] tokio_tungstenite::tungstenite::Error),
    #[error("the discord gateway URL {url:?} is not a URL: {reason}")]
    Url { url: String, reason: String },
    #[error("the discord gateway sent no HELLO")]
    NoHello,
    #[error("cannot set up TLS: {0}")]
    Tls(#[from] rustls::Error),
}

/// One dispatch (op 0): its name and data.
#[derive(Debug)]
pub struct Dispatch {
    pub name: String,
    pub data: Value,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Payload {
    pub(crate) op: u8,
    #[serde(default)]
    pub(crate) d: Value,
    pub(crate) s: Option<u64>,
    pub(crate) t: Option<String>,
}

/// Whether a close code ends the bot's use of the gateway (see Discord's list of gateway
/// close codes): authentication failed, an invalid shard, sharding required, an invalid
/// API version, invalid or disallowed intents.
fn fatal(code: u16) -> bool {
    matches!(code, 4004 | 4010 | 4011 | 4012 | 4013 | 4014)
}

/// Close codes after which the session cannot be resumed: invalid sequence, session
/// timed out.
fn session_lost(code: u16) -> bool {
    matches!(code, 4007 | 4009)
}

fn tls() -> Result<Connector, rustls::Error> {
    use rustls_platform_verifier::BuilderVerifierExt;
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_platform_verifier()?
    .with_no_client_auth();
    Ok(Connector::Rustls(Arc::new(config)))
}

/// Runs one connection to `url`, resuming `session` if given (else identifying with
/// `token`), handing every dispatch to `on_dispatch` with the session as it stands after
/// it. Returns how the connection ended.
pub async fn connect<F, Fut>(
    url: &str,
    token: &str,
    session: Option<&Session>,
    mut on_dispatch: F,
) -> Result<Ended, ConnectError>
where
    F: FnMut(Dispatch, Option<Session>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    // Parsed, so `wss://host` gets its `/` path before the query (the handshake needs one).
    let mut url = reqwest::Url::parse(url).map_err(|e| ConnectError::Url {
        url: url.to_owned(),
        reason: e.to_string(),
    })?;
    url.query_pairs_mut()
        .append_pair("v", "10")
        .append_pair("encoding", "json");
    let url = url.to_string();
    let connector = match url.starts_with("wss:") {
        true => tls()?,
        false => Connector::Plain,
    };
    let (mut ws, _) =
        connect_async_tls_with_config(url.as_str(), None, true, Some(connector)).await?;
    let interval = match tokio::time::timeout(HELLO_TIMEOUT, ws.next()).await {
        Ok(Some(Ok(Frame::Text(text)))) => serde_json::from_str::<Payload>(&text)
            .ok()
            .filter(|p| p.op == 10)
            .and_then(|p| p.d["heartbeat_interval"].as_u64())
            .ok_or(ConnectError::NoHello)?,
        _ => return Err(ConnectError::NoHello),
    };
    let interval = Duration::from_millis(interval.max(1000));
    let mut current = session.cloned();
    let hello = match &current {
        Some(s) => {
            json!({"op": 6, "d": {"token": token, "session_id": s.session_id, "seq": s.seq}})
        }
        None => json!({"op": 2, "d": {
            "token": token,
            "intents": INTENTS,
            "properties": {"os": std::env::consts::OS, "browser": "openlegion", "device": "openlegion"}
        }}),
    };
    // From here on, a failed write is a lost connection like any other: resume.
    if ws.send(Frame::text(hello.to_string())).await.is_err() {
        return Ok(Ended::Resume);
    }
    let jitter = rand::rng().random_range(0.0..1.0);
    let mut next_beat = Instant::now() + interval.mul_f64(jitter);
    let mut acked = true;
    loop {
        let frame = tokio::select! {
            frame = ws.next() => frame,
            () = sleep_until(next_beat) => {
                if !acked {
                    tracing::warn!("discord gateway: a heartbeat went unacknowledged; reconnecting");
                    let _ = ws.close(None).await;
                    return Ok(Ended::Resume);
                }
                let seq = current.as_ref().map(|s| s.seq);
                if ws.send(Frame::text(json!({"op": 1, "d": seq}).to_string())).await.is_err() {
                    return Ok(Ended::Resume);
                }
                acked = false;
                next_beat = Instant::now() + interval;
                continue;
            }
        };
        let text = match frame {
            Some(Ok(Frame::Text(text))) => text,
            Some(Ok(Frame::Close(close))) => {
                let (code, reason) = close.map_or((1000, String::new()), |c| {
                    (u16::from(c.code), c.reason.to_string())
                });
                tracing::info!(code, reason, "discord gateway closed the connection");
                return Ok(match code {
                    c if fatal(c) => Ended::Fatal { code, reason },
                    c if session_lost(c) => Ended::Identify,
                    _ => Ended::Resume,
                });
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => {
                tracing::info!(error = %e, "discord gateway connection lost");
                return Ok(Ended::Resume);
            }
            None => return Ok(Ended::Resume),
        };
        let Ok(payload) = serde_json::from_str::<Payload>(&text) else {
            tracing::warn!("discord gateway: a frame that is not a payload was ignored");
            continue;
        };
        match payload.op {
            0 => {
                let name = payload.t.unwrap_or_default();
                if name == "READY" {
                    current = Some(Session {
                        session_id: payload.d["session_id"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned(),
                        seq: 0,
                        resume_url: payload.d["resume_gateway_url"]
                            .as_str()
                            .unwrap_or(url.split('?').next().unwrap_or_default())
                            .to_owned(),
                    });
                }
                if let (Some(s), Some(seq)) = (current.as_mut(), payload.s) {
                    s.seq = s.seq.max(seq);
                }
                on_dispatch(
                    Dispatch {
                        name,
                        data: payload.d,
                    },
                    current.clone(),
                )
                .await;
            }
            1 => {
                let seq = current.as_ref().map(|s| s.seq);
                if ws
                    .send(Frame::text(json!({"op": 1, "d": seq}).to_string()))
                    .await
                    .is_err()
                {
                    return Ok(Ended::Resume);
                }
            }
            7 => {
                tracing::info!("discord gateway asked to reconnect");
                let _ = ws.close(Some(close_frame())).await;
                return Ok(Ended::Resume);
            }
            9 => {
                let resumable = payload.d.as_bool().unwrap_or(false);
                tracing::info!(resumable, "discord gateway: invalid session");
                let _ = ws.close(None).await;
                // Discord asks for a pause of 1–5 s before identifying again.
                let pause = rand::rng().random_range(1000..5000);
                tokio::time::sleep(Duration::from_millis(pause)).await;
                return Ok(if resumable {
                    Ended::Resume
                } else {
                    Ended::Identify
                });
            }
            11 => acked = true,
            _ => {}
        }
    }
}

/// A close that keeps the session resumable (any code but 1000 and 1001).
fn close_frame() -> tokio_tungstenite::tungstenite::protocol::CloseFrame {
    tokio_tungstenite::tungstenite::protocol::CloseFrame {
        code: CloseCode::from(4000),
        reason: "reconnecting".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_codes_sort_into_fatal_lost_and_resumable() {
        assert!(fatal(4004) && fatal(4014) && !fatal(4000) && !fatal(1006));
        assert!(session_lost(4009) && !session_lost(4000));
        assert_eq!(INTENTS, 37376);
    }
}
