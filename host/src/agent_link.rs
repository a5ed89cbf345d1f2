//! Talking to an agent's HTTP API: over its Unix socket (`unix:/path/agent.sock`) or TCP
//! (`http://127.0.0.1:port`), with the agent's token when the mesh knows it (agents it
//! started itself).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// How to reach one agent.
#[derive(Debug, Clone)]
pub struct AgentLink {
    pub client: reqwest::Client,
    /// The URL prefix of the agent's routes.
    pub base: String,
    pub token: Option<String>,
}

impl AgentLink {
    /// A request to `path` on the agent, with its token.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let req = self.client.request(method, format!("{}{path}", self.base));
        match &self.token {
            Some(t) => req
                .bearer_auth(t)
                .header("x-mesh-internal", "1")
                .header("X-Protocol-Version", "1"),
            None => req
                .header("x-mesh-internal", "1")
                .header("X-Protocol-Version", "1"),
        }
    }
}

/// Clients per agent URL (a Unix-socket client is bound to its socket), and the tokens of
/// the agents this mesh started.
#[derive(Debug, Default)]
pub struct AgentLinks {
    tcp: Mutex<Option<reqwest::Client>>,
    unix: Mutex<HashMap<String, reqwest::Client>>,
    tokens: Mutex<HashMap<String, String>>,
}

impl AgentLinks {
    /// Remembers the token to present to `agent`.
    pub fn set_token(&self, agent: &str, token: String) {
        self.tokens
            .lock()
            .expect("links lock")
            .insert(agent.to_owned(), token);
    }

    pub fn forget(&self, agent: &str) {
        self.tokens.lock().expect("links lock").remove(agent);
    }

    /// The link for `agent` at `url`.
    pub fn link(&self, agent: &str, url: &str) -> AgentLink {
        let token = self.tokens.lock().expect("links lock").get(agent).cloned();
        match url.strip_prefix("unix:") {
            Some(path) => {
                let mut unix = self.unix.lock().expect("links lock");
                let client = unix
                    .entry(path.to_owned())
                    .or_insert_with(|| {
                        crate::http_client::builder()
                            .unix_socket(std::path::PathBuf::from(path))
                            .connect_timeout(Duration::from_secs(5))
                            .build()
                            .expect("a Unix-socket client builds")
                    })
                    .clone();
                AgentLink {
                    client,
                    base: "http://agent".into(),
                    token,
                }
            }
            None => {
                let mut tcp = self.tcp.lock().expect("links lock");
                let client = tcp
                    .get_or_insert_with(|| {
                        crate::http_client::builder()
                            .connect_timeout(Duration::from_secs(5))
                            .build()
                            .expect("an HTTP client builds")
                    })
                    .clone();
                AgentLink {
                    client,
                    base: url.trim_end_matches('/').to_owned(),
                    token,
                }
            }
        }
    }
}
