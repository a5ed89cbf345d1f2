//! The operator's HTTP client: finds the running mesh through the state directory (its
//! address and this run's operator token) and turns error bodies into messages.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use openlegion_mesh::config::Config;
use openlegion_mesh::state_dir::StateDir;
use reqwest::{Method, Url};
use serde_json::Value;

/// The mesh answered with an error status; callers that act on an outcome (404: no such
/// agent) match `status`, not the message.
#[derive(Debug, thiserror::Error)]
#[error("{detail} (HTTP {status})")]
pub(crate) struct MeshRefused {
    pub(crate) status: u16,
    pub(crate) detail: String,
}

#[derive(Debug, Clone)]
pub(crate) struct OperatorClient {
    base: Url,
    token: String,
    http: reqwest::Client,
}

impl OperatorClient {
    /// The client for the mesh of `config`, or `None` if no mesh is running there.
    pub(crate) fn for_config(config: &Config) -> Result<Option<Self>> {
        let state = StateDir::new(config.state_dir());
        if !state.is_locked() {
            return Ok(None);
        }
        let base = StateDir::read_trimmed(&state.addr_file()).with_context(|| {
            format!(
                "the mesh is starting or its address file is missing ({})",
                state.addr_file().display()
            )
        })?;
        let token = StateDir::read_trimmed(&state.operator_token_file()).with_context(|| {
            format!(
                "cannot read the operator token {}",
                state.operator_token_file().display()
            )
        })?;
        let http = openlegion_mesh::http_client::builder()
            .timeout(Duration::from_secs(60))
            .build()?;
        Ok(Some(Self {
            base: Url::parse(&base).with_context(|| format!("bad mesh address {base:?}"))?,
            token,
            http,
        }))
    }

    /// A client for a mesh at `base` with `token` (the REPL of a mesh in this process).
    pub(crate) fn new(base: &str, token: &str) -> Result<Self> {
        let http = openlegion_mesh::http_client::builder().build()?;
        Ok(Self {
            base: Url::parse(base)?,
            token: token.to_owned(),
            http,
        })
    }

    /// Like [`for_config`](Self::for_config), but not running is an error.
    pub(crate) fn require(config_dir: &Path) -> Result<Self> {
        let config = Config::load(config_dir)?;
        Self::for_config(&config)?.with_context(|| {
            format!(
                "the mesh is not running (start it with `openlegion --config {} start -d`)",
                config.dir.display()
            )
        })
    }

    /// `path` under the mesh's base URL, with each of `segments` percent-encoded.
    pub(crate) fn url(&self, path: &str, segments: &[&str]) -> Url {
        let mut url = self.base.join(path).expect("a static path joins");
        if !segments.is_empty() {
            url.path_segments_mut()
                .expect("http URLs have segments")
                .pop_if_empty()
                .extend(segments);
        }
        url
    }

    pub(crate) async fn call(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
    ) -> Result<Value> {
        let mut req = self
            .http
            .request(method.clone(), url.clone())
            .bearer_auth(&self.token);
        if let Some(body) = body {
            req = req.json(body);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("{method} {url}"))?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        let json: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if !status.is_success() {
            let detail = json.get("detail").map_or_else(
                || json.to_string(),
                |d| d.as_str().map_or_else(|| d.to_string(), str::to_owned),
            );
            return Err(MeshRefused {
                status: status.as_u16(),
                detail,
            }
            .into());
        }
        Ok(json)
    }

    /// POSTs `body` and returns the response unread, for streamed answers.
    pub(crate) async fn post_stream(&self, path: &str, body: &Value) -> Result<reqwest::Response> {
        let url = self.url(path, &[]);
        let resp = self
            .http
            .post(url.clone())
            .bearer_auth(&self.token)
            .timeout(Duration::from_secs(3600))
            .json(body)
            .send()
            .await
            .with_context(|| format!("POST {url}"))?;
        if !resp.status().is_success() {
            let status = resp.status().as_u16();
            let text = resp.text().await.unwrap_or_default();
            let detail = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v["detail"].as_str().map(str::to_owned))
                .unwrap_or(text);
            return Err(MeshRefused { status, detail }.into());
        }
        Ok(resp)
    }

    pub(crate) async fn get(&self, path: &str) -> Result<Value> {
        self.call(Method::GET, self.url(path, &[]), None).await
    }

    pub(crate) async fn post(&self, path: &str, body: &Value) -> Result<Value> {
        self.call(Method::POST, self.url(path, &[]), Some(body))
            .await
    }
}
