//! `POST /mesh/browser`: the browser the mesh runs for its agents, wired to the mesh's
//! rules. The service itself (Chromium, contexts, tabs, request interception) is the
//! `openlegion-browser` crate; this module owns what the mesh decides around it:
//!
//! - who may browse: the agent's `can_use_browser` permission, and its `browser_actions`
//!   (absent or `["*"]`: every action; a list: those; `[]`: none);
//! - where pages may go: [`MeshPolicy`] checks every request a page makes (the navigation,
//!   each redirect hop, each sub-resource) with [`crate::fetch::check_url`], the same
//!   allowlist and SSRF rules as `POST /mesh/http` (`http.allowed_domains`,
//!   `http.allow_private`, `http.allow_private_hosts`);
//! - how pages connect: only through the mesh's proxy ([`crate::browse_proxy`]), started
//!   with the first browser, which checks each connection again and connects to the address
//!   that check approved. Chromium resolves no name itself, so a DNS answer that changes
//!   after the check (rebinding) cannot take a page inward, as `fetch` cannot be.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use openlegion_browser::{BrowserError, BrowserService, BrowserSettings, RequestPolicy};
use openlegion_protocol::{AgentId, BrowserAction, BrowserReply};

use crate::auth::{Caller, Tokens};
use crate::browse_proxy::BrowseProxy;
use crate::config::{BrowserSection, HttpSection};
use crate::mesh::{Mesh, MeshError};
use crate::server::{ApiError, ApiJson};

/// The mesh's HTTP policy, asked for every request a page makes, and the proxy every
/// connection goes through (started when Chromium first is).
#[derive(Debug)]
pub struct MeshPolicy {
    http: HttpSection,
    proxy: OnceLock<Result<BrowseProxy, String>>,
}

impl MeshPolicy {
    pub fn new(http: HttpSection) -> Self {
        Self {
            http,
            proxy: OnceLock::new(),
        }
    }
}

#[async_trait::async_trait]
impl RequestPolicy for MeshPolicy {
    async fn check(&self, url: &str) -> Result<(), String> {
        crate::fetch::check_url(url, &self.http)
            .await
            .map_err(|e| e.to_string())
    }

    /// Called from the browser service as it starts Chromium, inside the mesh's runtime.
    fn proxy(&self) -> Result<Option<String>, String> {
        self.proxy
            .get_or_init(|| {
                BrowseProxy::start(self.http.clone())
                    .map_err(|e| format!("cannot listen on 127.0.0.1: {e}"))
            })
            .as_ref()
            .map(|proxy| Some(proxy.url()))
            .map_err(Clone::clone)
    }

    fn refused_at_connect(&self, url: &str) -> Option<String> {
        let proxy = self.proxy.get()?.as_ref().ok()?;
        proxy.refusals().for_url(url)
    }
}

/// The browser service with the mesh's settings and policy; nothing starts before the
/// first command, and idle contexts are closed by a reaper task.
pub fn service(section: &BrowserSection, http: &HttpSection) -> Arc<BrowserService> {
    let service = Arc::new(BrowserService::new(
        settings(section),
        Arc::new(MeshPolicy::new(http.clone())),
    ));
    service.spawn_reaper();
    service
}

/// The browser's settings from mesh.yaml's `browser:` section, defaults where unset.
fn settings(section: &BrowserSection) -> BrowserSettings {
    let defaults = BrowserSettings::default();
    BrowserSettings {
        executable: section.executable.clone(),
        max_tabs: section.max_tabs.unwrap_or(defaults.max_tabs).max(1),
        idle_timeout: section
            .idle_timeout_seconds
            .map_or(defaults.idle_timeout, Duration::from_secs),
        navigation_timeout: section
            .navigation_timeout_ms
            .map_or(defaults.navigation_timeout, Duration::from_millis),
        action_timeout: section
            .action_timeout_ms
            .map_or(defaults.action_timeout, Duration::from_millis),
    }
}

#[derive(Debug, Clone, FromRef)]
struct BrowseState {
    tokens: Arc<Tokens>,
    mesh: Arc<Mesh>,
    browser: Arc<BrowserService>,
}

/// The route, with its own state, to merge into the mesh's app.
pub fn routes(mesh: Arc<Mesh>, browser: Arc<BrowserService>) -> Router {
    Router::new()
        .route("/mesh/browser", post(run))
        .with_state(BrowseState {
            tokens: Arc::clone(&mesh.tokens),
            mesh,
            browser,
        })
}

/// Whether `caller` may run `action` in a browser.
fn allowed(mesh: &Mesh, caller: &Caller, action: &BrowserAction) -> Result<AgentId, ApiError> {
    let Caller::Agent(agent) = caller else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "Only agents browse (each in its own context)",
        ));
    };
    let perms = mesh.permissions.current().resolve(agent.as_str());
    let forbidden = |target: String| {
        ApiError::from(MeshError::Forbidden {
            agent: agent.to_string(),
            action: "use the browser for",
            target,
        })
    };
    if !perms.can_use_browser {
        return Err(forbidden("anything (can_use_browser is off)".into()));
    }
    if let Some(actions) = &perms.browser_actions
        && !actions.iter().any(|a| a == "*" || a == action.name())
    {
        return Err(forbidden(format!(
            "{} (not in its browser_actions)",
            action.name()
        )));
    }
    Ok(agent.clone())
}

async fn run(
    State(mesh): State<Arc<Mesh>>,
    State(browser): State<Arc<BrowserService>>,
    caller: Caller,
    ApiJson(action): ApiJson<BrowserAction>,
) -> Result<Json<BrowserReply>, ApiError> {
    let agent = allowed(&mesh, &caller, &action)?;
    let name = action.name();
    match browser.run(&agent, action).await {
        Ok(reply) => Ok(Json(reply)),
        Err(e) => {
            tracing::info!(%agent, action = name, error = %e, "browser action failed");
            Err(ApiError::new(status(&e), e.to_string()))
        }
    }
}

fn status(e: &BrowserError) -> StatusCode {
    match e {
        BrowserError::Refused { .. } => StatusCode::FORBIDDEN,
        BrowserError::BadCommand { .. }
        | BrowserError::UnknownRef { .. }
        | BrowserError::NoElement { .. }
        | BrowserError::NoPage
        | BrowserError::TooManyTabs { .. }
        | BrowserError::Script { .. }
        | BrowserError::TooLarge { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        BrowserError::Timeout { .. } => StatusCode::GATEWAY_TIMEOUT,
        BrowserError::NoChromium { .. }
        | BrowserError::Launch { .. }
        | BrowserError::NoProxy { .. } => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_GATEWAY,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each key of `browser:` sets what the browser service runs with (the browser crate's
    /// own tests show the tab bound and the deadlines at work).
    #[test]
    fn browser_section_keys_become_the_settings() {
        let defaults = settings(&BrowserSection::default());
        assert_eq!(defaults.max_tabs, 4);
        assert_eq!(defaults.executable, None);
        let s = settings(&BrowserSection {
            executable: Some("/opt/chromium/chrome".into()),
            max_tabs: Some(0),
            idle_timeout_seconds: Some(60),
            navigation_timeout_ms: Some(3000),
            action_timeout_ms: Some(500),
        });
        assert_eq!(
            s.executable.as_deref(),
            Some(std::path::Path::new("/opt/chromium/chrome"))
        );
        assert_eq!(s.max_tabs, 1, "at least one tab");
        assert_eq!(s.idle_timeout, Duration::from_secs(60));
        assert_eq!(s.navigation_timeout, Duration::from_millis(3000));
        assert_eq!(s.action_timeout, Duration::from_millis(500));
    }
}
