//! How the mesh and its agents log: `OPENLEGION_LOG_FORMAT=json` (one JSON object a line,
//! the default, as the original's) or `text`. The mesh hands its agents its own setting.

use openlegion_protocol::env;

/// Whether logs are JSON lines (anything but `text`).
pub fn json() -> bool {
    !std::env::var(env::LOG_FORMAT).is_ok_and(|f| f.eq_ignore_ascii_case("text"))
}

/// `json` or `text`.
pub fn name() -> &'static str {
    if json() { "json" } else { "text" }
}
