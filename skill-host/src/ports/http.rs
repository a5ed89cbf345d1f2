//! `openlegion:skill/http`: the agent's way out to the network, as the skill host asks for it.
//!
//! The agent implements [`HttpCap`] (forwarding to the mesh, which applies its allowlist and
//! SSRF checks); [`crate::host`] checks the grant and bounds the guest's request first.

use std::time::Duration;

use openlegion_protocol::SearchRequest;

use crate::capability::{Capability, not_granted};

/// The WIT contract: at most 1 MiB of response body reaches the guest.
pub(crate) const MAX_RESPONSE_BODY_BYTES: usize = 1024 * 1024;

/// A request from a skill, checked and bounded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    /// The guest's timeout, defaulted and capped.
    pub timeout: Duration,
}

/// The answer to give the skill. A body over [`MAX_RESPONSE_BODY_BYTES`] is cut by the
/// host (and `truncated` set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub truncated: bool,
}

/// The agent's way out to the network. Every method refuses unless implemented.
#[async_trait::async_trait]
pub trait HttpCap: Send + Sync {
    /// Makes `request` for `skill`. `Err` is the text the skill sees.
    async fn fetch(&self, skill: &str, request: HttpRequest) -> Result<HttpResponse, String> {
        let _ = request;
        Err(not_granted(Capability::Http, skill))
    }

    /// Searches the web with the mesh's provider; `Ok` is the JSON text the skill sees.
    async fn search(&self, skill: &str, request: SearchRequest) -> Result<String, String> {
        let _ = request;
        Err(not_granted(Capability::Http, skill))
    }
}

/// No network at all.
#[derive(Debug, Clone, Copy, Default)]
pub struct DenyHttp;

impl HttpCap for DenyHttp {}
