//! The agent's side of the mesh API: one HTTP client, over TCP loopback or the Unix socket
//! bind-mounted into the sandbox, carrying the agent's bearer token.

use std::time::Duration;

use backon::{ConstantBuilder, Retryable};
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
    Status {
        status: u16,
        detail: String,
        /// A 429's `Retry-After`, in seconds.
        retry_after: Option<u64>,
    },
    /// The mesh could not be reached, or the connection broke.
    #[error("cannot reach the mesh: {0}")]
    Transport(String),
    /// The mesh answered something we cannot read.
    #[error("unexpected answer from the mesh: {0}")]
    Decode(String),
}

impl MeshClientError {
    /// How long the mesh asks us to wait, when it refused the call for being over a rate
    /// limit and the wait is short enough to sit out here.
    fn short_rate_wait(&self) -> Option<Duration> {
        match self {
            MeshClientError::Status {
                status: 429,
                retry_after: Some(secs),
                ..
            } if Duration::from_secs(*secs) <= MAX_RATE_WAIT => Some(Duration::from_secs(*secs)),
            _ => None,
        }
    }
}

/// The longest `Retry-After` the agent waits out itself, and how many times: past that, the
/// limit is reported (to the model as the tool's error, or as the turn's failure) rather
/// than sat out, so a rate-limited agent neither fails at once nor spins.
const MAX_RATE_WAIT: Duration = Duration::from_secs(5);
const RATE_RETRIES: usize = 2;

/// Retries `op` while the mesh answers 429 with a short `Retry-After`, waiting that long.
async fn honouring_rate_limits<T, F, Fut>(op: F) -> Result<T, MeshClientError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, MeshClientError>>,
{
    op.retry(
        ConstantBuilder::default()
            .with_delay(Duration::from_secs(1))
            .with_max_times(RATE_RETRIES),
    )
    .when(|e: &MeshClientError| e.short_rate_wait().is_some())
    .adjust(|e: &MeshClientError, next| next.and(e.short_rate_wait()))
    .notify(|e, wait| tracing::info!(error = %e, ?wait, "over a mesh rate limit; waiting"))
    .await
}

/// The error of a non-success answer: the mesh's `detail` and, for a 429, `Retry-After`.
fn status_error(
    status: reqwest::StatusCode,
    retry_after: Option<u64>,
    text: String,
) -> MeshClientError {
    let detail = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| v.get("detail").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or(text);
    MeshClientError::Status {
        status: status.as_u16(),
        detail,
        retry_after: retry_after.filter(|_| status == reqwest::StatusCode::TOO_MANY_REQUESTS),
    }
}

fn retry_after(resp: &reqwest::Response) -> Option<u64> {
    resp.headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
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

    /// Sends a request and returns the JSON answer, or the mesh's `detail` as an error. A
    /// short rate limit is waited out (see [`MAX_RATE_WAIT`]).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        timeout: Duration,
    ) -> Result<Value, MeshClientError> {
        honouring_rate_limits(|| self.call_once(method.clone(), path, body, timeout)).await
    }

    async fn call_once(
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
        let wait = retry_after(&resp);
        let text = resp
            .text()
            .await
            .map_err(|e| MeshClientError::Transport(e.to_string()))?;
        if !status.is_success() {
            return Err(status_error(status, wait, text));
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

    /// `POST /mesh/api/stream`: the events of the SSE answer, in order. A short rate limit
    /// is waited out before the stream opens.
    pub async fn api_stream(
        &self,
        request: &ApiProxyRequest,
    ) -> Result<
        impl Stream<Item = Result<ProxyEvent, MeshClientError>> + Send + use<>,
        MeshClientError,
    > {
        let resp = honouring_rate_limits(|| self.open_stream(request)).await?;
        Ok(
            openlegion_protocol::sse::frame(resp.bytes_stream()).map(|event| match event {
                Ok(event) => serde_json::from_str(&event.data)
                    .map_err(|e| MeshClientError::Decode(e.to_string())),
                Err(e) => Err(MeshClientError::Transport(e.to_string())),
            }),
        )
    }

    async fn open_stream(
        &self,
        request: &ApiProxyRequest,
    ) -> Result<reqwest::Response, MeshClientError> {
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
            let wait = retry_after(&resp);
            let text = resp.text().await.unwrap_or_default();
            return Err(status_error(status, wait, text));
        }
        Ok(resp)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Instant;

    use axum::http::{HeaderMap, StatusCode};

    use super::*;

    /// A mesh that refuses the first `refusals` calls with 429 and `Retry-After: wait`.
    async fn limited_mesh(refusals: u32, wait: u64) -> (MeshClient, Arc<AtomicU32>) {
        let calls = Arc::new(AtomicU32::new(0));
        let seen = Arc::clone(&calls);
        let app = axum::Router::new().route(
            "/mesh/publish",
            axum::routing::post(move || {
                let n = seen.fetch_add(1, Ordering::SeqCst);
                async move {
                    let mut headers = HeaderMap::new();
                    if n < refusals {
                        headers.insert("retry-after", wait.into());
                        let body = r#"{"detail": "agent a is over its rate limit of publishes"}"#;
                        (StatusCode::TOO_MANY_REQUESTS, headers, body)
                    } else {
                        (StatusCode::OK, headers, r#"{"ok": true}"#)
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (MeshClient::new(&MeshAddr::Tcp(url), "t"), calls)
    }

    #[tokio::test]
    async fn a_short_retry_after_is_waited_out() {
        let (mesh, calls) = limited_mesh(1, 1).await;
        let started = Instant::now();
        let answer = mesh.post("/mesh/publish", &json!({})).await.unwrap();
        assert_eq!(answer["ok"], true);
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert!(started.elapsed() >= Duration::from_millis(900));
    }

    #[tokio::test]
    async fn a_long_or_lasting_limit_is_reported_not_waited_for() {
        let (mesh, calls) = limited_mesh(u32::MAX, 60).await;
        let e = mesh.post("/mesh/publish", &json!({})).await.unwrap_err();
        assert!(
            matches!(&e, MeshClientError::Status { status: 429, retry_after: Some(60), detail } if detail.contains("publishes")),
            "{e:?}"
        );
        assert_eq!(calls.load(Ordering::SeqCst), 1, "no retry of a 60 s wait");
        let (mesh, calls) = limited_mesh(u32::MAX, 1).await;
        assert!(mesh.post("/mesh/publish", &json!({})).await.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1 + RATE_RETRIES as u32);
    }
}
