//! # Local fakes of the chat platforms
//!
//! The channel tests run the real mesh against these servers instead of Telegram and
//! Discord. They speak the platforms' real wire protocols over real sockets, so the mesh's
//! adapters cannot tell them from the real thing:
//!
//! - [`FakeTelegram`]: the Bot API (`POST /bot<token>/<method>`) with long polling
//!   (`getUpdates` holds the request until an update arrives or its `timeout` passes, and an
//!   `offset` confirms and forgets earlier updates), `getMe`, `sendMessage`,
//!   `editMessageText`, `sendChatAction`, `getFile` and file downloads.
//! - [`FakeDiscord`]: the REST API under `/api/v10` (messages, edits, typing, `/gateway/bot`,
//!   `/users/@me`) and a gateway WebSocket with HELLO, IDENTIFY, READY, heartbeats and their
//!   ACKs, MESSAGE_CREATE dispatches, and RESUME replaying what a dropped connection missed.
//!
//! A test plays the users (`user_says`), reads what the bot sent, and injects the
//! platforms' failures: a 429 with its retry-after, a dropped gateway socket. Both check the
//! bot token and the platforms' limits (4,096 and 2,000 characters), and answer as the
//! platforms do when they are broken.
//!
//! ```no_run
//! # async fn demo() {
//! use openlegion_fake_chat::FakeTelegram;
//! let telegram = FakeTelegram::start("123:secret").await;
//! // Point the mesh at it: channels.telegram.api_base = telegram.api_base()
//! telegram.user_says(42, "alice", "hello");
//! let answers = telegram.wait_for_bot_messages(42, 1).await;
//! # }
//! ```

mod discord;
mod telegram;
mod wait;

pub use discord::{DiscordMessage, FakeDiscord};
pub use telegram::{BotMessage, Call, FakeTelegram};
