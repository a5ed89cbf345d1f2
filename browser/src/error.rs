//! Why a browser command failed. The `Display` text is what the agent (and its model)
//! reads, so it says what was refused or what went wrong in plain words.

use chromiumoxide::error::CdpError;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BrowserError {
    #[error("no Chromium found (looked for {looked_for}); install Debian's `chromium` package")]
    NoChromium { looked_for: String },
    #[error("cannot start Chromium at {path}: {source}")]
    Launch {
        path: String,
        #[source]
        source: CdpError,
    },
    #[error("the browser's proxy is not running: {problem}")]
    NoProxy { problem: String },
    #[error("cannot make a profile directory for Chromium: {source}")]
    Profile {
        #[source]
        source: std::io::Error,
    },
    #[error("browser {action} failed: {source}")]
    Cdp {
        action: &'static str,
        #[source]
        source: CdpError,
    },
    #[error("navigation to {url} refused: {reason}")]
    Refused { url: String, reason: String },
    #[error("navigation to {url} failed: {problem}")]
    Navigation { url: String, problem: String },
    #[error("invalid browser command: {problem}")]
    BadCommand { problem: String },
    #[error("already {max} tabs open, the most an agent may have")]
    TooManyTabs { max: usize },
    #[error("no page open: call browser_navigate first")]
    NoPage,
    #[error(
        "unknown element ref {target}: take a new browser_snapshot (refs change when the page does)"
    )]
    UnknownRef { target: String },
    #[error("no element matches {target}")]
    NoElement { target: String },
    #[error("{action} took longer than {ms} ms")]
    Timeout { action: &'static str, ms: u64 },
    #[error("the script threw: {message}")]
    Script { message: String },
    #[error("{what} is {bytes} bytes, more than the {max} allowed")]
    TooLarge {
        what: &'static str,
        bytes: usize,
        max: usize,
    },
}

impl BrowserError {
    pub(crate) fn cdp(action: &'static str) -> impl FnOnce(CdpError) -> Self {
        move |source| Self::Cdp { action, source }
    }
}
