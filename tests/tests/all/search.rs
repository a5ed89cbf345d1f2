//! `web_search` end to end: an agent's tool call goes through the mesh to a local server
//! that serves saved results pages of DuckDuckGo's HTML endpoint and of Brave Search's
//! API (`search.base_url` points at it), with the permission and SSRF refusals.

use axum::Router;
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use openlegion_mock_llm::{MockLlm, Turn};
use openlegion_tests::{MODEL_NAME, agent_mesh_env, agent_mesh_with};
use serde_json::{Value, json};

use crate::outputs;

const DDG_PAGE: &str = include_str!("../../../host/tests/fixtures/search/duckduckgo.html");
const BRAVE_ANSWER: &str = include_str!("../../../host/tests/fixtures/search/brave.json");
const BRAVE_KEY: &str = "brave-test-key-0123456789";

/// Serves the saved pages; Brave's only with the right key, as the real API does.
async fn provider() -> String {
    let app = Router::new()
        .route(
            "/html/",
            get(|q: axum::extract::RawQuery| async move {
                assert!(q.0.unwrap_or_default().contains("q=rust+programming"));
                Html(DDG_PAGE)
            }),
        )
        .route(
            "/res/v1/web/search",
            get(|headers: HeaderMap| async move {
                if headers
                    .get("x-subscription-token")
                    .and_then(|v| v.to_str().ok())
                    != Some(BRAVE_KEY)
                {
                    return (axum::http::StatusCode::UNAUTHORIZED, "bad key").into_response();
                }
                ([("content-type", "application/json")], BRAVE_ANSWER).into_response()
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

fn search_call(mock: &MockLlm) {
    mock.push_for(
        MODEL_NAME,
        Turn::tool_call(
            "web_search",
            json!({"query": "rust programming language", "max_results": 3}),
        ),
    );
    mock.push_for(MODEL_NAME, Turn::text("searched"));
}

fn perms() -> Value {
    json!({"finder": {"can_use_internet": true}, "offline": {}})
}
const AGENTS: &str = "agents:\n  finder:\n    role: f\n  offline:\n    role: o\n";

#[tokio::test]
async fn web_search_reads_a_duckduckgo_results_page_through_the_mesh() {
    let base = provider().await;
    let mock = MockLlm::start().await;
    let mesh = agent_mesh_with(
        &mock,
        AGENTS,
        perms(),
        &format!(
            "http:\n  allow_private_hosts: [\"127.0.0.1\"]\nsearch:\n  base_url: {base}/html/\n"
        ),
    )
    .await;
    search_call(&mock);
    let out = outputs(&mesh.chat("finder", "Search.").await);
    let found: Value = serde_json::from_str(&out[0]).unwrap_or_else(|e| panic!("{e}: {}", out[0]));
    assert_eq!(found["provider"], "duckduckgo");
    let results = found["results"].as_array().unwrap();
    assert_eq!(results.len(), 3, "{found}");
    assert_eq!(results[0]["url"], "https://www.rust-lang.org/");
    assert_eq!(results[0]["title"], "Rust Programming Language");
    assert!(
        results[1]["snippet"]
            .as_str()
            .unwrap()
            .contains("general-purpose programming")
    );

    // Without can_use_internet the agent has no http capability at all, and the mesh
    // refuses a direct call.
    search_call(&mock);
    let out = outputs(&mesh.chat("offline", "Search.").await);
    assert!(
        out[0].contains("capability 'http' is not granted to skill 'web'"),
        "{}",
        out[0]
    );
    let token = mesh
        .operator()
        .post("/mesh/agents/offline/token", &json!({}))
        .await
        .expect(200);
    let offline = mesh.operator().with_token(token["token"].as_str().unwrap());
    let reply = offline.post("/mesh/search", &json!({"query": "x"})).await;
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert!(reply.detail().contains("can_use_internet is off"));
}

#[tokio::test]
async fn web_search_uses_brave_with_the_key_from_the_vault() {
    let base = provider().await;
    let mock = MockLlm::start().await;
    let mesh = agent_mesh_env(
        &mock,
        AGENTS,
        perms(),
        &format!(
            "http:\n  allow_private_hosts: [\"127.0.0.1\"]\nsearch:\n  provider: brave\n  base_url: {base}/res/v1/web/search\n"
        ),
        vec![(
            "OPENLEGION_CRED_BRAVE_SEARCH_API_KEY".into(),
            BRAVE_KEY.into(),
        )],
    )
    .await;
    search_call(&mock);
    let out = outputs(&mesh.chat("finder", "Search.").await);
    let found: Value = serde_json::from_str(&out[0]).unwrap_or_else(|e| panic!("{e}: {}", out[0]));
    assert_eq!(found["provider"], "brave");
    assert_eq!(found["results"].as_array().unwrap().len(), 3);
    assert_eq!(
        found["results"][0]["snippet"],
        "A language empowering everyone to build reliable and efficient software."
    );
    // The key never reaches the agent.
    assert!(
        !mock
            .requests_for(MODEL_NAME)
            .iter()
            .any(|r| r.body.to_string().contains(BRAVE_KEY))
    );
}

#[tokio::test]
async fn web_search_to_a_private_address_is_refused() {
    let base = provider().await;
    let mock = MockLlm::start().await;
    let mesh = agent_mesh_with(
        &mock,
        AGENTS,
        perms(),
        &format!("search:\n  base_url: {base}/html/\n"),
    )
    .await;
    search_call(&mock);
    let out = outputs(&mesh.chat("finder", "Search.").await);
    assert!(
        out[0].contains("127.0.0.1") && out[0].contains("private or local address; refused"),
        "{}",
        out[0]
    );
}
