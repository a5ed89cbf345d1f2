//! Scrubbing credential values out of text.

use std::borrow::Cow;
use std::sync::Arc;

/// Shorter values are not scrubbed: they would match ordinary text, and no real key is
/// that short.
const MIN_SECRET_LEN: usize = 8;

/// What a scrubbed value is replaced with.
pub const REDACTED: &str = "[REDACTED]";

/// Replaces every known secret value in a text with `[REDACTED]`.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// Longest first, so a key that contains another is scrubbed whole.
    secrets: Arc<Vec<String>>,
}

impl Redactor {
    pub fn new<'a>(secrets: impl IntoIterator<Item = &'a str>) -> Self {
        let mut secrets: Vec<String> = secrets
            .into_iter()
            .filter(|s| s.len() >= MIN_SECRET_LEN)
            .map(str::to_owned)
            .collect();
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Self {
            secrets: Arc::new(secrets),
        }
    }

    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        for secret in self.secrets.iter() {
            if out.contains(secret.as_str()) {
                out = Cow::Owned(out.replace(secret.as_str(), REDACTED));
            }
        }
        out
    }
}
