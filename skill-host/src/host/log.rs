//! `openlegion:skill/log`: into the agent's `tracing` log, with the skill's name. Always
//! granted.

use crate::bindings::openlegion::skill::log::{Host, Level};
use crate::call_state::CallState;
use crate::host::truncate_at_char;

/// Longest message kept (the WIT contract); longer ones are cut.
const MAX_MESSAGE_BYTES: usize = 8 * 1024;

impl Host for CallState {
    async fn log(&mut self, level: Level, mut message: String) {
        if truncate_at_char(&mut message, MAX_MESSAGE_BYTES) {
            message.push_str(" …(truncated)");
        }
        let skill = self.skill.name.as_str();
        match level {
            Level::Trace => tracing::trace!(target: "skill", skill, "{message}"),
            Level::Debug => tracing::debug!(target: "skill", skill, "{message}"),
            Level::Info => tracing::info!(target: "skill", skill, "{message}"),
            Level::Warn => tracing::warn!(target: "skill", skill, "{message}"),
            Level::Error => tracing::error!(target: "skill", skill, "{message}"),
        }
    }
}
