//! The browser commands an agent sends the mesh (`POST /mesh/browser`) and the answer it
//! gets back. The mesh's browser service executes them in the agent's own browser context;
//! the agent never runs a browser itself (its sandbox has no network).
//!
//! Every string an agent sends is bounded here, so the mesh refuses an oversized command
//! before it reaches Chromium; the answer's bounds are the service's.

use serde::{Deserialize, Serialize};

/// Longest URL an agent may ask for (the same bound as an HTTP request's).
pub const MAX_BROWSER_URL_BYTES: usize = 8 * 1024;
/// Longest element target: a ref (`e12`) or a CSS selector.
pub const MAX_BROWSER_TARGET_BYTES: usize = 1024;
/// Longest text typed into one field.
pub const MAX_BROWSER_TYPE_BYTES: usize = 64 * 1024;
/// Longest script for `evaluate`.
pub const MAX_BROWSER_SCRIPT_BYTES: usize = 64 * 1024;
/// Most readable text `navigate` returns, in characters: enough to read a long article,
/// small enough for a model's context.
pub const MAX_BROWSER_TEXT_CHARS: usize = 20_000;
/// Most characters of a snapshot (the accessibility tree as text).
pub const MAX_BROWSER_SNAPSHOT_CHARS: usize = 40_000;
/// Largest JSON result of `evaluate`, in bytes; a larger one is refused, since cut JSON is
/// no longer JSON.
pub const MAX_BROWSER_JSON_BYTES: usize = 64 * 1024;
/// Largest PNG a screenshot may produce (a full-page shot of a long page can be large).
pub const MAX_BROWSER_PNG_BYTES: usize = 8 * 1024 * 1024;

/// One browser command, as `{"action": "navigate", ...}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum BrowserAction {
    /// Loads `url` in the current tab (or a new one) and returns its readable text.
    Navigate {
        url: String,
        #[serde(default)]
        new_tab: bool,
    },
    /// The current page's accessibility tree as text with element refs (`e1`, `e2`, …).
    Snapshot,
    /// Clicks the element `target`: a ref from the last snapshot or a CSS selector.
    Click { target: String },
    /// Types `text` into the field `target` (replacing what it held); `submit` then submits
    /// the field's form.
    Type {
        target: String,
        text: String,
        #[serde(default)]
        submit: bool,
    },
    /// A PNG of the viewport, or of the whole page.
    Screenshot {
        #[serde(default)]
        full_page: bool,
    },
    /// Runs JavaScript in the page and returns its JSON result.
    Evaluate { script: String },
}

impl BrowserAction {
    /// The action's name, for logs and errors.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Navigate { .. } => "navigate",
            Self::Snapshot => "snapshot",
            Self::Click { .. } => "click",
            Self::Type { .. } => "type",
            Self::Screenshot { .. } => "screenshot",
            Self::Evaluate { .. } => "evaluate",
        }
    }

    /// Refuses a command whose strings exceed the bounds above, naming the field.
    pub fn check_bounds(&self) -> Result<(), String> {
        let check = |field: &str, value: &str, max: usize| {
            if value.len() > max {
                Err(format!(
                    "{field} is {} bytes, more than the {max} allowed",
                    value.len()
                ))
            } else {
                Ok(())
            }
        };
        match self {
            Self::Navigate { url, .. } => check("url", url, MAX_BROWSER_URL_BYTES),
            Self::Click { target } => check("target", target, MAX_BROWSER_TARGET_BYTES),
            Self::Type { target, text, .. } => {
                check("target", target, MAX_BROWSER_TARGET_BYTES)?;
                check("text", text, MAX_BROWSER_TYPE_BYTES)
            }
            Self::Evaluate { script } => check("script", script, MAX_BROWSER_SCRIPT_BYTES),
            Self::Snapshot | Self::Screenshot { .. } => Ok(()),
        }
    }
}

/// A request the page made that the mesh refused (a sub-resource, a redirect hop).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockedRequest {
    pub url: String,
    pub reason: String,
}

/// The answer to a [`BrowserAction`]. Which of the optional fields are set depends on the
/// action: `text` (navigate: readable text; snapshot: the tree; click/type: a short
/// confirmation), `json` (evaluate, as JSON text), `png_base64` (screenshot).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrowserReply {
    /// The tab's URL after the action.
    pub url: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Whether `text` was cut at its bound.
    #[serde(default)]
    pub truncated: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub png_base64: Option<String>,
    /// Whether the page was still loading when the navigation deadline passed (its loading
    /// was stopped and what had arrived is returned).
    #[serde(default)]
    pub timed_out: bool,
    /// Requests of this page the mesh refused, at most a few dozen.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocked: Vec<BlockedRequest>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_are_tagged_and_strict() {
        let a: BrowserAction =
            serde_json::from_str(r#"{"action":"navigate","url":"https://example.com"}"#).unwrap();
        assert_eq!(
            a,
            BrowserAction::Navigate {
                url: "https://example.com".into(),
                new_tab: false
            }
        );
        let err = serde_json::from_str::<BrowserAction>(r#"{"action":"click","target":"a","x":1}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `x`"), "{err}");
        let long = BrowserAction::Evaluate {
            script: "1".repeat(MAX_BROWSER_SCRIPT_BYTES + 1),
        };
        assert_eq!(
            long.check_bounds().unwrap_err(),
            "script is 65537 bytes, more than the 65536 allowed"
        );
    }
}
