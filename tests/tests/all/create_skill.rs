//! Scripting the mock model through `create_skill`, shared by the tests of agent-written
//! skills on the process backend and in containers.

use std::time::Duration;

use openlegion_mock_llm::{MockLlm, Turn};
use openlegion_tests::{MODEL_NAME, MeshProcess};
use serde_json::{Value, json};

use crate::outputs;

/// A Python build takes ~10 s and the agent then compiles the 18 MB component; in a
/// container on a busy machine, more: far beyond the test client's default 30 s.
const CHAT_TIMEOUT: Duration = Duration::from_secs(600);

/// The `reverse` tool a Python or JavaScript skill declares (Rust declares its own).
pub(crate) fn reverse_tool() -> Value {
    json!([{
        "name": "reverse",
        "description": "Reverse a text character by character.",
        "parameters": {"type": "object", "properties": {"text": {"type": "string"}},
                       "required": ["text"]},
    }])
}

/// One chat turn of `agent` in which the model creates skill `name` from `code` in
/// `language` (offering `reverse`) and calls `reverse` on "stressed"; the create report
/// and what the tool answered.
pub(crate) async fn create_and_reverse(
    mesh: &MeshProcess,
    mock: &MockLlm,
    agent: &str,
    name: &str,
    language: &str,
    code: &str,
) -> (Value, String) {
    let mut args = json!({"name": name, "language": language, "code": code});
    if language != "rust" {
        args["tools"] = reverse_tool();
    }
    mock.push_for(MODEL_NAME, Turn::tool_call("create_skill", args));
    mock.push_for(
        MODEL_NAME,
        Turn::tool_call("reverse", json!({"text": "stressed"})),
    );
    mock.push_for(MODEL_NAME, Turn::text("It says desserts."));
    let reply = mesh
        .operator()
        .with_timeout(CHAT_TIMEOUT)
        .post(
            &format!("/mesh/agents/{agent}/api/chat"),
            &json!({"message": "Add a tool that reverses a string, then reverse 'stressed'."}),
        )
        .await
        .expect(200);
    assert_eq!(reply["response"], "It says desserts.", "{reply}");
    let out = outputs(&reply);
    let report: Value =
        serde_json::from_str(&out[0]).unwrap_or_else(|_| panic!("create_skill failed: {}", out[0]));
    (report, out[1].clone())
}
