//! A fake Discord: the REST API (v10) on one port, the gateway WebSocket on another.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::wait::{units, until};

const BOT_ID: &str = "900000000000000001";
const BOT_NAME: &str = "fake_bot";

/// The privileged intent a bot needs to read message text.
const MESSAGE_CONTENT: u64 = 1 << 15;

/// A message the bot sent, as it stands after any edits.
#[derive(Debug, Clone, PartialEq)]
pub struct DiscordMessage {
    pub channel: String,
    pub id: String,
    pub content: String,
    pub reply_to: Option<String>,
    pub edits: u32,
    pub sent_at: Instant,
}

/// A session: every dispatch it was sent, numbered, for replays on RESUME.
#[derive(Debug, Default)]
struct Session {
    seq: u64,
    events: Vec<(u64, String)>,
}

#[derive(Debug)]
enum Command {
    Send(String),
    Drop,
}

#[derive(Debug, Default)]
struct Inner {
    next_id: u64,
    sent: Vec<DiscordMessage>,
    /// (route, status)
    calls: Vec<(String, u16)>,
    failures: HashMap<String, VecDeque<(u16, f64)>>,
    files: HashMap<String, Vec<u8>>,
    typing: HashMap<String, u32>,
    sessions: HashMap<String, Session>,
    /// The newest session, whether or not it is connected.
    last_session: Option<String>,
    /// The connection of the live session.
    live: Option<(String, mpsc::UnboundedSender<Command>)>,
    identifies: u32,
    resumes: u32,
    heartbeats: u32,
}

#[derive(Debug)]
struct Shared {
    token: String,
    gateway: String,
    heartbeat_ms: u64,
    inner: Mutex<Inner>,
}

impl Shared {
    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().expect("fake lock")
    }
}

/// A running fake Discord. Dropping it stops both servers.
#[derive(Debug)]
pub struct FakeDiscord {
    rest: SocketAddr,
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for FakeDiscord {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl FakeDiscord {
    /// Starts a fake for the bot with `token` (heartbeats every 1.5 s, so tests see several).
    pub async fn start(token: &str) -> Self {
        let rest = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let gateway = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let rest_addr = rest.local_addr().expect("an address");
        let shared = Arc::new(Shared {
            token: token.to_owned(),
            gateway: format!("ws://{}", gateway.local_addr().expect("an address")),
            heartbeat_ms: 1500,
            inner: Mutex::new(Inner {
                next_id: 1_000_000,
                ..Inner::default()
            }),
        });
        let app = Router::new()
            .route("/api/v10/users/@me", get(me))
            .route("/api/v10/gateway/bot", get(gateway_bot))
            .route("/api/v10/channels/{channel}/messages", post(create_message))
            .route(
                "/api/v10/channels/{channel}/messages/{id}",
                patch(edit_message),
            )
            .route("/api/v10/channels/{channel}/typing", post(typing))
            .route("/attachments/{id}/{name}", get(attachment))
            .with_state(Arc::clone(&shared));
        let rest_task = tokio::spawn(async move {
            let _ = axum::serve(rest, app).await;
        });
        let accepting = Arc::clone(&shared);
        let gateway_task = tokio::spawn(async move {
            while let Ok((stream, _)) = gateway.accept().await {
                tokio::spawn(connection(stream, Arc::clone(&accepting)));
            }
        });
        Self {
            rest: rest_addr,
            shared,
            tasks: vec![rest_task, gateway_task],
        }
    }

    /// What `channels.discord.api_base` should say.
    pub fn api_base(&self) -> String {
        format!("http://{}/api/v10", self.rest)
    }

    /// What `channels.discord.gateway_url` should say.
    pub fn gateway_url(&self) -> String {
        self.shared.gateway.clone()
    }

    /// Waits until a bot holds a live session.
    pub async fn wait_connected(&self) {
        until("the bot to connect to the gateway", || {
            self.shared.inner().live.is_some().then_some(())
        })
        .await;
    }

    fn next_id(&self) -> String {
        let mut inner = self.shared.inner();
        inner.next_id += 1;
        inner.next_id.to_string()
    }

    /// User `user` (named `name`) writes `content` in their direct-message channel
    /// `channel`. Returns the message id.
    pub fn user_says(&self, channel: &str, user: &str, name: &str, content: &str) -> String {
        self.message(channel, None, user, name, content, vec![], vec![])
    }

    /// User `user` writes `content` in `channel` of server `guild`, mentioning the bot.
    pub fn user_mentions_bot(
        &self,
        guild: &str,
        channel: &str,
        user: &str,
        name: &str,
        content: &str,
    ) -> String {
        let content = format!("<@{BOT_ID}> {content}");
        let mention = json!({"id": BOT_ID, "username": BOT_NAME, "bot": true});
        self.message(
            channel,
            Some(guild),
            user,
            name,
            &content,
            vec![mention],
            vec![],
        )
    }

    /// User `user` sends the file `bytes` named `file_name` with `content`, privately.
    pub fn user_sends_file(
        &self,
        channel: &str,
        user: &str,
        name: &str,
        file_name: &str,
        bytes: &[u8],
        content: &str,
    ) -> String {
        let id = self.next_id();
        self.shared.inner().files.insert(id.clone(), bytes.to_vec());
        let attachment = json!({
            "id": id, "filename": file_name, "size": bytes.len(),
            "url": format!("http://{}/attachments/{id}/{file_name}", self.rest),
            "proxy_url": format!("http://{}/attachments/{id}/{file_name}", self.rest)
        });
        self.message(channel, None, user, name, content, vec![], vec![attachment])
    }

    #[expect(clippy::too_many_arguments, reason = "a message has that many parts")]
    fn message(
        &self,
        channel: &str,
        guild: Option<&str>,
        user: &str,
        name: &str,
        content: &str,
        mentions: Vec<Value>,
        attachments: Vec<Value>,
    ) -> String {
        let id = self.next_id();
        let mut d = json!({
            "id": id, "channel_id": channel, "type": 0, "content": content,
            "author": {"id": user, "username": name, "global_name": name},
            "mentions": mentions, "attachments": attachments, "embeds": [],
            "timestamp": "2026-12-01T00:00:00.000000+00:00", "tts": false, "pinned": false
        });
        if let Some(g) = guild {
            d["guild_id"] = json!(g);
        }
        self.dispatch("MESSAGE_CREATE", d);
        id
    }

    /// Appends a dispatch to the newest session and sends it if that session is live;
    /// a disconnected session gets it on RESUME.
    fn dispatch(&self, name: &str, d: Value) {
        let mut inner = self.shared.inner();
        let session_id = inner
            .last_session
            .clone()
            .expect("no bot has connected to the fake gateway yet");
        let frame = push(&mut inner, &session_id, name, d);
        if let Some((live, tx)) = &inner.live
            && *live == session_id
        {
            let _ = tx.send(Command::Send(frame));
        }
    }

    /// Closes the live connection's socket without a WebSocket close (a network drop).
    pub fn drop_connection(&self) {
        if let Some((_, tx)) = self.shared.inner().live.take() {
            let _ = tx.send(Command::Drop);
        }
    }

    pub fn identifies(&self) -> u32 {
        self.shared.inner().identifies
    }

    pub fn resumes(&self) -> u32 {
        self.shared.inner().resumes
    }

    pub fn heartbeats(&self) -> u32 {
        self.shared.inner().heartbeats
    }

    /// The next `n` calls of `route` (`create_message`, `edit_message`, `typing`) fail with
    /// `status` (429: asking to wait `retry_after` seconds).
    pub fn fail_next(&self, route: &str, n: usize, status: u16, retry_after: f64) {
        let mut inner = self.shared.inner();
        let queue = inner.failures.entry(route.to_owned()).or_default();
        queue.extend(std::iter::repeat_n((status, retry_after), n));
    }

    /// The statuses the calls of `route` were answered with.
    pub fn calls(&self, route: &str) -> Vec<u16> {
        self.shared
            .inner()
            .calls
            .iter()
            .filter(|(r, _)| r == route)
            .map(|(_, s)| *s)
            .collect()
    }

    pub fn typing(&self, channel: &str) -> u32 {
        self.shared
            .inner()
            .typing
            .get(channel)
            .copied()
            .unwrap_or(0)
    }

    /// The messages the bot sent to `channel`, oldest first.
    pub fn bot_messages(&self, channel: &str) -> Vec<DiscordMessage> {
        self.shared
            .inner()
            .sent
            .iter()
            .filter(|m| m.channel == channel)
            .cloned()
            .collect()
    }

    pub async fn wait_for_bot_messages(&self, channel: &str, n: usize) -> Vec<DiscordMessage> {
        until(&format!("{n} bot messages in channel {channel}"), || {
            let sent = self.bot_messages(channel);
            (sent.len() >= n).then_some(sent)
        })
        .await
    }

    /// Waits until the bot's messages in `channel` satisfy `done`.
    pub async fn wait_until(
        &self,
        channel: &str,
        what: &str,
        done: impl Fn(&[DiscordMessage]) -> bool,
    ) -> Vec<DiscordMessage> {
        until(what, || {
            let sent = self.bot_messages(channel);
            done(&sent).then_some(sent)
        })
        .await
    }
}

/// Numbers a dispatch in `session` and returns its frame.
fn push(inner: &mut Inner, session: &str, name: &str, d: Value) -> String {
    let s = inner.sessions.entry(session.to_owned()).or_default();
    s.seq += 1;
    let frame = json!({"op": 0, "s": s.seq, "t": name, "d": d}).to_string();
    s.events.push((s.seq, frame.clone()));
    frame
}

type Ws = tokio_tungstenite::WebSocketStream<TcpStream>;

async fn close(ws: &mut Ws, code: u16, reason: &str) {
    let frame = CloseFrame {
        code: CloseCode::from(code),
        reason: reason.to_owned().into(),
    };
    let _ = ws.close(Some(frame)).await;
}

/// One gateway connection: HELLO, then IDENTIFY or RESUME, then heartbeats and dispatches.
async fn connection(stream: TcpStream, shared: Arc<Shared>) {
    let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
        return;
    };
    let hello = json!({"op": 10, "d": {"heartbeat_interval": shared.heartbeat_ms}});
    if ws.send(Frame::text(hello.to_string())).await.is_err() {
        return;
    }
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut session: Option<String> = None;
    // A client that sends nothing for two intervals is gone (as Discord closes 4009…).
    let patience = Duration::from_millis(shared.heartbeat_ms * 3);
    loop {
        let text = tokio::select! {
            frame = tokio::time::timeout(patience, ws.next()) => match frame {
                Ok(Some(Ok(Frame::Text(text)))) => text,
                Ok(Some(Ok(Frame::Close(_)) | Err(_)) | None) => break,
                Ok(Some(Ok(_))) => continue,
                Err(_) => {
                    close(&mut ws, 4009, "Session timed out").await;
                    break;
                }
            },
            command = rx.recv() => match command {
                Some(Command::Send(frame)) => {
                    if ws.send(Frame::text(frame)).await.is_err() {
                        break;
                    }
                    continue;
                }
                // Dropped without a close frame, as a broken network does.
                Some(Command::Drop) | None => return,
            },
        };
        let Ok(payload) = serde_json::from_str::<Value>(&text) else {
            close(&mut ws, 4002, "Error while decoding payload.").await;
            break;
        };
        let d = &payload["d"];
        match payload["op"].as_u64() {
            Some(1) => {
                shared.inner().heartbeats += 1;
                if ws
                    .send(Frame::text(json!({"op": 11}).to_string()))
                    .await
                    .is_err()
                {
                    break;
                }
            }
            Some(2) => {
                if d["token"].as_str() != Some(shared.token.as_str()) {
                    close(&mut ws, 4004, "Authentication failed.").await;
                    break;
                }
                if d["intents"].as_u64().unwrap_or(0) & MESSAGE_CONTENT == 0 {
                    close(&mut ws, 4014, "Disallowed intent(s).").await;
                    break;
                }
                let frame = {
                    let mut inner = shared.inner();
                    inner.identifies += 1;
                    let id = format!("fake-session-{}", inner.identifies);
                    inner.last_session = Some(id.clone());
                    inner.live = Some((id.clone(), tx.clone()));
                    session = Some(id.clone());
                    let ready = json!({
                        "v": 10, "session_id": id, "resume_gateway_url": shared.gateway,
                        "user": {"id": BOT_ID, "username": BOT_NAME, "bot": true},
                        "guilds": [], "application": {"id": BOT_ID, "flags": 0}
                    });
                    push(&mut inner, &id, "READY", ready)
                };
                if ws.send(Frame::text(frame)).await.is_err() {
                    break;
                }
            }
            Some(6) => {
                let id = d["session_id"].as_str().unwrap_or_default().to_owned();
                let after = d["seq"].as_u64().unwrap_or(0);
                let frames = {
                    let mut inner = shared.inner();
                    if d["token"].as_str() != Some(shared.token.as_str())
                        || !inner.sessions.contains_key(&id)
                    {
                        None
                    } else {
                        inner.resumes += 1;
                        let mut frames: Vec<String> = inner.sessions[&id]
                            .events
                            .iter()
                            .filter(|(seq, _)| *seq > after)
                            .map(|(_, f)| f.clone())
                            .collect();
                        frames.push(push(&mut inner, &id, "RESUMED", json!({})));
                        inner.live = Some((id.clone(), tx.clone()));
                        session = Some(id.clone());
                        Some(frames)
                    }
                };
                let Some(frames) = frames else {
                    let _ = ws
                        .send(Frame::text(json!({"op": 9, "d": false}).to_string()))
                        .await;
                    continue;
                };
                for frame in frames {
                    if ws.send(Frame::text(frame)).await.is_err() {
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    let mut inner = shared.inner();
    if inner.live.as_ref().map(|(id, _)| Some(id)) == Some(session.as_ref()) {
        inner.live = None;
    }
}

fn authorized(shared: &Shared, headers: &HeaderMap) -> bool {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Bot {}", shared.token))
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        axum::Json(json!({"message": "401: Unauthorized", "code": 0})),
    )
        .into_response()
}

/// The injected failure for `route`, if any, as Discord sends it.
fn injected(shared: &Shared, route: &str) -> Option<Response> {
    let (status, after) = shared.inner().failures.get_mut(route)?.pop_front()?;
    let code = StatusCode::from_u16(status).expect("a status");
    Some(if status == 429 {
        let mut resp = (
            code,
            axum::Json(json!({"message": "You are being rate limited.", "retry_after": after, "global": false})),
        )
            .into_response();
        let h = resp.headers_mut();
        h.insert(
            "retry-after",
            after.ceil().to_string().parse().expect("a header"),
        );
        h.insert("x-ratelimit-scope", "user".parse().expect("a header"));
        resp
    } else {
        (
            code,
            axum::Json(json!({"message": "Injected failure", "code": 0})),
        )
            .into_response()
    })
}

fn record(shared: &Shared, route: &str, resp: Response) -> Response {
    shared
        .inner()
        .calls
        .push((route.to_owned(), resp.status().as_u16()));
    resp
}

async fn me(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if !authorized(&shared, &headers) {
        return unauthorized();
    }
    axum::Json(json!({"id": BOT_ID, "username": BOT_NAME, "bot": true, "discriminator": "0"}))
        .into_response()
}

async fn gateway_bot(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if !authorized(&shared, &headers) {
        return unauthorized();
    }
    axum::Json(json!({
        "url": shared.gateway, "shards": 1,
        "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
    }))
    .into_response()
}

/// The content of a send or edit, or Discord's complaint about it.
fn content(body: &Value) -> Result<String, &'static str> {
    let content = body["content"].as_str().unwrap_or_default();
    if content.trim().is_empty() {
        return Err("Cannot send an empty message");
    }
    if units(content) > 2000 {
        return Err("Must be 2000 or fewer in length.");
    }
    Ok(content.to_owned())
}

fn invalid(message: &str) -> Response {
    let code = match message.contains("empty") {
        true => "BASE_TYPE_REQUIRED",
        false => "BASE_TYPE_MAX_LENGTH",
    };
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({"message": "Invalid Form Body", "code": 50035,
            "errors": {"content": {"_errors": [{"code": code, "message": message}]}}})),
    )
        .into_response()
}

fn message_json(m: &DiscordMessage) -> Value {
    json!({
        "id": m.id, "channel_id": m.channel, "content": m.content, "type": 0,
        "author": {"id": BOT_ID, "username": BOT_NAME, "bot": true},
        "attachments": [], "embeds": [], "mentions": []
    })
}

async fn create_message(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(channel): Path<String>,
    body: Bytes,
) -> Response {
    const ROUTE: &str = "create_message";
    if !authorized(&shared, &headers) {
        return record(&shared, ROUTE, unauthorized());
    }
    if let Some(resp) = injected(&shared, ROUTE) {
        return record(&shared, ROUTE, resp);
    }
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let content = match content(&body) {
        Ok(c) => c,
        Err(complaint) => return record(&shared, ROUTE, invalid(complaint)),
    };
    let m = {
        let mut inner = shared.inner();
        inner.next_id += 1;
        let m = DiscordMessage {
            channel,
            id: inner.next_id.to_string(),
            content,
            reply_to: body["message_reference"]["message_id"]
                .as_str()
                .map(str::to_owned),
            edits: 0,
            sent_at: Instant::now(),
        };
        inner.sent.push(m.clone());
        m
    };
    record(&shared, ROUTE, axum::Json(message_json(&m)).into_response())
}

async fn edit_message(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((channel, id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    const ROUTE: &str = "edit_message";
    if !authorized(&shared, &headers) {
        return record(&shared, ROUTE, unauthorized());
    }
    if let Some(resp) = injected(&shared, ROUTE) {
        return record(&shared, ROUTE, resp);
    }
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let content = match content(&body) {
        Ok(c) => c,
        Err(complaint) => return record(&shared, ROUTE, invalid(complaint)),
    };
    let answer = {
        let mut inner = shared.inner();
        match inner
            .sent
            .iter_mut()
            .find(|m| m.channel == channel && m.id == id)
        {
            Some(m) => {
                m.content = content;
                m.edits += 1;
                Ok(message_json(m))
            }
            None => Err(()),
        }
    };
    let resp = match answer {
        Ok(m) => axum::Json(m).into_response(),
        Err(()) => (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"message": "Unknown Message", "code": 10008})),
        )
            .into_response(),
    };
    record(&shared, ROUTE, resp)
}

async fn typing(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(channel): Path<String>,
) -> Response {
    const ROUTE: &str = "typing";
    if !authorized(&shared, &headers) {
        return record(&shared, ROUTE, unauthorized());
    }
    if let Some(resp) = injected(&shared, ROUTE) {
        return record(&shared, ROUTE, resp);
    }
    *shared.inner().typing.entry(channel).or_default() += 1;
    record(&shared, ROUTE, StatusCode::NO_CONTENT.into_response())
}

async fn attachment(
    State(shared): State<Arc<Shared>>,
    Path((id, _name)): Path<(String, String)>,
) -> Response {
    match shared.inner().files.get(&id) {
        Some(bytes) => bytes.clone().into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A raw client through the gateway's handshake: what the fake answers is what Discord
    /// documents.
    #[tokio::test]
    async fn hello_identify_ready_heartbeat_and_resume() {
        let fake = FakeDiscord::start("tok").await;
        let url = format!("{}/?v=10&encoding=json", fake.gateway_url());
        let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str())
            .await
            .unwrap();
        let next = |text: Option<Result<Frame, _>>| -> Value {
            match text {
                Some(Ok(Frame::Text(t))) => serde_json::from_str(&t).unwrap(),
                other => panic!("{other:?}"),
            }
        };
        let hello = next(ws.next().await);
        assert_eq!(hello["op"], 10);
        let identify =
            json!({"op": 2, "d": {"token": "tok", "intents": MESSAGE_CONTENT, "properties": {}}});
        ws.send(Frame::text(identify.to_string())).await.unwrap();
        let ready = next(ws.next().await);
        assert_eq!(
            (ready["t"].clone(), ready["s"].clone()),
            (json!("READY"), json!(1))
        );
        ws.send(Frame::text(json!({"op": 1, "d": 1}).to_string()))
            .await
            .unwrap();
        assert_eq!(next(ws.next().await)["op"], 11);
        let session = ready["d"]["session_id"].as_str().unwrap().to_owned();
        fake.drop_connection();
        assert!(matches!(ws.next().await, None | Some(Err(_))));
        fake.user_says("c", "u", "n", "while away");
        let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str())
            .await
            .unwrap();
        next(ws.next().await);
        let resume = json!({"op": 6, "d": {"token": "tok", "session_id": session, "seq": 1}});
        ws.send(Frame::text(resume.to_string())).await.unwrap();
        let replayed = next(ws.next().await);
        assert_eq!(replayed["t"], "MESSAGE_CREATE");
        assert_eq!(replayed["d"]["content"], "while away");
        assert_eq!(next(ws.next().await)["t"], "RESUMED");
        assert_eq!((fake.identifies(), fake.resumes()), (1, 1));
    }
}
