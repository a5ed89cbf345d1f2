//! A fake Telegram Bot API server.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::wait::{units, until};

/// The bot's own user id and name on the fake.
const BOT_ID: i64 = 777_000;
const BOT_NAME: &str = "fake_bot";

/// Longest `getUpdates` wait honoured (the real API allows 50 s).
const MAX_POLL: Duration = Duration::from_secs(50);

/// A message the bot sent, with its text as it stands after any edits.
#[derive(Debug, Clone, PartialEq)]
pub struct BotMessage {
    pub chat: i64,
    pub message_id: i64,
    pub text: String,
    /// The user's message it answers, if it was sent as a reply.
    pub reply_to: Option<i64>,
    pub edits: u32,
    pub sent_at: Instant,
}

/// One Bot API call the bot made.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub body: Value,
    pub status: u16,
    pub at: Instant,
}

#[derive(Debug, Default)]
struct Inner {
    next_update: i64,
    next_message: i64,
    /// Updates not yet confirmed by an offset past them.
    updates: VecDeque<Value>,
    sent: Vec<BotMessage>,
    calls: Vec<Call>,
    /// Answers to give instead of the real one, by method: (status, retry_after).
    failures: HashMap<String, VecDeque<(u16, u64)>>,
    files: HashMap<String, (String, Vec<u8>)>,
    typing: HashMap<i64, u32>,
    /// Bumped by every `getUpdates`: an older poll still waiting is answered 409.
    poll: u64,
}

#[derive(Debug)]
struct Shared {
    token: String,
    inner: Mutex<Inner>,
    news: Notify,
}

/// A running fake Bot API. Dropping it stops the server.
#[derive(Debug)]
pub struct FakeTelegram {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Drop for FakeTelegram {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn ok(result: Value) -> Response {
    axum::Json(json!({"ok": true, "result": result})).into_response()
}

fn error(status: u16, description: &str) -> Response {
    let code = StatusCode::from_u16(status).expect("a status");
    (
        code,
        axum::Json(json!({"ok": false, "error_code": status, "description": description})),
    )
        .into_response()
}

fn chat_of(body: &Value) -> Option<i64> {
    match &body["chat_id"] {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

impl FakeTelegram {
    /// Starts a fake for the bot with `token` on a free loopback port.
    pub async fn start(token: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("an address");
        let shared = Arc::new(Shared {
            token: token.to_owned(),
            inner: Mutex::new(Inner {
                next_update: 1,
                next_message: 1,
                ..Inner::default()
            }),
            news: Notify::new(),
        });
        let app = Router::new()
            .route("/{bot}/{method}", post(method))
            .route("/file/{bot}/{*path}", get(file))
            .with_state(Arc::clone(&shared));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, shared, task }
    }

    /// What `channels.telegram.api_base` should say.
    pub fn api_base(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.shared.inner.lock().expect("fake lock")
    }

    /// User `user` (named `name`) writes `text` to the bot in their private chat (whose id is
    /// the user's). Returns the message id.
    pub fn user_says(&self, user: i64, name: &str, text: &str) -> i64 {
        self.message(user, "private", user, name, json!({"text": text}))
    }

    /// User `user` writes `text` in group `chat`.
    pub fn user_says_in_group(&self, chat: i64, user: i64, name: &str, text: &str) -> i64 {
        self.message(chat, "supergroup", user, name, json!({"text": text}))
    }

    /// User `user` sends the file `bytes` named `file_name` (with `caption`) privately.
    pub fn user_sends_file(
        &self,
        user: i64,
        name: &str,
        file_name: &str,
        bytes: &[u8],
        caption: &str,
    ) -> i64 {
        let file_id = {
            let mut inner = self.inner();
            let id = format!("file{}", inner.files.len() + 1);
            inner.files.insert(
                id.clone(),
                (format!("documents/{file_name}"), bytes.to_vec()),
            );
            id
        };
        let document = json!({
            "file_id": file_id, "file_unique_id": file_id, "file_name": file_name,
            "file_size": bytes.len()
        });
        self.message(
            user,
            "private",
            user,
            name,
            json!({"caption": caption, "document": document}),
        )
    }

    fn message(&self, chat: i64, kind: &str, user: i64, name: &str, content: Value) -> i64 {
        let mut inner = self.inner();
        let message_id = inner.next_message;
        inner.next_message += 1;
        let update_id = inner.next_update;
        inner.next_update += 1;
        let mut message = json!({
            "message_id": message_id,
            "date": 1_700_000_000,
            "from": {"id": user, "is_bot": false, "first_name": name, "username": name},
            "chat": {"id": chat, "type": kind},
        });
        message
            .as_object_mut()
            .expect("an object")
            .extend(content.as_object().expect("an object").clone());
        inner
            .updates
            .push_back(json!({"update_id": update_id, "message": message}));
        drop(inner);
        self.shared.news.notify_waiters();
        message_id
    }

    /// The next `n` calls of `method` fail with `status` (429: with `retry_after` seconds).
    pub fn fail_next(&self, method: &str, n: usize, status: u16, retry_after: u64) {
        let mut inner = self.inner();
        let queue = inner.failures.entry(method.to_owned()).or_default();
        queue.extend(std::iter::repeat_n((status, retry_after), n));
    }

    /// The messages the bot sent to `chat`, oldest first.
    pub fn bot_messages(&self, chat: i64) -> Vec<BotMessage> {
        self.inner()
            .sent
            .iter()
            .filter(|m| m.chat == chat)
            .cloned()
            .collect()
    }

    /// Waits until the bot has sent at least `n` messages to `chat`, and returns them.
    pub async fn wait_for_bot_messages(&self, chat: i64, n: usize) -> Vec<BotMessage> {
        until(&format!("{n} bot messages in chat {chat}"), || {
            let sent = self.bot_messages(chat);
            (sent.len() >= n).then_some(sent)
        })
        .await
    }

    /// Waits until the bot's messages in `chat` satisfy `done`.
    pub async fn wait_until(
        &self,
        chat: i64,
        what: &str,
        done: impl Fn(&[BotMessage]) -> bool,
    ) -> Vec<BotMessage> {
        until(what, || {
            let sent = self.bot_messages(chat);
            done(&sent).then_some(sent)
        })
        .await
    }

    /// Every call of `method` so far.
    pub fn calls(&self, method: &str) -> Vec<Call> {
        self.inner()
            .calls
            .iter()
            .filter(|c| c.method == method)
            .cloned()
            .collect()
    }

    /// `sendChatAction` calls for `chat`.
    pub fn typing(&self, chat: i64) -> u32 {
        self.inner().typing.get(&chat).copied().unwrap_or(0)
    }

    /// Updates not yet confirmed by the bot.
    pub fn unconfirmed(&self) -> usize {
        self.inner().updates.len()
    }

    /// Waits until the bot has confirmed every update (its offset is past them).
    pub async fn wait_confirmed(&self) {
        until("the bot to confirm every update", || {
            (self.unconfirmed() == 0).then_some(())
        })
        .await;
    }
}

async fn file(
    State(shared): State<Arc<Shared>>,
    Path((bot, path)): Path<(String, String)>,
) -> Response {
    if bot != format!("bot{}", shared.token) {
        return error(401, "Unauthorized");
    }
    let inner = shared.inner.lock().expect("fake lock");
    match inner.files.values().find(|(p, _)| *p == path) {
        Some((_, bytes)) => bytes.clone().into_response(),
        None => error(404, "Not Found"),
    }
}

async fn method(
    State(shared): State<Arc<Shared>>,
    Path((bot, method)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    if bot != format!("bot{}", shared.token) {
        return error(401, "Unauthorized");
    }
    let body: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(_) if body.is_empty() => json!({}),
        Err(_) => return error(400, "Bad Request: can't parse JSON"),
    };
    let injected = {
        let mut inner = shared.inner.lock().expect("fake lock");
        inner
            .failures
            .get_mut(&method)
            .and_then(VecDeque::pop_front)
    };
    let response = match injected {
        Some((429, after)) => (
            StatusCode::TOO_MANY_REQUESTS,
            axum::Json(json!({
                "ok": false, "error_code": 429,
                "description": format!("Too Many Requests: retry after {after}"),
                "parameters": {"retry_after": after}
            })),
        )
            .into_response(),
        Some((status, _)) => error(status, "Injected failure"),
        None => answer(&shared, &method, &body).await,
    };
    shared.inner.lock().expect("fake lock").calls.push(Call {
        method,
        body,
        status: response.status().as_u16(),
        at: Instant::now(),
    });
    response
}

async fn answer(shared: &Shared, method: &str, body: &Value) -> Response {
    match method {
        "getMe" => {
            ok(json!({"id": BOT_ID, "is_bot": true, "first_name": "Fake", "username": BOT_NAME}))
        }
        "getUpdates" => get_updates(shared, body).await,
        "sendMessage" => send_message(shared, body),
        "editMessageText" => edit_message(shared, body),
        "sendChatAction" => match chat_of(body) {
            Some(chat) => {
                *shared
                    .inner
                    .lock()
                    .expect("fake lock")
                    .typing
                    .entry(chat)
                    .or_default() += 1;
                ok(json!(true))
            }
            None => error(400, "Bad Request: chat not found"),
        },
        "getFile" => {
            let inner = shared.inner.lock().expect("fake lock");
            let id = body["file_id"].as_str().unwrap_or_default();
            match inner.files.get(id) {
                Some((path, bytes)) => ok(json!({
                    "file_id": id, "file_unique_id": id, "file_size": bytes.len(), "file_path": path
                })),
                None => error(400, "Bad Request: invalid file_id"),
            }
        }
        _ => error(404, "Not Found"),
    }
}

async fn get_updates(shared: &Shared, body: &Value) -> Response {
    let offset = body["offset"].as_i64().unwrap_or(0);
    let timeout = Duration::from_secs(body["timeout"].as_u64().unwrap_or(0)).min(MAX_POLL);
    let deadline = tokio::time::Instant::now() + timeout;
    let generation = {
        let mut inner = shared.inner.lock().expect("fake lock");
        inner.poll += 1;
        inner.poll
    };
    // An older poll still waiting ends now, with 409.
    shared.news.notify_waiters();
    loop {
        let news = shared.news.notified();
        {
            let mut inner = shared.inner.lock().expect("fake lock");
            if inner.poll != generation {
                return error(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
                );
            }
            // An offset confirms every update before it: they are forgotten.
            if offset > 0 {
                inner
                    .updates
                    .retain(|u| u["update_id"].as_i64().unwrap_or(0) >= offset);
            }
            let ready: Vec<Value> = inner.updates.iter().take(100).cloned().collect();
            if !ready.is_empty() {
                return ok(Value::Array(ready));
            }
        }
        if tokio::time::timeout_at(deadline, news).await.is_err() {
            return ok(json!([]));
        }
    }
}

fn message_json(m: &BotMessage) -> Value {
    json!({
        "message_id": m.message_id, "date": 1_700_000_000,
        "from": {"id": BOT_ID, "is_bot": true, "first_name": "Fake", "username": BOT_NAME},
        "chat": {"id": m.chat, "type": "private"},
        "text": m.text
    })
}

/// The text of a send or edit, or the Bot API's complaint about it.
fn check_text(body: &Value) -> Result<String, &'static str> {
    let text = body["text"].as_str().unwrap_or_default();
    if text.trim().is_empty() {
        return Err("Bad Request: message text is empty");
    }
    if units(text) > 4096 {
        return Err("Bad Request: message is too long");
    }
    Ok(text.to_owned())
}

fn send_message(shared: &Shared, body: &Value) -> Response {
    let Some(chat) = chat_of(body) else {
        return error(400, "Bad Request: chat not found");
    };
    let text = match check_text(body) {
        Ok(t) => t,
        Err(complaint) => return error(400, complaint),
    };
    let mut inner = shared.inner.lock().expect("fake lock");
    let message_id = inner.next_message;
    inner.next_message += 1;
    let m = BotMessage {
        chat,
        message_id,
        text,
        reply_to: body["reply_parameters"]["message_id"].as_i64(),
        edits: 0,
        sent_at: Instant::now(),
    };
    let answer = message_json(&m);
    inner.sent.push(m);
    ok(answer)
}

fn edit_message(shared: &Shared, body: &Value) -> Response {
    let (Some(chat), Some(id)) = (chat_of(body), body["message_id"].as_i64()) else {
        return error(400, "Bad Request: message to edit not found");
    };
    let text = match check_text(body) {
        Ok(t) => t,
        Err(complaint) => return error(400, complaint),
    };
    let mut inner = shared.inner.lock().expect("fake lock");
    let Some(m) = inner
        .sent
        .iter_mut()
        .find(|m| m.chat == chat && m.message_id == id)
    else {
        return error(400, "Bad Request: message to edit not found");
    };
    if m.text == text {
        return error(
            400,
            "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message",
        );
    }
    m.text = text;
    m.edits += 1;
    ok(message_json(m))
}
