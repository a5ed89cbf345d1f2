//! The browser tools end to end: real agents (on the process backend, and in a Docker
//! container) calling `browser_*` through the mock LLM, the mesh driving a real Chromium
//! against pages of a local server, with the mesh's permission and SSRF checks on the
//! navigation, on redirects and on sub-resources.

use axum::Router;
use axum::response::{Html, Redirect};
use axum::routing::get;
use openlegion_mock_llm::{MockLlm, Turn};
use openlegion_tests::{MODEL_NAME, MeshProcess, agent_mesh_with, skip};
use serde_json::{Value, json};

use crate::outputs;

/// Whether a Chromium is installed (the mesh's browser needs one); a loud, counted skip
/// where it is not (never in CI).
pub(crate) fn chromium_present(test: &str) -> bool {
    let found = ["chromium", "chromium-browser"].iter().any(|name| {
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
            .any(|dir| dir.join(name).is_file())
    });
    if !found {
        skip(test, "no Chromium", "apt-get install chromium");
    }
    found
}

/// A local site: a page with a link, a form, a redirect to the cloud metadata address, a
/// page with an image on a private address, and a title for scripts.
pub(crate) async fn site() -> String {
    let app = Router::new()
        .route(
            "/links",
            get(|| async {
                Html(
                    "<html><head><title>Links page</title></head><body><h1>Links</h1>\
                      <a href=\"/next\">Next page</a></body></html>",
                )
            }),
        )
        .route("/next", get(|| async { Html("<p>You reached next</p>") }))
        .route(
            "/form",
            get(|| async {
                Html(
                    "<form action=\"/done\"><input id=\"name\" name=\"name\" \
                      aria-label=\"Name\"><button>Go</button></form>",
                )
            }),
        )
        .route(
            "/done",
            get(|q: axum::extract::RawQuery| async move {
                Html(format!("<p>submitted {}</p>", q.0.unwrap_or_default()))
            }),
        )
        .route(
            "/private",
            get(|| async { Redirect::temporary("http://169.254.169.254/latest/meta-data") }),
        )
        .route(
            "/sub",
            get(|| async { Html("<p>with image</p><img src=\"http://10.0.0.1/x.png\">") }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

/// The mesh's SSRF rules stay on; only the local test server's address is exempt.
pub(crate) const HTTP: &str = "http:\n  allow_private_hosts: [\"127.0.0.1\"]\n";

fn json_of(output: &str) -> Value {
    serde_json::from_str(output).unwrap_or_else(|e| panic!("{e}: {output}"))
}

/// Runs the browser tools in order through `agent`'s chat, one scripted call each; returns
/// their outputs.
pub(crate) async fn browse(
    mesh: &MeshProcess,
    mock: &MockLlm,
    agent: &str,
    calls: &[(&str, Value)],
) -> Vec<String> {
    for (tool, args) in calls {
        mock.push_for(MODEL_NAME, Turn::tool_call(*tool, args.clone()));
    }
    mock.push_for(MODEL_NAME, Turn::text("done browsing"));
    let reply = mesh.chat(agent, "Browse.").await;
    assert_eq!(reply["response"], "done browsing", "{reply}");
    outputs(&reply)
}

/// Navigate, snapshot, click by ref, type and submit, screenshot, evaluate: each answer
/// checked, the screenshot found in the agent's artifacts and on the blackboard.
pub(crate) async fn the_six_tools(mesh: &MeshProcess, mock: &MockLlm, agent: &str, base: &str) {
    let out = browse(
        mesh,
        mock,
        agent,
        &[
            ("browser_navigate", json!({"url": format!("{base}/links")})),
            ("browser_snapshot", json!({})),
        ],
    )
    .await;
    let page = json_of(&out[0]);
    assert_eq!(page["title"], "Links page", "{page}");
    assert!(
        page["text"].as_str().unwrap().contains("Next page"),
        "{page}"
    );
    let tree = json_of(&out[1]);
    let text = tree["text"].as_str().unwrap();
    let line = text
        .lines()
        .find(|l| l.contains("link") && l.contains("Next page"))
        .unwrap_or_else(|| panic!("no link in the snapshot:\n{text}"));
    let reference = line
        .split(['[', ']'])
        .find(|p| p.starts_with('e') && p[1..].chars().all(|c| c.is_ascii_digit()))
        .unwrap_or_else(|| panic!("no ref in {line:?}"));

    let out = browse(
        mesh,
        mock,
        agent,
        &[
            ("browser_click", json!({"target": reference})),
            ("browser_navigate", json!({"url": format!("{base}/form")})),
            (
                "browser_type",
                json!({"target": "#name", "text": "Ada", "submit": true}),
            ),
            ("browser_screenshot", json!({"name": "done"})),
            (
                "browser_evaluate",
                json!({"script": "document.body.innerText"}),
            ),
        ],
    )
    .await;
    assert!(
        json_of(&out[0])["url"].as_str().unwrap().ends_with("/next"),
        "{}",
        out[0]
    );
    assert!(
        json_of(&out[2])["url"]
            .as_str()
            .unwrap()
            .contains("/done?name=Ada"),
        "{}",
        out[2]
    );
    let shot = json_of(&out[3]);
    assert_eq!(shot["path"], "artifacts/done.png", "{shot}");
    assert!(shot["bytes"].as_u64().unwrap() > 100, "{shot}");
    assert_eq!(shot["registered"], format!("artifacts/{agent}/done.png"));
    assert_eq!(
        json_of(&out[4])["result"],
        "submitted name=Ada",
        "{}",
        out[4]
    );

    // Registered, and the PNG itself through the mesh (whatever the agent's backend).
    let entry = mesh
        .operator()
        .get(&format!("/mesh/blackboard/artifacts/{agent}/done.png"))
        .await
        .expect(200);
    assert_eq!(entry["value"]["mime"], "image/png", "{entry}");
    assert_eq!(entry["written_by"], agent);
    let png = mesh
        .operator()
        .http()
        .get(format!("{}/mesh/artifacts/{agent}/done.png", mesh.url()))
        .bearer_auth(mesh.operator().token().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(png.status(), 200);
    let bytes = png.bytes().await.unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(entry["value"]["size"], bytes.len());
}

#[tokio::test]
async fn an_agent_browses_a_local_site_with_the_six_browser_tools() {
    if !chromium_present("an_agent_browses_a_local_site_with_the_six_browser_tools") {
        return;
    }
    let base = site().await;
    let mock = MockLlm::start().await;
    let mesh = agent_mesh_with(
        &mock,
        "agents:\n  surfer:\n    role: s\n",
        json!({"surfer": {"can_use_browser": true}}),
        HTTP,
    )
    .await;
    the_six_tools(&mesh, &mock, "surfer", &base).await;
    // The PNG is in the agent's own data directory.
    let png = std::fs::read(mesh.agent_data("surfer").join("artifacts/done.png")).unwrap();
    assert_eq!(&png[..4], b"\x89PNG");
}

#[tokio::test]
async fn navigation_redirects_and_sub_resources_obey_the_ssrf_rules() {
    if !chromium_present("navigation_redirects_and_sub_resources_obey_the_ssrf_rules") {
        return;
    }
    let base = site().await;
    let port = base.rsplit(':').next().unwrap().to_owned();
    let mock = MockLlm::start().await;
    let mesh = agent_mesh_with(
        &mock,
        "agents:\n  surfer:\n    role: s\n",
        json!({"surfer": {"can_use_browser": true}}),
        HTTP,
    )
    .await;
    let out = browse(
        &mesh,
        &mock,
        "surfer",
        &[
            // A redirect to the metadata address is refused at its hop.
            (
                "browser_navigate",
                json!({"url": format!("{base}/private")}),
            ),
            // The page loads; its image on a private address does not.
            ("browser_navigate", json!({"url": format!("{base}/sub")})),
            // The same server by another name is not exempt: loopback, refused.
            (
                "browser_navigate",
                json!({"url": format!("http://localhost:{port}/links")}),
            ),
            ("browser_navigate", json!({"url": "http://10.0.0.1/"})),
            ("browser_navigate", json!({"url": "file:///etc/passwd"})),
        ],
    )
    .await;
    assert!(
        out[0].contains("169.254.169.254") && out[0].contains("private or local address"),
        "{}",
        out[0]
    );
    let sub = json_of(&out[1]);
    assert!(
        sub["text"].as_str().unwrap().contains("with image"),
        "{sub}"
    );
    let blocked = sub["blocked"].as_array().unwrap();
    assert!(
        blocked.iter().any(|b| b["url"] == "http://10.0.0.1/x.png"
            && b["reason"].as_str().unwrap().contains("private or local")),
        "{sub}"
    );
    assert!(
        out[2].contains("localhost") && out[2].contains("refused"),
        "{}",
        out[2]
    );
    assert!(
        out[3].contains("10.0.0.1") && out[3].contains("refused"),
        "{}",
        out[3]
    );
    assert!(out[4].contains("only http and https"), "{}", out[4]);
}

#[tokio::test]
async fn browsing_needs_can_use_browser_and_browser_actions_narrow_it() {
    if !chromium_present("browsing_needs_can_use_browser_and_browser_actions_narrow_it") {
        return;
    }
    let base = site().await;
    let mock = MockLlm::start().await;
    let mesh = agent_mesh_with(
        &mock,
        "agents:\n  grounded:\n    role: g\n  reader:\n    role: r\n",
        json!({
            "grounded": {},
            "reader": {"can_use_browser": true, "browser_actions": ["navigate", "snapshot"]},
        }),
        HTTP,
    )
    .await;
    let out = browse(
        &mesh,
        &mock,
        "grounded",
        &[("browser_navigate", json!({"url": format!("{base}/links")}))],
    )
    .await;
    assert!(
        out[0].contains("capability 'browser' is not granted to skill 'browser'"),
        "{}",
        out[0]
    );
    let out = browse(
        &mesh,
        &mock,
        "reader",
        &[
            ("browser_navigate", json!({"url": format!("{base}/links")})),
            ("browser_evaluate", json!({"script": "document.cookie"})),
        ],
    )
    .await;
    assert_eq!(json_of(&out[0])["title"], "Links page");
    assert!(
        out[1].contains(
            "Agent reader cannot use the browser for evaluate (not in its browser_actions)"
        ),
        "{}",
        out[1]
    );
    // The mesh refuses an agent's direct call too, whatever the agent's own grants say.
    let token = mesh
        .operator()
        .post("/mesh/agents/grounded/token", &json!({}))
        .await
        .expect(200);
    let grounded = mesh.operator().with_token(token["token"].as_str().unwrap());
    let reply = grounded
        .post(
            "/mesh/browser",
            &json!({"action": "navigate", "url": format!("{base}/links")}),
        )
        .await;
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert!(reply.detail().contains("can_use_browser is off"));
}

/// The same six tools with the agent in a Docker container (no network at all): the
/// browser stays in the mesh, and the screenshot lands in the container's volume.
#[tokio::test]
async fn an_agent_in_a_docker_container_browses_through_the_mesh() {
    use openlegion_tests::docker::{docker_available, engine_shared};
    if !chromium_present("an_agent_in_a_docker_container_browses_through_the_mesh")
        || !docker_available("an_agent_in_a_docker_container_browses_through_the_mesh")
    {
        return;
    }
    let _engine = engine_shared().await;
    let base = site().await;
    let mock = MockLlm::start().await;
    let mesh = agent_mesh_with(
        &mock,
        "agents:\n  boxed:\n    role: s\n",
        json!({"boxed": {"can_use_browser": true}}),
        &format!(
            "{HTTP}{}",
            openlegion_tests::container_runtime("docker", "")
        ),
    )
    .await;
    the_six_tools(&mesh, &mock, "boxed", &base).await;
}
