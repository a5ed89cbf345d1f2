//! `POST /mesh/search`: web search for agents (`web_search`), made by the mesh so that a
//! provider's key never leaves it and the agent's sandbox needs no network.
//!
//! The provider is `search.provider` of mesh.yaml: DuckDuckGo's HTML endpoint (no key, the
//! default) or Brave Search (key `OPENLEGION_CRED_BRAVE_SEARCH_API_KEY` from the vault);
//! `search.base_url` points either at another endpoint (a mirror, a test server). Pages are
//! parsed with a real HTML parser. The request goes out through [`crate::fetch`] under the
//! mesh's SSRF rules (no private or local address unless `http.allow_private` or
//! `http.allow_private_hosts` says so; each redirect checked); the provider is the
//! operator's choice, so `http.allowed_domains` does not apply to it. Callers need the
//! `can_use_internet` permission. Titles and snippets are cut to their bounds.

mod brave;
mod duckduckgo;

use std::sync::Arc;

use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use openlegion_protocol::{
    FetchRequest, MAX_SEARCH_SNIPPET_CHARS, MAX_SEARCH_TITLE_CHARS, SearchRequest, SearchResult,
    SearchResults,
};

use crate::auth::{Caller, Tokens};
use crate::config::{HttpSection, SearchProvider, SearchSection};
use crate::mesh::{Mesh, MeshError};
use crate::server::{ApiError, ApiJson};
use crate::vault::Vault;

/// Default deadline of one search.
const DEFAULT_TIMEOUT_MS: u64 = 15_000;
/// Largest results page read (DuckDuckGo's are ~30-100 KiB).
const MAX_PAGE_KB: u32 = 2048;

/// The configured search: provider, endpoint, key and the policy requests go out under.
#[derive(Debug)]
pub struct Search {
    provider: SearchProvider,
    base_url: Option<String>,
    timeout_ms: u64,
    policy: HttpSection,
    key: Option<String>,
}

impl Search {
    pub fn new(section: &SearchSection, http: &HttpSection, vault: &Vault) -> Self {
        let policy = HttpSection {
            // The provider is the operator's choice, not the agent's.
            allowed_domains: Vec::new(),
            max_body_kb: Some(MAX_PAGE_KB),
            ..http.clone()
        };
        Self {
            provider: section.provider,
            base_url: section.base_url.clone(),
            timeout_ms: section.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS),
            policy,
            key: vault.get(brave::CREDENTIAL).map(|s| s.expose().to_owned()),
        }
    }

    fn provider_name(&self) -> &'static str {
        match self.provider {
            SearchProvider::Duckduckgo => "duckduckgo",
            SearchProvider::Brave => "brave",
        }
    }

    /// Runs `request` against the provider. `Err` is a message for the agent.
    pub async fn search(&self, request: &SearchRequest) -> Result<SearchResults, ApiError> {
        request
            .check()
            .map_err(|p| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, p))?;
        let wanted = request.wanted();
        let bad_config = |p: String| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, p);
        let (url, headers) = match self.provider {
            SearchProvider::Duckduckgo => {
                let base = self.base_url.as_deref().unwrap_or(duckduckgo::DEFAULT_URL);
                (
                    duckduckgo::request_url(base, &request.query).map_err(bad_config)?,
                    vec![("Accept".to_owned(), "text/html".to_owned())],
                )
            }
            SearchProvider::Brave => {
                let key = self.key.clone().ok_or_else(|| {
                    bad_config(
                        "search.provider is brave but the vault has no key \
                         (set OPENLEGION_CRED_BRAVE_SEARCH_API_KEY)"
                            .into(),
                    )
                })?;
                let base = self.base_url.as_deref().unwrap_or(brave::DEFAULT_URL);
                (
                    brave::request_url(base, &request.query, wanted).map_err(bad_config)?,
                    vec![
                        ("Accept".to_owned(), "application/json".to_owned()),
                        (brave::KEY_HEADER.to_owned(), key),
                    ],
                )
            }
        };
        let fetched = crate::fetch::fetch(
            FetchRequest {
                method: "GET".into(),
                url: url.to_string(),
                headers,
                body: None,
                timeout_ms: Some(self.timeout_ms),
            },
            &self.policy,
        )
        .await
        .map_err(|e| ApiError::from(MeshError::from(e)))?;
        let failed = |problem: String| {
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                format!("the search provider ({}) {problem}", self.provider_name()),
            )
        };
        if fetched.status != 200 {
            return Err(failed(format!("answered HTTP {}", fetched.status)));
        }
        let results = match self.provider {
            SearchProvider::Duckduckgo => duckduckgo::parse(&fetched.body, wanted),
            SearchProvider::Brave => brave::parse(&fetched.body, wanted).map_err(failed)?,
        };
        Ok(SearchResults {
            provider: self.provider_name().into(),
            query: request.query.clone(),
            results: results.into_iter().map(bounded).collect(),
        })
    }
}

fn bounded(mut r: SearchResult) -> SearchResult {
    r.title = cut(&r.title, MAX_SEARCH_TITLE_CHARS);
    r.snippet = cut(&r.snippet, MAX_SEARCH_SNIPPET_CHARS);
    r
}

fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

#[derive(Debug, Clone, FromRef)]
struct SearchState {
    tokens: Arc<Tokens>,
    mesh: Arc<Mesh>,
    search: Arc<Search>,
}

/// The route, with its own state, to merge into the mesh's app.
pub fn routes(mesh: Arc<Mesh>, search: Arc<Search>) -> Router {
    Router::new()
        .route("/mesh/search", post(run))
        .with_state(SearchState {
            tokens: Arc::clone(&mesh.tokens),
            mesh,
            search,
        })
}

async fn run(
    State(mesh): State<Arc<Mesh>>,
    State(search): State<Arc<Search>>,
    caller: Caller,
    ApiJson(request): ApiJson<SearchRequest>,
) -> Result<Json<SearchResults>, ApiError> {
    let allowed = caller.is_operator()
        || mesh
            .permissions
            .current()
            .resolve(caller.id())
            .can_use_internet;
    if !allowed {
        return Err(MeshError::Forbidden {
            agent: caller.id().into(),
            action: "search the web for",
            target: format!("{:?} (can_use_internet is off)", request.query),
        }
        .into());
    }
    Ok(Json(search.search(&request).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `search.timeout_ms` bounds a provider that never answers.
    #[tokio::test]
    async fn a_silent_provider_fails_the_search_after_timeout_ms() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // Accepts and holds each connection without a byte of answer.
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((conn, _)) = listener.accept().await {
                held.push(conn);
            }
        });
        let vault = Vault::load(std::path::Path::new("/nonexistent/.env"), []).unwrap();
        let http = HttpSection {
            allow_private_hosts: vec!["127.0.0.1".into()],
            ..HttpSection::default()
        };
        let section = SearchSection {
            base_url: Some(format!("http://{addr}/html/")),
            timeout_ms: Some(300),
            ..SearchSection::default()
        };
        let search = Search::new(&section, &http, &vault);
        let request = SearchRequest {
            query: "rust".into(),
            limit: 0,
        };
        let started = std::time::Instant::now();
        let e = search.search(&request).await.unwrap_err();
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
        assert!(e.detail.contains("failed"), "{}", e.detail);
    }

    #[test]
    fn long_titles_and_snippets_are_cut() {
        let r = bounded(SearchResult {
            title: "t".repeat(400),
            url: "https://a.example/".into(),
            snippet: "é".repeat(700),
        });
        assert_eq!(r.title.chars().count(), MAX_SEARCH_TITLE_CHARS + 1);
        assert_eq!(r.snippet.chars().count(), MAX_SEARCH_SNIPPET_CHARS + 1);
    }
}
