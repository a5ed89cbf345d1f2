//! The mesh's own instruct model end to end: a mesh configured as the example is
//! (`openai/gpt-4o-mini`) but with no provider key at all, a real agent on the process
//! backend, and the local model standing in — a plain answer, and a real tool call decoded
//! under the tools' grammar, whose arguments validate against the tool's own schema.

use openlegion_tests::{MeshOptions, MeshProcess, binary, local_chat_models_dir};
use serde_json::{Value, json};

/// A mesh with agent `assistant` on `openai/gpt-4o-mini`, no credentials, the local model
/// installed under `models`, greedy decoding (so the run is repeatable).
async fn keyless_mesh(models: &std::path::Path) -> MeshProcess {
    let mesh = MeshProcess::start(MeshOptions {
        permissions: Some(json!({"permissions": {"default": {"allowed_apis": ["llm"]}}})),
        agents_yaml: "agents:\n  assistant:\n    role: assistant\n    model: openai/gpt-4o-mini\n    system_prompt: You are a helpful assistant. Be concise.\n".into(),
        mesh_yaml: format!(
            "llm:\n  default_model: openai/gpt-4o-mini\n  temperature: 0\n  max_tokens: 256\nruntime:\n  isolation: process\n  agent_binary: {}\n",
            binary("openlegion-agent", "openlegion-agent").display()
        ),
        env: vec![("OPENLEGION_MODELS_DIR".into(), models.display().to_string())],
        ..MeshOptions::default()
    })
    .await;
    mesh.wait_agent("assistant").await;
    mesh
}

/// The JSON schema of `tool`'s arguments, as the agent offers it to models.
async fn schema_of(mesh: &MeshProcess, tool: &str) -> Value {
    let caps = mesh
        .operator()
        .get("/mesh/agents/assistant/api/capabilities")
        .await
        .expect(200);
    caps["tool_definitions"]
        .as_array()
        .and_then(|defs| defs.iter().find(|d| d["function"]["name"] == tool))
        .map(|d| d["function"]["parameters"].clone())
        .unwrap_or_else(|| panic!("no {tool} in {caps}"))
}

/// A model on the CPU takes its time (a prompt with every tool's schema is a few thousand
/// tokens to read), more so on a loaded machine: its answers are waited for longer than the
/// harness's 30 s.
const LOCAL_ANSWER: std::time::Duration = std::time::Duration::from_secs(600);

#[tokio::test]
async fn with_no_key_the_assistant_answers_through_the_local_model_at_no_cost() {
    let models = local_chat_models_dir();
    let mesh = keyless_mesh(&models).await;
    assert!(
        mesh.log().contains("No provider key is configured"),
        "start should say the local model stands in:\n{}",
        mesh.log()
    );

    let reply = mesh
        .chat_within("assistant", "Hello! Who are you?", LOCAL_ANSWER)
        .await;
    let text = reply["response"].as_str().unwrap_or_default();
    assert!(!text.trim().is_empty(), "no answer: {reply}");

    // Charged to the local model, at $0, with its tokens.
    let usage = mesh
        .operator()
        .get("/mesh/costs?period=today")
        .await
        .expect(200);
    let text = usage.to_string();
    assert!(text.contains("local/smollm2-135m-instruct"), "{usage}");
}

/// A real tool call through the local model: the agent offers its 32 tools, the engine
/// shows the small model the few the message is about, the user asks for `write_file`, and
/// the call decoded under the grammar validates against the tool's own schema and writes
/// the file.
#[tokio::test]
async fn with_no_key_the_assistant_writes_a_file_with_a_valid_tool_call() {
    let models = local_chat_models_dir();
    let mesh = keyless_mesh(&models).await;
    let reply = mesh
        .chat_within(
            "assistant",
            "Use the write_file tool to write the text 'hello' to the file notes/hello.md.",
            LOCAL_ANSWER,
        )
        .await;
    let outputs = reply["tool_outputs"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let call = outputs
        .iter()
        .find(|o| o["tool"] == "write_file")
        .unwrap_or_else(|| {
            panic!(
                "no write_file call: {reply}\n{}",
                mesh.agent_log("assistant")
            )
        });
    let schema = schema_of(&mesh, "write_file").await;
    let validator = jsonschema::validator_for(&schema).expect("the tool's schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&call["input"])
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{}: {errors:?}", call["input"]);
    // The tool really ran: the file is in the agent's workspace.
    let path = call["input"]["path"].as_str().expect("path is required");
    let written = mesh
        .agent_data("assistant")
        .join(path.trim_start_matches("/data/"));
    assert!(
        written.is_file(),
        "{} was not written: {}",
        written.display(),
        call["output"]
    );
}
