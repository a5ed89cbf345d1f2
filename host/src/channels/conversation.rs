//! One channel's conversations: each received message is recorded (with the platform's
//! read position), then handled in arrival order by one worker: the allow lists, pairing,
//! the commands, `@agent` routing, attachments, and the turn queued in the agent's lane
//! as untrusted input from that user. The answer is followed by [`reply`](super::reply)
//! in a task of its own, so a long turn never holds up other users.
//!
//! At start the worker first finishes what the last run left open: messages recorded but
//! not handled are handled, and answers still owed are followed to the end.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use openlegion_protocol::{AgentId, Origin};
use rand::Rng;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::platform::{Inbound, Platform};
use super::reply::{Reply, Sent};
use super::retry::retried;
use super::sanitize::{name as safe_name, sanitize};
use super::{Settings, commands};
use crate::lanes::{LaneError, Submission, Work};
use crate::mesh::Mesh;
use crate::store::{StoreError, channels as rows, now_micros};

/// How often an unpaired user is reminded of their code at most.
const NOTICE_EVERY: Duration = Duration::from_secs(60);

/// The alphabet of pairing codes: no 0/O, 1/I/L.
const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";

/// One platform's conversations.
#[derive(Debug)]
pub(crate) struct Channel {
    pub(super) platform: Arc<dyn Platform>,
    pub(super) settings: Settings,
    pub(super) mesh: Arc<Mesh>,
    queue: mpsc::UnboundedSender<Inbound>,
    /// When each pairing code was last told to its user.
    notices: Mutex<HashMap<String, Instant>>,
    pub(super) shutdown: CancellationToken,
}

/// What a message says, once sanitised.
#[derive(Debug, PartialEq)]
pub(super) enum Said<'a> {
    /// `/name rest` (a Telegram `/name@bot` suffix removed).
    Command(&'a str, &'a str),
    /// `@agent rest`.
    To(&'a str, &'a str),
    Plain(&'a str),
}

pub(super) fn parse(text: &str) -> Said<'_> {
    let text = text.trim();
    let (word, rest) = match text.split_once(char::is_whitespace) {
        Some((w, r)) => (w, r.trim()),
        None => (text, ""),
    };
    if let Some(cmd) = word.strip_prefix('/')
        && !cmd.is_empty()
    {
        return Said::Command(cmd.split('@').next().unwrap_or(cmd), rest);
    }
    if let Some(agent) = word.strip_prefix('@')
        && AgentId::parse(agent).is_ok()
    {
        return Said::To(agent, rest);
    }
    Said::Plain(text)
}

/// A fresh pairing code, `XXXX-XXXX` (40 random bits).
fn new_code() -> String {
    let mut rng = rand::rng();
    let mut code: String = (0..8)
        .map(|_| CODE_ALPHABET[rng.random_range(0..CODE_ALPHABET.len())] as char)
        .collect();
    code.insert(4, '-');
    code
}

/// A code as the operator may type it (any case, with or without the dash).
pub(super) fn normalize_code(typed: &str) -> String {
    let mut code: String = typed
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if code.len() == 8 {
        code.insert(4, '-');
    }
    code
}

/// The lane item of message `id`: the same message always maps to the same item.
fn lane_item(platform: &str, id: &str) -> String {
    let digest = Sha256::digest(format!("{platform}\0{id}").as_bytes());
    format!("chan_{}", &hex::encode(digest)[..32])
}

impl Channel {
    pub(crate) fn new(
        platform: Arc<dyn Platform>,
        settings: Settings,
        mesh: &Arc<Mesh>,
        shutdown: &CancellationToken,
    ) -> Arc<Self> {
        let (queue, rx) = mpsc::unbounded_channel();
        let channel = Arc::new(Self {
            platform,
            settings,
            mesh: Arc::clone(mesh),
            queue,
            notices: Mutex::new(HashMap::new()),
            shutdown: shutdown.clone(),
        });
        tokio::spawn(Arc::clone(&channel).work(rx));
        channel
    }

    pub(crate) fn platform_name(&self) -> &'static str {
        self.platform.name()
    }

    /// The platform's read position as the adapter last stored it.
    pub(crate) async fn cursor(&self) -> Result<Option<String>, StoreError> {
        let platform = self.platform_name();
        self.mesh
            .store
            .read(move |c| rows::cursor(c, platform))
            .await
    }

    /// Records `messages` and the platform's new read position `cursor` in one
    /// transaction, then queues the messages not seen before for handling. Returns how
    /// many were new.
    pub(crate) async fn receive(
        &self,
        messages: Vec<Inbound>,
        cursor: Option<String>,
    ) -> Result<usize, StoreError> {
        let platform = self.platform_name();
        let json: Vec<String> = messages
            .iter()
            .map(|m| serde_json::to_string(m).expect("an inbound message serialises"))
            .collect();
        let ids: Vec<String> = messages.iter().map(|m| m.id.clone()).collect();
        let fresh = self
            .mesh
            .store
            .write(move |c| {
                let mut fresh = Vec::new();
                for (id, json) in ids.iter().zip(&json) {
                    fresh.push(rows::receive(c, platform, id, json, now_micros())?);
                }
                if let Some(cursor) = &cursor {
                    rows::set_cursor(c, platform, cursor)?;
                }
                Ok::<_, StoreError>(fresh)
            })
            .await?;
        let mut n = 0;
        for (m, fresh) in messages.into_iter().zip(fresh) {
            if fresh {
                n += 1;
                let _ = self.queue.send(m);
            } else {
                tracing::debug!(platform, id = %m.id, "a message seen before is not handled again");
            }
        }
        Ok(n)
    }

    /// Stores the platform's read position alone.
    pub(crate) async fn set_cursor(&self, cursor: String) -> Result<(), StoreError> {
        let platform = self.platform_name();
        self.mesh
            .store
            .write(move |c| rows::set_cursor(c, platform, &cursor))
            .await
    }

    /// Handles messages one at a time, in the order received; what the last run left open
    /// comes first.
    async fn work(self: Arc<Self>, mut rx: mpsc::UnboundedReceiver<Inbound>) {
        let platform = self.platform_name();
        match self.mesh.store.read(move |c| rows::open(c, platform)).await {
            Ok(open) => {
                for row in open {
                    self.reopen(row).await;
                }
            }
            Err(e) => {
                tracing::error!(platform, error = %e, "cannot read the open channel messages")
            }
        }
        loop {
            let m = tokio::select! {
                m = rx.recv() => match m { Some(m) => m, None => return },
                () = self.shutdown.cancelled() => return,
            };
            let id = m.id.clone();
            // In a task of its own, so a panic is one message's, not the channel's.
            let channel = Arc::clone(&self);
            if let Err(e) = tokio::spawn(async move { channel.handle(m).await }).await {
                tracing::error!(platform, id, error = %e, "handling a channel message panicked");
            }
        }
    }

    /// Picks up a message the last run left open.
    async fn reopen(self: &Arc<Self>, row: rows::Open) {
        let platform = self.platform_name();
        let m: Inbound = match serde_json::from_str(&row.inbound) {
            Ok(m) => m,
            Err(e) => {
                tracing::error!(platform, id = row.message_id, error = %e, "a stored channel message is damaged; dropped");
                return self.done(&row.message_id).await;
            }
        };
        match (row.state.as_str(), row.lane_item) {
            ("queued", Some(item)) => {
                let sent: Vec<Sent> = serde_json::from_str(&row.replies).unwrap_or_default();
                let lane = item.clone();
                let agent = match self
                    .mesh
                    .store
                    .read(move |c| crate::store::lanes::get(c, &lane))
                    .await
                {
                    Ok(Some(row)) => row.agent,
                    _ => String::new(),
                };
                match self.mesh.lanes.ticket(&item).await {
                    Ok(ticket) => {
                        tracing::info!(platform, id = %m.id, "following an answer owed since the last run");
                        Reply::spawn(Arc::clone(self), m, agent, ticket, sent);
                    }
                    Err(e) => {
                        tracing::warn!(platform, id = %m.id, error = %e, "the turn of an open message is gone");
                        self.done(&m.id).await;
                    }
                }
            }
            _ => self.handle(m).await,
        }
    }

    async fn handle(self: &Arc<Self>, m: Inbound) {
        if !admitted(&self.settings, &m) {
            tracing::debug!(platform = self.platform_name(), user = %m.user, chat = %m.chat, "a message from outside the allow lists is ignored");
            return self.done(&m.id).await;
        }
        let (platform, user) = (self.platform_name(), m.user.clone());
        let paired = match self
            .mesh
            .store
            .read(move |c| rows::paired(c, platform, &user))
            .await
        {
            Ok(p) => p,
            Err(e) => {
                // Left `received`: handled again after a restart.
                return tracing::error!(platform, error = %e, "cannot read the paired users");
            }
        };
        let Some(paired) = paired else {
            self.pairing(&m).await;
            return self.done(&m.id).await;
        };
        let text = sanitize(&m.text);
        let current = paired.agent.clone().or_else(|| self.default_agent());
        match parse(&text) {
            Said::Command(cmd, arg) => {
                let answer = commands::run(self, &paired, current.as_deref(), cmd, arg).await;
                self.done(&m.id).await;
                self.say(&m.chat, &answer).await;
            }
            Said::To(agent, rest) => {
                if !self.mesh.registry.exists(agent) {
                    self.done(&m.id).await;
                    return self
                        .say(
                            &m.chat,
                            &format!("There is no agent {agent}; /agents lists them."),
                        )
                        .await;
                }
                self.set_agent(&paired.user_id, agent).await;
                if rest.is_empty() && m.attachments.is_empty() {
                    self.done(&m.id).await;
                    return self
                        .say(&m.chat, &format!("You are talking to {agent} now."))
                        .await;
                }
                self.chat(&m, agent, rest).await;
            }
            Said::Plain(text) => match current {
                Some(agent) => self.chat(&m, &agent, text).await,
                None => {
                    self.done(&m.id).await;
                    self.say(&m.chat, "There is no agent to talk to yet.").await;
                }
            },
        }
    }

    /// The agent of newly paired users: the configured one, else the first agent.
    pub(super) fn default_agent(&self) -> Option<String> {
        if let Some(agent) = &self.settings.default_agent {
            return Some(agent.clone());
        }
        let mut ids: Vec<String> = self
            .mesh
            .registry
            .snapshot()
            .into_iter()
            .map(|a| a.id)
            .collect();
        ids.sort();
        ids.into_iter().next()
    }

    pub(super) async fn set_agent(&self, user: &str, agent: &str) {
        let (platform, user, agent) = (self.platform_name(), user.to_owned(), agent.to_owned());
        if let Err(e) = self
            .mesh
            .store
            .write(move |c| rows::set_agent(c, platform, &user, &agent))
            .await
        {
            tracing::error!(platform, error = %e, "cannot store a user's current agent");
        }
    }

    /// An unpaired user: their code (the same one while it is valid); a code already given
    /// is repeated at most once a minute.
    async fn pairing(&self, m: &Inbound) {
        let fresh = rows::Code {
            code: new_code(),
            platform: self.platform_name().to_owned(),
            user_id: m.user.clone(),
            name: safe_name(&m.name),
            chat_id: m.chat.clone(),
            created_at: 0,
        };
        let (code, new) = match self
            .mesh
            .store
            .write(move |c| rows::code_for(c, &fresh, now_micros()))
            .await
        {
            Ok(answer) => answer,
            Err(e) => {
                return tracing::error!(platform = self.platform_name(), error = %e, "cannot store a pairing code");
            }
        };
        {
            let mut notices = self.notices.lock().expect("notices lock");
            let now = Instant::now();
            notices.retain(|_, t| now - *t < NOTICE_EVERY);
            if !new && notices.contains_key(&code) {
                return;
            }
            notices.insert(code.clone(), now);
        }
        if new {
            tracing::info!(platform = self.platform_name(), user = %m.user, "pairing code issued");
        }
        self.say(
            &m.chat,
            &format!(
                "Hello! The agents here talk only to people their operator has approved. Your \
                 pairing code is {code}. Give it to the operator, who approves it with\n\
                 openlegion channel pair {code}\nIt is valid for an hour."
            ),
        )
        .await;
    }

    /// Tells a newly paired user (in the chat they asked from).
    pub(crate) async fn paired(&self, chat: &str) {
        let agent = self.default_agent().unwrap_or_else(|| "(none yet)".into());
        self.say(
            chat,
            &format!("You are paired. You are talking to {agent}; /help lists the commands."),
        )
        .await;
    }

    /// A chat turn for `agent`: attachments into its inbox, then the message into its lane
    /// as untrusted input from this user; the answer is followed in a task of its own.
    async fn chat(self: &Arc<Self>, m: &Inbound, agent: &str, text: &str) {
        if !self.mesh.registry.exists(agent) {
            self.done(&m.id).await;
            return self
                .say(
                    &m.chat,
                    &format!("There is no agent {agent}; /agents lists them."),
                )
                .await;
        }
        let mut message = text.to_owned();
        for file in &m.attachments {
            match super::inbox::save(self, agent, file).await {
                Ok(note) => {
                    message.push_str("\n\n");
                    message.push_str(&note);
                }
                Err(why) => {
                    self.say(&m.chat, &format!("{} was not passed on: {why}", file.name))
                        .await
                }
            }
        }
        if message.trim().is_empty() {
            return self.done(&m.id).await;
        }
        let Ok(id) = AgentId::parse(agent) else {
            return self.done(&m.id).await;
        };
        let who = match safe_name(&m.name) {
            n if n.is_empty() => m.user.clone(),
            n => format!("{} ({n})", m.user),
        };
        let item = lane_item(self.platform_name(), &m.id);
        let sub = Submission {
            agent: id,
            work: Work::Chat { message },
            origin: Origin::channel(self.platform_name(), &who),
        };
        let ticket = match self.mesh.lanes.submit_once_tracked(&item, sub).await {
            Ok((ticket, _)) => ticket,
            Err(LaneError::Full { .. }) => {
                self.done(&m.id).await;
                return self
                    .say(
                        &m.chat,
                        &format!("{agent} has too much waiting; try again in a few minutes."),
                    )
                    .await;
            }
            Err(e) => {
                return tracing::error!(platform = self.platform_name(), error = %e, "cannot queue a channel message");
            }
        };
        let (platform, mid, lane) = (self.platform_name(), m.id.clone(), item.clone());
        if let Err(e) = self
            .mesh
            .store
            .write(move |c| rows::queued(c, platform, &mid, &lane))
            .await
        {
            tracing::error!(platform, error = %e, "cannot record a queued channel message");
        }
        Reply::spawn(
            Arc::clone(self),
            m.clone(),
            agent.to_owned(),
            ticket,
            Vec::new(),
        );
    }

    pub(super) async fn done(&self, id: &str) {
        let (platform, id) = (self.platform_name(), id.to_owned());
        if let Err(e) = self
            .mesh
            .store
            .write(move |c| rows::done(c, platform, &id))
            .await
        {
            tracing::error!(platform, error = %e, "cannot record a handled channel message");
        }
    }

    /// Sends `text` to `chat` (split if long); a failure is logged.
    pub(super) async fn say(&self, chat: &str, text: &str) {
        for part in super::split::split(text, self.platform.limit()) {
            if let Err(e) = retried(|| self.platform.send(chat, &part, None)).await {
                tracing::error!(platform = self.platform_name(), error = %e, "cannot send a channel message");
                return;
            }
        }
    }
}

/// Whether a message comes from where the channel's `allowed_users`, `allowed_chats` and
/// `allowed_guilds` admit (an empty list admits everyone; direct chats need no
/// `allowed_chats` entry). Messages from elsewhere are ignored, unanswered.
fn admitted(s: &Settings, m: &Inbound) -> bool {
    let listed = |list: &Vec<String>, v: &str| list.is_empty() || list.iter().any(|x| x == v);
    listed(&s.allowed_users, &m.user)
        && (m.private || listed(&s.allowed_chats, &m.chat))
        && m.guild
            .as_ref()
            .is_none_or(|g| listed(&s.allowed_guilds, g))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_users_chats_and_guilds_admit_only_what_they_list() {
        let message = |user: &str, chat: &str, private: bool, guild: Option<&str>| Inbound {
            id: "1".into(),
            chat: chat.into(),
            message: "1".into(),
            private,
            guild: guild.map(str::to_owned),
            user: user.into(),
            name: "n".into(),
            text: "hi".into(),
            attachments: Vec::new(),
        };
        let open = Settings::of(&crate::config::ChannelSection::default());
        assert!(admitted(&open, &message("u1", "c1", false, Some("g1"))));
        let s = Settings {
            allowed_users: vec!["u1".into()],
            allowed_chats: vec!["c1".into()],
            allowed_guilds: vec!["g1".into()],
            ..open
        };
        assert!(admitted(&s, &message("u1", "c1", false, Some("g1"))));
        assert!(
            !admitted(&s, &message("u2", "c1", false, Some("g1"))),
            "allowed_users"
        );
        assert!(
            !admitted(&s, &message("u1", "c2", false, Some("g1"))),
            "allowed_chats"
        );
        assert!(
            admitted(&s, &message("u1", "dm", true, None)),
            "a direct chat"
        );
        assert!(
            !admitted(&s, &message("u1", "c1", false, Some("g2"))),
            "allowed_guilds"
        );
    }

    #[test]
    fn messages_parse_into_commands_routes_and_plain_text() {
        assert_eq!(parse("/help"), Said::Command("help", ""));
        assert_eq!(parse("/use@my_bot  scout "), Said::Command("use", "scout"));
        assert_eq!(
            parse("@scout find it\nplease"),
            Said::To("scout", "find it\nplease")
        );
        assert_eq!(parse("@scout"), Said::To("scout", ""));
        assert_eq!(parse("@@x hi"), Said::Plain("@@x hi"));
        assert_eq!(parse("hello @scout"), Said::Plain("hello @scout"));
        assert_eq!(parse("/"), Said::Plain("/"));
        assert_eq!(parse("  hi  "), Said::Plain("hi"));
    }

    #[test]
    fn codes_are_unambiguous_and_typed_any_way() {
        let code = new_code();
        assert_eq!(code.len(), 9);
        assert!(
            code.chars()
                .all(|c| c == '-' || CODE_ALPHABET.contains(&(c as u8)))
        );
        assert_eq!(normalize_code("abcd efgh"), "ABCD-EFGH");
        assert_eq!(normalize_code("ABCD-EFGH"), "ABCD-EFGH");
        assert_eq!(lane_item("telegram", "1:2"), lane_item("telegram", "1:2"));
        assert_ne!(lane_item("telegram", "1:2"), lane_item("discord", "1:2"));
    }
}
