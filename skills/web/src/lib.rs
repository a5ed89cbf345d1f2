//! The built-in `web` skill: `http_request` and `web_search` (capability `http`).
//!
//! The request is made by the mesh, which applies its allowlist, refuses private and
//! loopback targets, and caps the body at 1 MiB; its refusals come back as tool errors.
//! This crate only maps the original tool's arguments (headers as an object, timeout in
//! seconds) onto the WIT request and the response back into a JSON object.

use std::collections::BTreeMap;

use openlegion_skill_sdk::http::{Request, Response};
use openlegion_skill_sdk::prelude::*;
use openlegion_skill_sdk::serde_json;

// The tests use the SDK's native stand-in for the host, so they run on the host target only.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;

/// Default and largest timeout, in seconds (the mesh's own bounds).
const DEFAULT_TIMEOUT_S: u32 = 30;
const MAX_TIMEOUT_S: u32 = 120;

/// Arguments of `http_request`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct HttpRequest {
    /// The full URL, including http:// or https://.
    url: String,
    /// HTTP method: GET, POST, PUT, PATCH, DELETE or HEAD (default GET).
    #[serde(default = "get")]
    method: String,
    /// Request headers as an object, e.g. {"Accept": "application/json"}.
    #[serde(default)]
    headers: BTreeMap<String, String>,
    /// Request body as text. A JSON object or array is also accepted and sent as JSON.
    #[serde(default, deserialize_with = "body_text")]
    #[schemars(with = "Option<String>")]
    body: Option<Body>,
    /// Timeout in seconds (default 30, at most 120).
    timeout: Option<u32>,
}

fn get() -> String {
    "GET".into()
}

/// A body as the model sent it: text is sent as is, structured JSON is encoded.
#[derive(Debug)]
enum Body {
    Text(String),
    Json(String),
}

fn body_text<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Option<Body>, D::Error> {
    Ok(match Value::deserialize(de)? {
        Value::Null => None,
        Value::String(text) => Some(Body::Text(text)),
        other => Some(Body::Json(other.to_string())),
    })
}

fn http_request(args: HttpRequest) -> Result<Value, String> {
    let request = build_request(args);
    log::debug(format!("http_request {} {}", request.method, request.url));
    let response = request.send()?;
    Ok(shape_response(response))
}

fn build_request(args: HttpRequest) -> Request {
    let timeout_s = args
        .timeout
        .unwrap_or(DEFAULT_TIMEOUT_S)
        .clamp(1, MAX_TIMEOUT_S);
    let mut request =
        Request::new(args.method.to_ascii_uppercase(), args.url).with_timeout_ms(timeout_s * 1000);
    let mut has_content_type = false;
    for (name, value) in args.headers {
        has_content_type |= name.eq_ignore_ascii_case("content-type");
        request = request.with_header(name, value);
    }
    match args.body {
        None => {}
        Some(Body::Text(text)) => request = request.with_body(text),
        Some(Body::Json(json)) => {
            if !has_content_type {
                request = request.with_header("Content-Type", "application/json");
            }
            request = request.with_body(json);
        }
    }
    request
}

/// The response as the model sees it; repeated headers are joined with ", ".
fn shape_response(response: Response) -> Value {
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in response.headers {
        headers
            .entry(name)
            .and_modify(|v| {
                v.push_str(", ");
                v.push_str(&value);
            })
            .or_insert(value);
    }
    json!({
        "status": response.status,
        "headers": headers,
        "body": response.body,
        "truncated": response.truncated,
    })
}

/// Arguments of `web_search`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct WebSearch {
    /// What to search for, as you would type it into a search engine.
    query: String,
    /// How many results (default 5, at most 20).
    max_results: Option<u32>,
}

fn web_search(args: WebSearch) -> Result<Value, String> {
    let answer = http::search(&args.query, args.max_results.unwrap_or(0))?;
    serde_json::from_str(&answer)
        .map_err(|e| format!("the mesh sent search results this skill cannot read: {e}"))
}

openlegion_skill_sdk::skill! {
    http_request: "Make an HTTP request to a public URL: call a web API or download a page. \
        Returns {\"status\", \"headers\", \"body\", \"truncated\"}; an HTTP error status such \
        as 404 is a normal result, check status. The body is text, cut at 1 MiB \
        (truncated=true then). Requests go through the mesh: private, internal and loopback \
        addresses are refused, and so are hosts outside its allowlist. You hold no \
        credentials, so do not expect authenticated APIs to work unless the mesh adds them. \
        Default timeout 30 s, at most 120 s."
        => http_request,
    web_search: "Search the web and get the top results, each {\"title\", \"url\", \
        \"snippet\"}. Use it to find pages, then read one with http_request or \
        browser_navigate. Returns {\"provider\", \"query\", \"results\"}; results are \
        the search engine's, the pages themselves are not fetched."
        => web_search,
}
