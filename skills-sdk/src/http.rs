//! HTTP through the mesh (the `http` interface; needs the `http` capability).
//!
//! The mesh makes the request on the agent's behalf after its allowlist and SSRF checks,
//! so a skill never holds credentials or opens sockets. Bodies are text: responses are cut
//! at 1 MiB (`truncated` says so), timeouts default to 30 s and are capped at 120 s.

use serde::de::DeserializeOwned;

use crate::imports::http as host;

pub use crate::bindings::openlegion::skill::http::{Request, Response};

/// Sends `request`. `Err` is a refusal or a transport failure; an HTTP error status is an
/// `Ok` response.
pub fn fetch(request: &Request) -> Result<Response, String> {
    host::fetch(request)
}

/// Searches the web with the mesh's search provider; `limit` 0 means 5, at most 20.
/// `Ok` is JSON text: `{"provider", "query", "results": [{"title", "url", "snippet"}]}`.
pub fn search(query: &str, limit: u32) -> Result<String, String> {
    host::search(query, limit)
}

/// `GET url` with no headers and the default timeout.
pub fn get(url: &str) -> Result<Response, String> {
    Request::new("GET", url).send()
}

impl Request {
    /// A request with no headers, no body and the default timeout.
    pub fn new(method: impl Into<String>, url: impl Into<String>) -> Self {
        Self {
            method: method.into(),
            url: url.into(),
            headers: Vec::new(),
            body: None,
            timeout_ms: None,
        }
    }

    /// Adds a header (repeated names are sent as repeated headers).
    #[must_use]
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body.
    #[must_use]
    pub fn with_body(mut self, body: impl Into<String>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// Sets the timeout (the host caps it at 120 s).
    #[must_use]
    pub fn with_timeout_ms(mut self, timeout_ms: u32) -> Self {
        self.timeout_ms = Some(timeout_ms);
        self
    }

    /// Sends the request: [`fetch`]`(self)`.
    pub fn send(&self) -> Result<Response, String> {
        fetch(self)
    }
}

impl Response {
    /// The first header called `name`, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// Parses the body as JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, String> {
        if self.truncated {
            return Err("the response body was truncated at 1 MiB; it is not complete JSON".into());
        }
        serde_json::from_str(&self.body)
            .map_err(|e| format!("the response body is not the expected JSON: {e}"))
    }
}
