//! Learning from failure: a tool call that failed and a correction from the user are kept in
//! the agent's workspace (`learnings/`) and shown in its later sessions' system prompts,
//! across a restart.

use openlegion_mock_llm::{MockLlm, Turn};
use openlegion_tests::{MODEL_NAME, agent_mesh};
use serde_json::json;

#[tokio::test]
async fn failures_and_corrections_reach_later_sessions_across_a_restart() {
    let mock = MockLlm::start().await;
    let mut mesh = agent_mesh(&mock, "agents:\n  a:\n    role: a\n", json!({})).await;
    mock.push_for(
        MODEL_NAME,
        Turn::tool_call("read_file", json!({"path": "reports/q3-missing.txt"})),
    );
    mock.push_for(MODEL_NAME, Turn::text("It is not there."));
    let reply = mesh.chat("a", "Read the Q3 report").await;
    let output = reply["tool_outputs"][0]["output"].as_str().unwrap();
    assert!(output.starts_with("Error"), "{reply}");

    let errors =
        std::fs::read_to_string(mesh.agent_data("a").join("workspace/learnings/errors.md"))
            .unwrap();
    assert!(errors.contains("- tool: `read_file`"), "{errors}");
    assert!(errors.contains("q3-missing.txt"), "{errors}");

    let operator = mesh.operator();
    operator
        .post(
            "/mesh/agents/a/api/learnings/feedback",
            &json!({"feedback": "Quarterly reports are in archive/, named 2026-Q3.md."}),
        )
        .await
        .expect(200);
    let empty = operator
        .post(
            "/mesh/agents/a/api/learnings/feedback",
            &json!({"feedback": "  "}),
        )
        .await;
    assert_eq!(empty.status, 422);
    assert!(
        empty.detail().contains("feedback: empty"),
        "{}",
        empty.detail()
    );
    let unknown = operator
        .post(
            "/mesh/agents/a/api/learnings/feedback",
            &json!({"text": "x"}),
        )
        .await;
    assert_eq!(unknown.status, 422);
    assert!(unknown.detail().contains("text"), "{}", unknown.detail());

    assert!(mesh.terminate().success());
    mesh.restart().await;
    mesh.wait_agent("a").await;
    let before = mock.requests_for(MODEL_NAME).len();
    mock.push_for(MODEL_NAME, Turn::text("I will look in archive/."));
    mesh.chat("a", "Read the Q3 report again").await;
    let system = mock.requests_for(MODEL_NAME)[before].body["messages"][0]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    let learnt = system.find("## Learnings").expect(&system);
    for expected in [
        "Quarterly reports are in archive/, named 2026-Q3.md.",
        "tool: `read_file`",
        "q3-missing.txt",
    ] {
        assert!(
            system[learnt..].contains(expected),
            "{expected:?} missing from:\n{system}"
        );
    }

    let files = mesh
        .operator()
        .get("/mesh/agents/a/api/workspace-learnings")
        .await
        .expect(200);
    assert!(files["corrections"].as_str().unwrap().contains("archive/"));
    assert!(files["errors"].as_str().unwrap().contains("read_file"));
}
