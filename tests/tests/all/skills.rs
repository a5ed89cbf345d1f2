//! Skills in real agents: limits that stop a runaway tool without stopping the agent, hot
//! reload, capability grants, HTTP through the mesh, and skills written in Python and
//! JavaScript, each built from source by the test.

use std::time::Duration;

use crate::outputs;
use openlegion_mock_llm::{MockLlm, Turn};
use openlegion_tests::{MODEL_NAME, agent_mesh, fixture, template};
use serde_json::{Value, json};

fn manifest(name: &str, limits: &str) -> String {
    format!("name: {name}\nversion: 0.1.0\ncapabilities: []\nlimits: {{{limits}}}\n")
}

#[tokio::test]
async fn runaway_tools_are_stopped_and_the_agent_carries_on() {
    let mock = MockLlm::start().await;
    let mesh = agent_mesh(&mock, "agents:\n  a:\n    role: a\n", json!({})).await;
    mesh.install_skill(
        "a",
        "spin",
        &fixture("spin"),
        &manifest("spin", "fuel: 20000000"),
    );
    mesh.install_skill(
        "a",
        "sleepy",
        &fixture("sleepy"),
        &manifest("sleepy", "fuel: 1000000000000, timeout_ms: 300"),
    );
    mesh.install_skill(
        "a",
        "hog",
        &fixture("hog"),
        &manifest("hog", "memory_mib: 32"),
    );
    mesh.install_skill("a", "boom", &fixture("boom"), &manifest("boom", ""));
    for tool in ["spin", "sleepy", "hog", "boom"] {
        mesh.wait_tool("a", tool).await;
    }
    let cases = [
        ("spin", json!({}), "ran out of fuel (limit 20000000)"),
        ("sleepy", json!({"ms": 5000}), "timed out after 300 ms"),
        ("hog", json!({}), "exceeded its memory limit of 32 MiB"),
        ("boom", json!({}), "crashed"),
    ];
    for (tool, args, expected) in cases {
        mock.push_for(MODEL_NAME, Turn::tool_call(tool, args));
        mock.push_for(MODEL_NAME, Turn::text("That tool failed; carrying on."));
        let started = std::time::Instant::now();
        let reply = mesh.chat("a", &format!("Run {tool}.")).await;
        let out = outputs(&reply);
        assert!(out[0].contains(expected), "{tool}: {out:?}");
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{tool} took {:?}",
            started.elapsed()
        );
        assert_eq!(reply["response"], "That tool failed; carrying on.");
        // The next request is served normally, by a working tool.
        mock.push_for(
            MODEL_NAME,
            Turn::tool_call("write_file", json!({"path": "ok.txt", "content": tool})),
        );
        mock.push_for(MODEL_NAME, Turn::text("fine"));
        let next = mesh.chat("a", "Write a file.").await;
        assert!(
            outputs(&next)[0].contains("bytes_written"),
            "after {tool}: {next}"
        );
    }
}

#[tokio::test]
async fn a_skill_is_hot_reloaded_while_a_call_is_in_flight() {
    let mock = MockLlm::start().await;
    let mesh = agent_mesh(&mock, "agents:\n  a:\n    role: a\n", json!({})).await;
    // The fixture busy-waits, so a fast machine burns fuel quickly: give it ample.
    let yaml = manifest("versioned", "timeout_ms: 10000, fuel: 1000000000000");
    mesh.install_skill("a", "versioned", &fixture("reload-v1"), &yaml);
    mesh.wait_tool("a", "version").await;
    let skills = mesh
        .operator()
        .get("/mesh/agents/a/api/skills")
        .await
        .expect(200);
    let v1_sha = skills
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "versioned")
        .unwrap()["sha256"]
        .clone();

    // A 3 s call on v1; v2 arrives while it runs.
    mock.push_for(MODEL_NAME, Turn::tool_call("version", json!({"ms": 3000})));
    mock.push_for(MODEL_NAME, Turn::text("checked"));
    let chat = {
        let op = mesh.operator();
        tokio::spawn(async move {
            op.post(
                "/mesh/agents/a/api/chat",
                &json!({"message": "Which version?"}),
            )
            .await
            .expect(200)
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    mesh.install_skill("a", "versioned", &fixture("reload-v2"), &yaml);
    let mut swapped = false;
    for _ in 0..50 {
        let skills = mesh
            .operator()
            .get("/mesh/agents/a/api/skills")
            .await
            .expect(200);
        let sha = skills
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == "versioned")
            .unwrap()["sha256"]
            .clone();
        if sha != v1_sha {
            swapped = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(swapped, "v2 was not loaded while v1 ran");
    let first = chat.await.unwrap();
    assert_eq!(outputs(&first), ["v1"], "the call in flight finished on v1");
    mock.push_for(MODEL_NAME, Turn::tool_call("version", json!({})));
    mock.push_for(MODEL_NAME, Turn::text("checked"));
    assert_eq!(outputs(&mesh.chat("a", "And now?").await), ["v2"]);

    // A corrupt component is refused; v2 keeps serving and the error is reported.
    let dir = mesh.agent_data("a").join("skills/versioned");
    std::fs::write(
        dir.join("skill.wasm"),
        b"\0asm\x0d\0\x01\0 definitely not a component",
    )
    .unwrap();
    let mut reported = Value::Null;
    for _ in 0..60 {
        let skills = mesh
            .operator()
            .get("/mesh/agents/a/api/skills")
            .await
            .expect(200);
        let entry = skills
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == "versioned")
            .unwrap()
            .clone();
        if !entry["last_error"].is_null() {
            reported = entry;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        reported["last_error"].is_string(),
        "the broken component was not reported"
    );
    mock.push_for(MODEL_NAME, Turn::tool_call("version", json!({})));
    mock.push_for(MODEL_NAME, Turn::text("checked"));
    assert_eq!(outputs(&mesh.chat("a", "Still there?").await), ["v2"]);
}

#[tokio::test]
async fn http_goes_through_the_mesh_and_needs_the_internet_permission() {
    let mock = MockLlm::start().await;
    let site = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let site_url = format!("http://{}/page", site.local_addr().unwrap());
    tokio::spawn(async move {
        let app = axum::Router::new().route(
            "/page",
            axum::routing::get(|| async { "hello from the web" }),
        );
        axum::serve(site, app).await
    });
    let perms = json!({"surfer": {"can_use_internet": true}, "grounded": {}});
    let mesh = agent_mesh(
        &mock,
        "agents:\n  surfer:\n    role: s\n  grounded:\n    role: g\n",
        perms,
    )
    .await;
    // The mesh refuses loopback targets (SSRF) unless told otherwise.
    mock.push_for(
        MODEL_NAME,
        Turn::tool_call("http_request", json!({"url": site_url})),
    );
    mock.push_for(MODEL_NAME, Turn::text("blocked"));
    let out = outputs(&mesh.chat("surfer", "Fetch the page.").await);
    assert!(
        out[0].contains("private or local address; refused"),
        "{out:?}"
    );
    // An agent without can_use_internet does not get the http capability at all.
    mock.push_for(
        MODEL_NAME,
        Turn::tool_call("http_request", json!({"url": "http://example.com/"})),
    );
    mock.push_for(MODEL_NAME, Turn::text("no network"));
    let out = outputs(&mesh.chat("grounded", "Fetch it.").await);
    assert!(
        out[0].contains("capability 'http' is not granted to skill 'web'"),
        "{out:?}"
    );
}

#[tokio::test]
async fn http_reaches_an_allowed_private_host() {
    let mock = MockLlm::start().await;
    let site = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let site_url = format!("http://{}/page", site.local_addr().unwrap());
    tokio::spawn(async move {
        let app = axum::Router::new().route(
            "/page",
            axum::routing::get(|| async { "hello from the web" }),
        );
        axum::serve(site, app).await
    });
    let mesh = openlegion_tests::agent_mesh_with(
        &mock,
        "agents:\n  surfer:\n    role: s\n",
        json!({"surfer": {"can_use_internet": true}}),
        "http:\n  allow_private: true\n",
    )
    .await;
    mock.push_for(
        MODEL_NAME,
        Turn::tool_call("http_request", json!({"url": site_url})),
    );
    mock.push_for(MODEL_NAME, Turn::text("got it"));
    let out = outputs(&mesh.chat("surfer", "Fetch the page.").await);
    assert!(
        out[0].contains("hello from the web") && out[0].contains("\"status\":200"),
        "{out:?}"
    );
}

async fn template_round_trip(language: &str) {
    let Some(dist) = template(language) else {
        return;
    };
    let mock = MockLlm::start().await;
    let mesh = agent_mesh(&mock, "agents:\n  a:\n    role: a\n", json!({})).await;
    let yaml = std::fs::read_to_string(dist.join("skill.yaml")).unwrap();
    mesh.install_skill("a", "text-tools", &dist.join("skill.wasm"), &yaml);
    mesh.wait_tool("a", "reverse").await;
    mock.push_for(
        MODEL_NAME,
        Turn::tool_call("reverse", json!({"text": "stressed"})),
    );
    mock.push_for(
        MODEL_NAME,
        Turn::tool_call("word_count", json!({"text": "one two three"})),
    );
    mock.push_for(MODEL_NAME, Turn::text("desserts, and three words"));
    let reply = mesh.chat("a", "Reverse 'stressed' and count words.").await;
    let out = outputs(&reply);
    assert!(out[0].contains("desserts"), "{language}: {out:?}");
    assert!(out[1].contains('3'), "{language}: {out:?}");
    assert_eq!(reply["response"], "desserts, and three words");
}

#[tokio::test]
async fn a_python_skill_built_from_source_is_called_by_the_agent() {
    template_round_trip("python").await;
}

#[tokio::test]
async fn a_javascript_skill_built_from_source_is_called_by_the_agent() {
    template_round_trip("javascript").await;
}
