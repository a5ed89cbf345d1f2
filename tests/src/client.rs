//! A small JSON-over-HTTP client with a bearer token, for talking to the mesh as an agent
//! or as the operator.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;

/// An HTTP status and the JSON body (or the raw text as a JSON string).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
}

impl Reply {
    /// Panics unless the status is `expected`; returns the body.
    #[track_caller]
    pub fn expect(self, expected: u16) -> Value {
        assert_eq!(
            self.status.as_u16(),
            expected,
            "unexpected status; body: {}",
            self.body
        );
        self.body
    }

    /// The `detail` of an error body.
    pub fn detail(&self) -> &str {
        self.body["detail"].as_str().unwrap_or_default()
    }
}

#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Client {
    pub fn new(base: &str, token: Option<&str>) -> Self {
        let http = openlegion_mesh::http_client::builder()
            .timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(64)
            .build()
            .expect("build an HTTP client");
        Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            token: token.map(str::to_owned),
        }
    }

    /// The same client, waiting up to `timeout` for each answer (30 s by default).
    pub fn with_timeout(&self, timeout: Duration) -> Self {
        let http = openlegion_mesh::http_client::builder()
            .timeout(timeout)
            .build()
            .expect("build an HTTP client");
        Self {
            http,
            base: self.base.clone(),
            token: self.token.clone(),
        }
    }

    pub fn with_token(&self, token: &str) -> Self {
        Self {
            http: self.http.clone(),
            base: self.base.clone(),
            token: Some(token.to_owned()),
        }
    }

    pub fn without_token(&self) -> Self {
        Self {
            http: self.http.clone(),
            base: self.base.clone(),
            token: None,
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// Sends `method path` (path includes any query) with an optional JSON body.
    pub async fn send(&self, method: Method, path: &str, body: Option<&Value>) -> Reply {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        let resp = req.send().await.expect("request reaches the server");
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Reply { status, body }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.send(Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Reply {
        self.send(Method::PUT, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.send(Method::DELETE, path, None).await
    }
}
