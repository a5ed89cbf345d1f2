//! The request log tests assert on: every LLM request the mock received, in
//! arrival order, recorded before it is answered (so a request that hangs or
//! is rejected is still there). Control API calls are not recorded.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, Method, Uri};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Which wire protocol a request used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Api {
    /// OpenAI Chat Completions.
    #[serde(rename = "openai")]
    OpenAi,
    /// Anthropic Messages.
    Anthropic,
    /// OpenAI embeddings.
    Embeddings,
}

/// One request as the mock received it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedRequest {
    /// Which endpoint family answered it.
    pub api: Api,
    /// The HTTP method, e.g. `POST`.
    pub method: String,
    /// The path, e.g. `/v1/chat/completions`.
    pub path: String,
    /// Every header, names lower-cased; repeated headers joined by `", "`.
    pub headers: BTreeMap<String, String>,
    /// The parsed JSON body; `null` when the body was not JSON.
    pub body: Value,
    /// The body's `model` field, if it had one.
    pub model: Option<String>,
    /// The body's `stream` field (`false` when absent).
    pub stream: bool,
    /// When it arrived, in milliseconds since the Unix epoch.
    pub received_at_ms: u64,
}

impl RecordedRequest {
    /// `body` is the parsed JSON body, `Value::Null` when it was not JSON.
    pub(crate) fn new(
        api: Api,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: Value,
    ) -> Self {
        let mut names: BTreeMap<String, String> = BTreeMap::new();
        for (name, value) in headers {
            let value = String::from_utf8_lossy(value.as_bytes());
            names
                .entry(name.as_str().to_owned())
                .and_modify(|joined| {
                    joined.push_str(", ");
                    joined.push_str(&value);
                })
                .or_insert_with(|| value.into_owned());
        }
        let received_at_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| {
                u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
            });
        Self {
            api,
            method: method.as_str().to_owned(),
            path: uri.path().to_owned(),
            headers: names,
            model: body.get("model").and_then(Value::as_str).map(str::to_owned),
            stream: body.get("stream").and_then(Value::as_bool).unwrap_or(false),
            body,
            received_at_ms,
        }
    }

    /// A header's value, by case-insensitive name.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// The text of the last user message (`messages[].content` as a string), empty if none.
    #[must_use]
    pub fn last_user_text(&self) -> String {
        self.body["messages"]
            .as_array()
            .into_iter()
            .flatten()
            .rev()
            .find(|m| m["role"] == "user")
            .and_then(|m| m["content"].as_str())
            .unwrap_or_default()
            .to_owned()
    }
}

/// The log itself.
#[derive(Debug, Default)]
pub(crate) struct Recorder {
    requests: Mutex<Vec<RecordedRequest>>,
}

impl Recorder {
    pub(crate) fn record(&self, request: RecordedRequest) {
        self.lock().push(request);
    }

    pub(crate) fn all(&self) -> Vec<RecordedRequest> {
        self.lock().clone()
    }

    pub(crate) fn for_model(&self, model: &str) -> Vec<RecordedRequest> {
        self.lock()
            .iter()
            .filter(|request| request.model.as_deref() == Some(model))
            .cloned()
            .collect()
    }

    pub(crate) fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<RecordedRequest>> {
        // A panicking test thread cannot leave the log half-written: every
        // change is a single push or clear.
        self.requests.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
