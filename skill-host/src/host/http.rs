//! `openlegion:skill/http`: requests made by the mesh on the agent's behalf.
//!
//! This crate only checks the grant and bounds the request; the agent's [`HttpCap`]
//! forwards it to the mesh, which applies its allowlist and SSRF checks.

use std::time::Duration;

use openlegion_protocol::SearchRequest;

use crate::bindings::openlegion::skill::http::{Host, Request, Response};
use crate::call_state::CallState;
use crate::capability::Capability;
use crate::host::{bounded, truncate_at_char};
use crate::ports::http::{HttpRequest, MAX_RESPONSE_BODY_BYTES};

/// Longest URL, method, header list and request body a guest may send. The WIT leaves
/// them open; these are far above any real request and far below the agent's memory.
const MAX_URL_BYTES: usize = 8 * 1024;
const MAX_METHOD_BYTES: usize = 16;
const MAX_HEADERS: usize = 64;
const MAX_HEADER_BYTES: usize = 8 * 1024;
const MAX_BODY_BYTES: usize = 1024 * 1024;
/// The WIT contract: 30 s by default, at most 120 s.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const MAX_TIMEOUT: Duration = Duration::from_secs(120);

impl Host for CallState {
    async fn fetch(&mut self, request: Request) -> Result<Response, String> {
        self.skill.check(Capability::Http)?;
        let request = checked(request)?;
        let http = self.skill.caps.http.clone();
        let mut response = http.fetch(&self.skill.name, request).await?;
        if truncate_at_char(&mut response.body, MAX_RESPONSE_BODY_BYTES) {
            response.truncated = true;
        }
        Ok(Response {
            status: response.status,
            headers: response.headers,
            body: response.body,
            truncated: response.truncated,
        })
    }

    async fn search(&mut self, query: String, limit: u32) -> Result<String, String> {
        self.skill.check(Capability::Http)?;
        let request = SearchRequest { query, limit };
        request.check()?;
        let http = self.skill.caps.http.clone();
        http.search(&self.skill.name, request).await
    }
}

fn checked(request: Request) -> Result<HttpRequest, String> {
    bounded("method", &request.method, MAX_METHOD_BYTES)?;
    bounded("url", &request.url, MAX_URL_BYTES)?;
    if request.headers.len() > MAX_HEADERS {
        return Err(format!(
            "{} headers, more than the {MAX_HEADERS} allowed",
            request.headers.len()
        ));
    }
    for (name, value) in &request.headers {
        bounded("header name", name, MAX_HEADER_BYTES)?;
        bounded("header value", value, MAX_HEADER_BYTES)?;
    }
    if let Some(body) = &request.body {
        bounded("body", body, MAX_BODY_BYTES)?;
    }
    let timeout = request
        .timeout_ms
        .map_or(DEFAULT_TIMEOUT, |ms| Duration::from_millis(ms.into()))
        .min(MAX_TIMEOUT);
    Ok(HttpRequest {
        method: request.method,
        url: request.url,
        headers: request.headers,
        body: request.body,
        timeout,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(timeout_ms: Option<u32>) -> Request {
        Request {
            method: "GET".into(),
            url: "https://example.com/".into(),
            headers: vec![],
            body: None,
            timeout_ms,
        }
    }

    #[test]
    fn timeouts_default_to_30s_and_stop_at_120s() {
        assert_eq!(
            checked(request(None)).unwrap().timeout,
            Duration::from_secs(30)
        );
        assert_eq!(
            checked(request(Some(500_000))).unwrap().timeout,
            Duration::from_secs(120)
        );
        assert_eq!(
            checked(request(Some(250))).unwrap().timeout,
            Duration::from_millis(250)
        );
    }

    #[test]
    fn oversized_parts_are_refused() {
        let mut long_url = request(None);
        long_url.url = "x".repeat(MAX_URL_BYTES + 1);
        assert_eq!(
            checked(long_url).unwrap_err(),
            "url is 8193 bytes, more than the 8192 allowed"
        );
    }
}
