//! The agent's side of the mesh API: one HTTP client, over TCP loopback or the Unix socket
//! bind-mounted into the sandbox, carrying the agent's bearer token.

use std::time::Duration;

use futures_util::{Stream, StreamExt};
use openlegion_protocol::{ApiProxyRequest, ApiProxyResponse, ProxyEvent};
use reqwest::Method;
use serde_json::{Value, json};

use crate::config::MeshAddr;

/// A failed mesh call.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum MeshClientError {
    /// The mesh answered with an error status; `detail` is its message.
    #[error("{detail} (HTTP {status})")]
    Status { status: u16, detail: String },
    /// The mesh could not be reached, or the connection broke.
    #[error("cannot reach the mesh: {0}")]
    Transport(String),
    /// The mesh answered something we cannot read.
    #[error("unexpected answer from the mesh: {0}")]
    Decode(String),
}

#[derive(Debug, Clone)]
pub struct MeshClient {
    http: reqwest::Client,
    base: String,
    token: String,
}

/// A client builder for the mesh. The agent never speaks TLS (the mesh is a Unix socket or
/// loopback away; the web is the mesh's business), so it trusts no certificate at all, and
/// needs none in its sandbox. reqwest still wants a crypto provider installed.
pub(crate) fn http_builder() -> reqwest::ClientBuilder {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    reqwest::Client::builder().tls_certs_only([])
}

impl MeshClient {
    pub fn new(addr: &MeshAddr, token: &str) -> Self {
        let builder = http_builder().connect_timeout(Duration::from_secs(5));
        let (builder, base) = match addr {
            MeshAddr::Tcp(url) => (builder, url.clone()),
            MeshAddr::Unix(path) => (builder.unix_socket(path.clone()), "http://mesh".to_owned()),
        };
        let http = builder
            .build()
            .expect("an HTTP client with a crypto provider builds");
        Self {
            http,
            base,
            token: token.to_owned(),
        }
    }

    /// Sends a request and returns the JSON answer, or the mesh's `detail` as an error.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        timeout: Duration,
    ) -> Result<Value, MeshClientError> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .timeout(timeout);
        if let Some(body) = body {
            req = req.json(body);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| MeshClientError::Transport(e.to_string()))?;
        let status = resp.status();
        let text = resp
            .text()
            .await
            .map_err(|e| MeshClientError::Transport(e.to_string()))?;
        if !status.is_success() {
            let detail = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v.get("detail").and_then(Value::as_str).map(str::to_owned))
                .unwrap_or(text);
            return Err(MeshClientError::Status {
                status: status.as_u16(),
                detail,
            });
        }
        serde_json::from_str(&text)
            .map_err(|e| MeshClientError::Decode(format!("{e}: {text:.200}")))
    }

    /// A path made of `segments`, each percent-encoded (blackboard keys may hold spaces,
    /// `?` or `%`), with an optional query.
    pub fn path(segments: &[&str], query: &[(&str, &str)]) -> String {
        let mut url = reqwest::Url::parse("http://mesh/").expect("a static URL parses");
        url.path_segments_mut()
            .expect("http URLs have segments")
            .pop_if_empty()
            .extend(segments);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        }
    }

    pub async fn get(&self, path: &str) -> Result<Value, MeshClientError> {
        self.call(Method::GET, path, None, Duration::from_secs(30))
            .await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Result<Value, MeshClientError> {
        self.call(Method::POST, path, Some(body), Duration::from_secs(30))
            .await
    }

    /// Announces the agent and its tools.
    pub async fn register(&self, capabilities: &[String]) -> Result<(), MeshClientError> {
        self.post("/mesh/register", &json!({ "capabilities": capabilities }))
            .await
            .map(drop)
    }

    /// `POST /mesh/api`.
    pub async fn api(
        &self,
        request: &ApiProxyRequest,
    ) -> Result<ApiProxyResponse, MeshClientError> {
        let body = serde_json::to_value(request).expect("requests serialise");
        let timeout = Duration::from_secs(request.timeout + 30);
        let answer = self
            .call(Method::POST, "/mesh/api", Some(&body), timeout)
            .await?;
        serde_json::from_value(answer).map_err(|e| MeshClientError::Decode(e.to_string()))
    }

    /// `POST /mesh/api/stream`: the events of the SSE answer, in order.
    pub async fn api_stream(
        &self,
        request: &ApiProxyRequest,
    ) -> Result<
        impl Stream<Item = Result<ProxyEvent, MeshClientError>> + Send + use<>,
        MeshClientError,
    > {
        let resp = self
            .http
            .post(format!("{}/mesh/api/stream", self.base))
            .bearer_auth(&self.token)
            .timeout(Duration::from_secs(request.timeout + 30))
            .json(request)
            .send()
            .await
            .map_err(|e| MeshClientError::Transport(e.to_string()))?;
        let status = resp.status();
        if !status.is_success() {
            let text = resp.text().await.unwrap_or_default();
            let detail = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v.get("detail").and_then(Value::as_str).map(str::to_owned))
                .unwrap_or(text);
            return Err(MeshClientError::Status {
                status: status.as_u16(),
                detail,
            });
        }
        Ok(
            openlegion_protocol::sse::frame(resp.bytes_stream()).map(|event| match event {
                Ok(event) => serde_json::from_str(&event.data)
                    .map_err(|e| MeshClientError::Decode(e.to_string())),
                Err(e) => Err(MeshClientError::Transport(e.to_string())),
            }),
        )
    }
}
