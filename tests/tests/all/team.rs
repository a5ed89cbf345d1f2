//! The tool catalogue as a whole and the team tools: the tools a full-permission agent
//! offers the model, checked against the original's table; `read_agent_history` with its
//! permission and the vault's redaction; `save_artifact` registering on the blackboard and
//! `read_artifact` fetching through the mesh.

use openlegion_mock_llm::{MockLlm, Turn};
use openlegion_tests::{MODEL_NAME, agent_mesh_with, binary};
use serde_json::{Value, json};

use crate::outputs;

/// The original's built-in tools (v0, `src/agent/builtins`).
const ORIGINAL: [&str; 29] = [
    "exec",
    "read_file",
    "write_file",
    "list_files",
    "http_request",
    "browser_navigate",
    "browser_snapshot",
    "browser_click",
    "browser_type",
    "browser_screenshot",
    "browser_evaluate",
    "memory_search",
    "memory_save",
    "list_agents",
    "read_shared_state",
    "write_shared_state",
    "list_shared_state",
    "publish_event",
    "save_artifact",
    "set_cron",
    "set_heartbeat",
    "list_cron",
    "remove_cron",
    "create_skill",
    "reload_skills",
    "list_custom_skills",
    "spawn_agent",
    "read_agent_history",
    "web_search",
];

/// The cron tools come with the cron work (a separate branch); until it lands they may be
/// missing, and only they.
const CRON: [&str; 4] = ["set_cron", "set_heartbeat", "list_cron", "remove_cron"];

/// Tools this implementation adds to the original's.
const ADDED: [&str; 3] = ["memory_recall", "remove_skill", "read_artifact"];

#[tokio::test]
async fn a_full_permission_agent_offers_every_tool_of_the_original_table() {
    let mock = MockLlm::start().await;
    let mesh = agent_mesh_with(
        &mock,
        "agents:\n  all:\n    role: everything\n",
        json!({"all": {"can_use_internet": true, "can_use_browser": true, "can_spawn": true,
                       "can_manage_cron": true, "can_read_history": ["*"]}}),
        &format!(
            "runtime:\n  isolation: process\n  agent_binary: {}\n  allow_exec: true\n  allow_skill_compile: true\n",
            binary("openlegion-agent", "openlegion-agent").display()
        ),
    )
    .await;
    mock.push_for(MODEL_NAME, Turn::text("hello"));
    mesh.chat("all", "Hi.").await;
    let sent = mock.requests_for(MODEL_NAME);
    let offered: Vec<String> = sent[0].body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap().to_owned())
        .collect();
    let missing: Vec<&str> = ORIGINAL
        .iter()
        .copied()
        .filter(|t| !offered.iter().any(|o| o == t))
        .collect();
    assert!(
        missing.iter().all(|t| CRON.contains(t)),
        "tools of the original's table not offered: {missing:?} (offered: {offered:?})"
    );
    let extra: Vec<&String> = offered
        .iter()
        .filter(|o| !ORIGINAL.contains(&o.as_str()) && !ADDED.contains(&o.as_str()))
        .collect();
    assert!(extra.is_empty(), "tools in neither table: {extra:?}");
    // Each is offered once, with a description and a JSON Schema of its arguments.
    for tool in sent[0].body["tools"].as_array().unwrap() {
        let f = &tool["function"];
        assert!(f["description"].as_str().unwrap().len() > 40, "{f}");
        assert_eq!(f["parameters"]["type"], "object", "{f}");
    }
    let mut unique = offered.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), offered.len(), "{offered:?}");
}

#[tokio::test]
async fn history_is_read_where_permitted_and_credentials_are_redacted() {
    let mock = MockLlm::start().await;
    let mesh = agent_mesh_with(
        &mock,
        "agents:\n  worker:\n    role: w\n  boss:\n    role: b\n  nosy:\n    role: n\n",
        json!({"boss": {"can_read_history": ["worker"]}, "nosy": {}, "worker": {}}),
        "",
    )
    .await;
    // The worker's log now holds the provider key (the operator pasted it in a chat).
    mock.push_for(MODEL_NAME, Turn::text("noted"));
    mesh.chat("worker", "the key is sk-test-agents-0000000000, keep it")
        .await;
    let read = Turn::tool_call("read_agent_history", json!({"agent": "worker", "limit": 5}));
    mock.push_for(MODEL_NAME, read.clone());
    mock.push_for(MODEL_NAME, Turn::text("read"));
    let out = outputs(&mesh.chat("boss", "What did worker do?").await);
    let history: Value =
        serde_json::from_str(&out[0]).unwrap_or_else(|e| panic!("{e}: {}", out[0]));
    let text = history["entries"].to_string();
    assert!(text.contains("the key is [REDACTED], keep it"), "{history}");
    assert!(!out[0].contains("sk-test-agents"), "{}", out[0]);
    assert!(text.contains("Agent: noted"), "{history}");
    assert_eq!(history["role"], "w");

    mock.push_for(MODEL_NAME, read);
    mock.push_for(MODEL_NAME, Turn::text("refused"));
    let out = outputs(&mesh.chat("nosy", "What did worker do?").await);
    assert!(
        out[0]
            .contains("Agent nosy cannot read the history of worker (not in its can_read_history)"),
        "{}",
        out[0]
    );
}

#[tokio::test]
async fn artifacts_are_registered_and_fetched_by_agents_that_may_read_them() {
    let mock = MockLlm::start().await;
    let mesh = agent_mesh_with(
        &mock,
        "agents:\n  writer:\n    role: w\n  reader:\n    role: r\n",
        json!({"writer": {}, "reader": {"blackboard_read": ["artifacts/*"]}, "outsider": {}}),
        "",
    )
    .await;
    mock.push_for(
        MODEL_NAME,
        Turn::tool_call(
            "save_artifact",
            json!({"name": "report.md", "content": "# Q3\nup 5%"}),
        ),
    );
    mock.push_for(MODEL_NAME, Turn::text("saved"));
    let out = outputs(&mesh.chat("writer", "Save the report.").await);
    assert!(
        out[0].contains("\"registered\":\"artifacts/writer/report.md\""),
        "{}",
        out[0]
    );
    let entry = mesh
        .operator()
        .get("/mesh/blackboard/artifacts/writer/report.md")
        .await
        .expect(200);
    assert_eq!(entry["value"]["path"], "artifacts/report.md");
    assert_eq!(entry["value"]["size"], 10);
    assert_eq!(entry["value"]["mime"], "text/markdown");
    assert_eq!(entry["written_by"], "writer");
    let digest = entry["value"]["sha256"].as_str().unwrap().to_owned();
    assert_eq!(digest.len(), 64);

    let fetch = Turn::tool_call(
        "read_artifact",
        json!({"agent": "writer", "name": "report.md"}),
    );
    mock.push_for(MODEL_NAME, fetch);
    mock.push_for(MODEL_NAME, Turn::text("read"));
    let out = outputs(&mesh.chat("reader", "Read writer's report.").await);
    let artifact: Value =
        serde_json::from_str(&out[0]).unwrap_or_else(|e| panic!("{e}: {}", out[0]));
    assert_eq!(artifact["content"], "# Q3\nup 5%");
    assert_eq!(artifact["sha256"], digest.as_str());

    // An agent that may not read the key gets nothing (an agent the operator registered:
    // the mesh's answer is the same whatever runs it).
    let outsider = mesh.agent("outsider").await;
    let reply = outsider
        .get("/mesh/artifacts/writer/report.md?as=json")
        .await;
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert!(
        reply
            .detail()
            .contains("Agent outsider cannot read artifacts/writer/report.md"),
        "{}",
        reply.body
    );

    // A file changed behind the registration is refused, not served.
    std::fs::write(
        mesh.agent_data("writer").join("artifacts/report.md"),
        "tampered",
    )
    .unwrap();
    let reply = mesh
        .operator()
        .get("/mesh/artifacts/writer/report.md")
        .await;
    assert_eq!(reply.status, 409, "{}", reply.body);
    assert!(reply.detail().contains("changed since it was registered"));
}
