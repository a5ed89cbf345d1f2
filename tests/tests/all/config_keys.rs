//! Keys of mesh.yaml that no other end-to-end test shows at work: each test here changes one
//! (or a few) and checks what the mesh does differently. The list of every key and where
//! its effect is shown is `host/src/config/keys.rs`.

use openlegion_mock_llm::{MockLlm, Turn};
use openlegion_tests::{MeshOptions, MeshProcess, cli};
use serde_json::json;

/// `mesh.host` and `mesh.port` are where the mesh listens; `start --port` overrides the port.
#[tokio::test]
async fn mesh_host_and_port_are_where_the_mesh_listens() {
    let free = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    let port = free();
    let root = tempfile::tempdir().unwrap();
    let config = root.path().join("config");
    std::fs::create_dir(&config).unwrap();
    std::fs::write(
        config.join("mesh.yaml"),
        format!("mesh:\n  host: 127.0.0.1\n  port: {port}\n"),
    )
    .unwrap();
    let out = cli(&config, &["start", "-d"]);
    assert!(out.status.success(), "{out:?}");
    let addr = std::fs::read_to_string(root.path().join(".openlegion/mesh.addr")).unwrap();
    assert_eq!(addr.trim(), format!("http://127.0.0.1:{port}"));
    assert!(cli(&config, &["stop"]).status.success());

    let other = free();
    let out = cli(&config, &["start", "-d", "--port", &other.to_string()]);
    assert!(out.status.success(), "{out:?}");
    let addr = std::fs::read_to_string(root.path().join(".openlegion/mesh.addr")).unwrap();
    assert_eq!(addr.trim(), format!("http://127.0.0.1:{other}"));
    assert!(cli(&config, &["stop"]).status.success());
}

/// `mesh.max_body_mb`: a larger body is refused with 413 before anything reads it.
#[tokio::test]
async fn max_body_mb_bounds_request_bodies() {
    let mesh = MeshProcess::start(MeshOptions {
        mesh_settings: "  max_body_mb: 1\n".into(),
        ..MeshOptions::default()
    })
    .await;
    let message = |kib: usize| {
        json!({"from_agent": "operator", "to": "nobody", "type": "query",
               "payload": {"text": "x".repeat(kib * 1024)}})
    };
    // Within the bound the message is read, and refused for its unknown target.
    let read = mesh.operator().post("/mesh/message", &message(900)).await;
    assert_eq!(read.status, 404, "{read:?}");
    let refused = mesh.operator().post("/mesh/message", &message(1100)).await;
    assert_eq!(refused.status, 413, "{refused:?}");
}

/// `collaboration: false`: no agent may message another, whatever can_message grants;
/// the operator still may.
#[tokio::test]
async fn collaboration_false_stops_agents_messaging_each_other() {
    for (collaboration, expected) in [("true", 200), ("false", 403)] {
        let mesh = MeshProcess::start(MeshOptions {
            mesh_yaml: format!("collaboration: {collaboration}\n"),
            ..MeshOptions::with_permissions(json!({"default": {"can_message": ["*"]}}))
        })
        .await;
        let a = mesh.agent("a").await;
        mesh.agent("b").await;
        let sent = a
            .post(
                "/mesh/message",
                &json!({"from_agent": "a", "to": "b", "type": "query", "payload": {"q": 1}}),
            )
            .await;
        assert_eq!(
            sent.status, expected,
            "collaboration: {collaboration}: {sent:?}"
        );
        mesh.operator()
            .post(
                "/mesh/message",
                &json!({"from_agent": "operator", "to": "b", "type": "query", "payload": {}}),
            )
            .await
            .expect(200);
    }
}

/// `llm.temperature`, `llm.utility_model` and `llm.default_budget`, through the proxy.
#[tokio::test]
async fn llm_temperature_utility_model_and_default_budget() {
    let mock = MockLlm::start().await;
    let mesh = MeshProcess::start(MeshOptions {
        permissions: Some(json!({"permissions": {"default": {"allowed_apis": ["llm"]}}})),
        agents_yaml: "agents:\n  a:\n    model: openai/main\n  b:\n    model: openai/main\n".into(),
        mesh_yaml: "llm:\n  temperature: 0.25\n  utility_model: openai/cheap\n  default_budget: {daily_usd: 0.0, monthly_usd: 10}\n  prices:\n    openai/main: {input_per_mtok: 0, output_per_mtok: 1000000}\n    openai/cheap: {input_per_mtok: 0, output_per_mtok: 0}\n".into(),
        env: vec![
            ("OPENLEGION_CRED_OPENAI_API_BASE".into(), mock.openai_base()),
            ("OPENLEGION_CRED_OPENAI_API_KEY".into(), "sk-test-keys-000000".into()),
        ],
        ..MeshOptions::default()
    })
    .await;
    let a = mesh.agent("a").await;
    let call = |model: &str| {
        json!({"service": "llm", "action": "chat", "params": {
            "model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1}})
    };
    // The utility model is allowed beside the agent's own, and costs nothing here.
    mock.push_for("cheap", Turn::text("ok"));
    let r = a.post("/mesh/api", &call("openai/cheap")).await.expect(200);
    assert_eq!(r["success"], true, "{r}");
    let sent = mock.requests_for("cheap");
    assert_eq!(sent[0].body["temperature"], 0.25, "llm.temperature is sent");
    let other = a.post("/mesh/api", &call("openai/other")).await;
    assert_ne!(
        other.status, 200,
        "a model neither its own nor the utility one"
    );
    // default_budget: $0 a day for agents without a budget of their own.
    mock.push_for("main", Turn::text("never sent"));
    let r = a.post("/mesh/api", &call("openai/main")).await.expect(200);
    assert_eq!(r["success"], false, "{r}");
    assert_eq!(r["error_type"], "budget_exceeded", "{r}");
    assert!(mock.requests_for("main").is_empty());
}

/// `capabilities` of agents.yaml: advertised beside the tools the agent registers, so
/// `capability:<name>` reaches it.
#[tokio::test]
async fn configured_capabilities_are_advertised_with_the_registered_ones() {
    let mesh = MeshProcess::start(MeshOptions {
        agents_yaml: "agents:\n  triager:\n    role: triage\n    capabilities: [triage]\n".into(),
        ..MeshOptions::with_permissions(json!({"default": {"can_message": ["*"]}}))
    })
    .await;
    let triager = mesh.agent("triager").await;
    triager
        .post("/mesh/register", &json!({"capabilities": ["read_file"]}))
        .await
        .expect(200);
    let sender = mesh.agent("sender").await;
    for cap in ["triage", "read_file"] {
        let routed = sender
            .post(
                "/mesh/message",
                &json!({"to": format!("capability:{cap}"), "type": "query"}),
            )
            .await
            .expect(200);
        assert_eq!(routed["target"], "triager", "{cap}");
    }
}
