//! Logging into the agent's log (the `log` interface; always granted).
//!
//! The host truncates messages over 8 KiB. Logs are for the people running the agent, not
//! for the model: a tool's result and error are what the model sees.

use crate::imports::log as host;

pub use crate::bindings::openlegion::skill::log::Level;

/// Logs `message` at `level`.
pub fn log(level: Level, message: impl AsRef<str>) {
    host::log(level, message.as_ref());
}

/// Logs at `trace` level.
pub fn trace(message: impl AsRef<str>) {
    log(Level::Trace, message);
}

/// Logs at `debug` level.
pub fn debug(message: impl AsRef<str>) {
    log(Level::Debug, message);
}

/// Logs at `info` level.
pub fn info(message: impl AsRef<str>) {
    log(Level::Info, message);
}

/// Logs at `warn` level.
pub fn warn(message: impl AsRef<str>) {
    log(Level::Warn, message);
}

/// Logs at `error` level.
pub fn error(message: impl AsRef<str>) {
    log(Level::Error, message);
}
