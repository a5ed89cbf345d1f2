//! The HTTP exchange both protocols share: sending a request, turning an error status into
//! [`LlmError::Status`] with the provider's own message, and reading a success body as
//! JSON (anything else, such as a proxy's HTML page, is [`LlmError::InvalidResponse`]).
//! Building the request (URL, auth headers, body) belongs to the protocol modules.
//!
//! Error messages quote what the provider sent, never the request: URLs are stripped from
//! reqwest's errors because a base URL may carry a key (`?api-key=…`), and the key headers
//! are marked sensitive where they are set.

use std::error::Error as _;
use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use reqwest::{RequestBuilder, Response};
use serde_json::Value;

use crate::LlmError;

/// How much of a non-JSON error body becomes the error message: enough to recognise a
/// proxy's page or a plain-text error, short enough for a log line.
const MESSAGE_CHARS: usize = 300;

/// How much of an unexpected success body an `InvalidResponse` quotes.
const SNIPPET_CHARS: usize = 200;

/// Sends the request; a non-2xx answer becomes [`LlmError::Status`].
pub(crate) async fn send(request: RequestBuilder, provider: &str) -> Result<Response, LlmError> {
    let response = request
        .send()
        .await
        .map_err(|e| request_failed(provider, e))?;
    if response.status().is_success() {
        Ok(response)
    } else {
        Err(status_error(response, provider).await)
    }
}

/// The whole body as JSON; anything that does not parse is [`LlmError::InvalidResponse`]
/// naming the content type and quoting the start of the body.
pub(crate) async fn json_body(response: Response, provider: &str) -> Result<Value, LlmError> {
    let content_type = content_type(response.headers());
    let bytes = response
        .bytes()
        .await
        .map_err(|e| request_failed(provider, e))?;
    serde_json::from_slice(&bytes).map_err(|e| {
        let body = String::from_utf8_lossy(&bytes);
        invalid(
            provider,
            format!(
                "expected JSON, got {content_type} ({e}): {}",
                snippet(&body, SNIPPET_CHARS)
            ),
        )
    })
}

/// Whether a success response is an SSE stream. A missing content type counts as one:
/// some local servers leave it out, and the SSE parser rejects what is not a stream.
pub(crate) fn is_event_stream(response: &Response) -> bool {
    response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_none_or(|value| value.contains("event-stream"))
}

/// An [`LlmError::InvalidResponse`] for `provider`.
pub(crate) fn invalid(provider: &str, message: impl Into<String>) -> LlmError {
    LlmError::InvalidResponse {
        provider: provider.to_owned(),
        message: message.into(),
    }
}

/// A JSON value quoted in an error message, shortened.
pub(crate) fn quote(json: &Value) -> String {
    snippet(&json.to_string(), SNIPPET_CHARS)
}

/// The provider's own error message in a JSON error body: `error.message` (OpenAI and
/// Anthropic), `error` as a plain string (Ollama, some gateways), or a top-level `message`.
pub(crate) fn provider_message(json: &Value) -> Option<String> {
    let message = match json.get("error") {
        Some(Value::Object(error)) => error.get("message"),
        Some(error @ Value::String(_)) => Some(error),
        _ => json.get("message"),
    };
    message.and_then(Value::as_str).map(str::to_owned)
}

/// A failure to send or to read a body: a bad URL is configuration, everything else is the
/// network.
fn request_failed(provider: &str, error: reqwest::Error) -> LlmError {
    let error = error.without_url();
    if error.is_builder() {
        return LlmError::Config {
            message: format!("cannot build a request to {provider}: {}", chain(&error)),
        };
    }
    LlmError::Network {
        provider: provider.to_owned(),
        message: chain(&error),
    }
}

async fn status_error(response: Response, provider: &str) -> LlmError {
    let status = response.status().as_u16();
    let retry_after = retry_after(response.headers());
    let message = match response.text().await {
        Ok(body) => error_message(&body),
        Err(e) => format!(
            "(the error body could not be read: {})",
            chain(&e.without_url())
        ),
    };
    LlmError::Status {
        provider: provider.to_owned(),
        status,
        message,
        retry_after,
    }
}

/// The provider's message from an error body, else the start of the body itself.
fn error_message(body: &str) -> String {
    if let Some(message) = serde_json::from_str::<Value>(body)
        .ok()
        .as_ref()
        .and_then(provider_message)
    {
        return message;
    }
    let body = body.trim();
    if body.is_empty() {
        "(empty body)".to_owned()
    } else {
        body.chars().take(MESSAGE_CHARS).collect()
    }
}

/// `retry-after` in seconds. The HTTP-date form is ignored: providers send seconds.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let seconds: f64 = headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Duration::try_from_secs_f64(seconds).ok()
}

fn content_type(headers: &HeaderMap) -> String {
    match headers.get(CONTENT_TYPE).map(|value| value.to_str()) {
        Some(Ok(value)) => format!("content type `{value}`"),
        Some(Err(_)) => "an unreadable content type".to_owned(),
        None => "no content type".to_owned(),
    }
}

/// The start of `text` on one line, with `…` when cut.
fn snippet(text: &str, max_chars: usize) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max_chars {
        flat
    } else {
        let mut cut: String = flat.chars().take(max_chars).collect();
        cut.push('…');
        cut
    }
}

/// An error and its sources, `outer: inner: …`, since reqwest's own message is often just
/// "error sending request" and the cause is further down.
pub(crate) fn chain(error: &reqwest::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn provider_messages_in_their_usual_places() {
        let openai = json!({"error": {"message": "bad key", "type": "auth"}});
        let anthropic = json!({"type": "error", "error": {"type": "x", "message": "overloaded"}});
        let ollama = json!({"error": "model not found"});
        assert_eq!(provider_message(&openai).as_deref(), Some("bad key"));
        assert_eq!(provider_message(&anthropic).as_deref(), Some("overloaded"));
        assert_eq!(
            provider_message(&ollama).as_deref(),
            Some("model not found")
        );
        assert_eq!(provider_message(&json!({"detail": "x"})), None);
    }

    #[test]
    fn error_message_falls_back_to_the_body_start() {
        let long = "x".repeat(400);
        assert_eq!(error_message(&long).len(), MESSAGE_CHARS);
        assert_eq!(error_message("  Bad Gateway\n"), "Bad Gateway");
        assert_eq!(error_message(""), "(empty body)");
    }

    #[test]
    fn retry_after_takes_seconds_only() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        headers.insert(RETRY_AFTER, "1.5".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_millis(1500)));
        headers.insert(
            RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn snippets_are_flat_and_short() {
        assert_eq!(snippet("<html>\n  <body>", 100), "<html> <body>");
        assert_eq!(snippet("abcdef", 3), "abc…");
    }
}
