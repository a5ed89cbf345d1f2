//! A browser run by the mesh (the `browser` interface, since 0.1.4; needs the `browser`
//! capability, which the mesh allows where the agent's `can_use_browser` permission is set).
//!
//! The agent has no network: the mesh drives a headless Chromium for it, in a context of
//! its own, and checks every request a page makes against its allowlist and SSRF rules.
//! Every answer is JSON text for the model (`{"url", "title", ...}` plus what the action
//! returns); `Err` is a refusal or a failure, also meant for the model unchanged.

use crate::imports::browser as host;

/// Loads `url` (in a new tab if `new_tab`) and returns its readable text.
pub fn navigate(url: &str, new_tab: bool) -> Result<String, String> {
    host::navigate(url, new_tab)
}

/// The page's accessibility tree as text, with element refs (`e1`, `e2`, …).
pub fn snapshot() -> Result<String, String> {
    host::snapshot()
}

/// Clicks `target`: a ref from the last snapshot or a CSS selector.
pub fn click(target: &str) -> Result<String, String> {
    host::click(target)
}

/// Types `text` into the field `target`, then submits its form if `submit`.
pub fn type_text(target: &str, text: &str, submit: bool) -> Result<String, String> {
    host::type_text(target, text, submit)
}

/// Saves a PNG of the page at `path` in the workspace (needs `workspace` too).
pub fn screenshot(path: &str, full_page: bool) -> Result<String, String> {
    host::screenshot(path, full_page)
}

/// Runs JavaScript in the page and returns `{"json": <its value as JSON text>, ...}`.
pub fn evaluate(script: &str) -> Result<String, String> {
    host::evaluate(script)
}
