//! Skills the agent writes itself (`create_skill`), with the real compilers inside real
//! agent processes, scripted by the mock LLM: a Python and a JavaScript tool compiled,
//! loaded and called in the same chat; a compile error handed back and fixed; a created
//! tool that never ends, stopped by its limits; capabilities clipped; a restart that finds
//! the skill compiled already; a new version created while a task is inside the old one;
//! and the refusal on the process backend without `runtime.allow_skill_compile`.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::create_skill::{create_and_reverse, reverse_tool};
use crate::outputs;
use openlegion_mock_llm::{MockLlm, Turn};
use openlegion_tests::{MODEL_NAME, MeshProcess, agent_mesh_env, binary, compilers};
use serde_json::{Value, json};

/// Python builds take ~10 s, and the agent then compiles the 18 MB component: far more
/// than the test client's default 30 s when the machine is busy.
const CHAT_TIMEOUT: Duration = Duration::from_secs(300);

/// A mesh running agent `a` on the process backend with the compilers of `compilers`,
/// allowed to compile skills if `allow`.
async fn mesh(mock: &MockLlm, compilers: Option<&Path>, allow: bool) -> MeshProcess {
    mesh_of(mock, compilers, allow, "agents:\n  a:\n    role: a\n").await
}

/// [`mesh`] with agents.yaml `agents_yaml` (agent `a`).
async fn mesh_of(
    mock: &MockLlm,
    compilers: Option<&Path>,
    allow: bool,
    agents_yaml: &str,
) -> MeshProcess {
    let runtime = format!(
        "runtime:\n  isolation: process\n  agent_binary: {}\n  allow_skill_compile: {allow}\n",
        binary("openlegion-agent", "openlegion-agent").display()
    );
    let env = compilers
        .map(|dir| vec![("SKILL_COMPILERS".into(), dir.display().to_string())])
        .unwrap_or_default();
    agent_mesh_env(mock, agents_yaml, json!({}), &runtime, env).await
}

async fn chat(mesh: &MeshProcess, message: &str) -> Value {
    mesh.operator()
        .with_timeout(CHAT_TIMEOUT)
        .post("/mesh/agents/a/api/chat", &json!({ "message": message }))
        .await
        .expect(200)
}

/// The agent's loaded skill `name`, as `GET /skills` lists it.
async fn skill(mesh: &MeshProcess, name: &str) -> Option<Value> {
    let skills = mesh
        .operator()
        .get("/mesh/agents/a/api/skills")
        .await
        .expect(200);
    skills
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .cloned()
}

/// The tool names offered to the model in each request so far.
fn offered(mock: &MockLlm) -> Vec<Vec<String>> {
    mock.requests_for(MODEL_NAME)
        .iter()
        .map(|r| {
            r.body["tools"]
                .as_array()
                .map(|tools| {
                    tools
                        .iter()
                        .filter_map(|t| t["function"]["name"].as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default()
        })
        .collect()
}

#[tokio::test]
async fn a_python_tool_written_by_the_agent_is_called_in_the_same_chat() {
    let Some(compilers) = compilers() else { return };
    let mock = MockLlm::start().await;
    let mesh = mesh(&mock, Some(&compilers), true).await;
    let started = Instant::now();
    let (report, reversed) = create_and_reverse(
        &mesh,
        &mock,
        "a",
        "text-tools",
        "python",
        "def reverse(text):\n    return text[::-1]\n",
    )
    .await;
    eprintln!(
        "python: create + call took {:?}: {report}",
        started.elapsed()
    );
    assert_eq!(reversed, "desserts");
    assert_eq!(report["compiled"], true, "{report}");
    assert_eq!(report["tools"], json!(["reverse"]));
    assert_eq!(report["cache"], "compiled");
    // The model was offered the new tool in the round right after create_skill.
    let offered = offered(&mock);
    assert!(!offered[0].contains(&"reverse".to_owned()));
    assert!(offered[1].contains(&"reverse".to_owned()), "{offered:?}");
    // What was written: the source, the manifest and the component.
    let dir = mesh.agent_data("a").join("skills/text-tools");
    assert_eq!(
        std::fs::read_to_string(dir.join("source/skill.py")).unwrap(),
        "def reverse(text):\n    return text[::-1]\n"
    );
    assert!(dir.join("skill.yaml").is_file() && dir.join("skill.wasm").is_file());
}

#[tokio::test]
async fn a_javascript_tool_written_by_the_agent_is_called_in_the_same_chat() {
    let Some(compilers) = compilers() else { return };
    let mock = MockLlm::start().await;
    let mesh = mesh(&mock, Some(&compilers), true).await;
    let started = Instant::now();
    let (report, reversed) = create_and_reverse(
        &mesh,
        &mock,
        "a",
        "text-tools",
        "javascript",
        "export function reverse({ text }) {\n  return Array.from(text).reverse().join(\"\");\n}\n",
    )
    .await;
    eprintln!(
        "javascript: create + call took {:?}: {report}",
        started.elapsed()
    );
    assert_eq!(reversed, "desserts");
    assert_eq!(report["compiled"], true, "{report}");
    assert_eq!(report["language"], "javascript");
}

#[tokio::test]
async fn a_rust_tool_written_by_the_agent_is_built_against_the_warm_template() {
    let Some(compilers) = compilers() else { return };
    let mock = MockLlm::start().await;
    let mesh = mesh(&mock, Some(&compilers), true).await;
    let broken = "use openlegion_skill_sdk::prelude::*;\n\nfn reverse(_: NoArgs) -> Result<String, String> {\n    Ok(missing)\n}\n\nopenlegion_skill_sdk::skill! {\n    reverse: \"Reverse.\" => reverse,\n}\n";
    let fixed = "use openlegion_skill_sdk::prelude::*;\n\n#[derive(Deserialize, JsonSchema)]\nstruct Text {\n    /// The text to reverse.\n    text: String,\n}\n\nfn reverse(args: Text) -> Result<String, String> {\n    Ok(args.text.chars().rev().collect())\n}\n\nopenlegion_skill_sdk::skill! {\n    reverse: \"Reverse a text.\" => reverse,\n}\n";
    for code in [broken, fixed] {
        mock.push_for(
            MODEL_NAME,
            Turn::tool_call(
                "create_skill",
                json!({"name": "rusty", "language": "rust", "code": code}),
            ),
        );
    }
    mock.push_for(
        MODEL_NAME,
        Turn::tool_call("reverse", json!({"text": "stressed"})),
    );
    mock.push_for(MODEL_NAME, Turn::text("rust works"));
    let started = Instant::now();
    let reply = chat(&mesh, "Write a reverse tool in Rust.").await;
    let out = outputs(&reply);
    assert!(
        out[0].starts_with("Error: the rust code of skill 'rusty' does not compile:"),
        "{}",
        out[0]
    );
    assert!(out[0].contains("--> lib.rs:4:8"), "{}", out[0]);
    assert!(out[0].contains("cannot find value `missing`"), "{}", out[0]);
    let report: Value = serde_json::from_str(&out[1]).unwrap_or_else(|_| panic!("{}", out[1]));
    eprintln!(
        "rust: two builds and a call took {:?}: {report}",
        started.elapsed()
    );
    assert_eq!(report["compiled"], true);
    assert_eq!(report["tools"], json!(["reverse"]));
    assert_eq!(out[2], "desserts");
    // The schema came from the argument type.
    let offered = mock.requests_for(MODEL_NAME);
    let tools = offered.last().unwrap().body["tools"]
        .as_array()
        .unwrap()
        .clone();
    let reverse = tools
        .iter()
        .find(|t| t["function"]["name"] == "reverse")
        .expect("reverse offered");
    assert_eq!(
        reverse["function"]["parameters"]["properties"]["text"]["description"],
        "The text to reverse."
    );
}

#[tokio::test]
async fn a_compile_error_goes_back_to_the_model_and_the_fixed_code_loads() {
    let Some(compilers) = compilers() else { return };
    let mock = MockLlm::start().await;
    let mesh = mesh(&mock, Some(&compilers), true).await;
    let broken = "def reverse(text):\n    return text[::-1\n\n";
    let fixed = "def reverse(text):\n    return text[::-1]\n";
    for code in [broken, fixed] {
        mock.push_for(
            MODEL_NAME,
            Turn::tool_call(
                "create_skill",
                json!({"name": "rev", "language": "python", "code": code,
                       "tools": reverse_tool()}),
            ),
        );
    }
    mock.push_for(
        MODEL_NAME,
        Turn::tool_call("reverse", json!({"text": "abc"})),
    );
    mock.push_for(MODEL_NAME, Turn::text("fixed it"));
    let reply = chat(&mesh, "Add a reverse tool and use it on abc.").await;
    let out = outputs(&reply);
    assert!(
        out[0].starts_with("Error: the python code of skill 'rev' does not compile:"),
        "{}",
        out[0]
    );
    assert!(out[0].contains("File \"skill.py\", line 2"), "{}", out[0]);
    assert!(out[0].contains("SyntaxError"), "{}", out[0]);
    assert!(out[0].len() < 6000, "trimmed: {} bytes", out[0].len());
    assert!(!out[0].contains("/tmp/"), "no build paths: {}", out[0]);
    let report: Value = serde_json::from_str(&out[1]).unwrap();
    assert_eq!(report["compiled"], true);
    assert_eq!(out[2], "cba");
    assert_eq!(reply["response"], "fixed it");
}

#[tokio::test]
async fn a_created_tool_that_never_ends_is_stopped_and_the_agent_carries_on() {
    let Some(compilers) = compilers() else { return };
    let mock = MockLlm::start().await;
    let mesh = mesh(&mock, Some(&compilers), true).await;
    let code = "export function spin() {\n  for (;;) {}\n}\n\
                export function reverse({ text }) {\n  return [...text].reverse().join(\"\");\n}\n";
    let tools = json!([
        {"name": "spin", "description": "Never ends.", "parameters": {"type": "object"}},
        reverse_tool()[0],
    ]);
    mock.push_for(
        MODEL_NAME,
        Turn::tool_call(
            "create_skill",
            json!({"name": "loops", "language": "javascript", "code": code, "tools": tools,
                   "limits": {"timeout_ms": 1000, "fuel": 1_000_000_000_000u64}}),
        ),
    );
    mock.push_for(MODEL_NAME, Turn::tool_call("spin", json!({})));
    mock.push_for(MODEL_NAME, Turn::text("that one hung"));
    let started = Instant::now();
    let reply = chat(&mesh, "Make a tool that loops and run it.").await;
    let out = outputs(&reply);
    assert!(out[0].contains("\"compiled\":true"), "{}", out[0]);
    assert_eq!(out[1], "Error: tool 'spin' timed out after 1000 ms");
    assert!(started.elapsed() < Duration::from_secs(120));
    // The agent, and the same skill's other tool, still answer.
    mock.push_for(
        MODEL_NAME,
        Turn::tool_call("reverse", json!({"text": "ok"})),
    );
    mock.push_for(MODEL_NAME, Turn::text("still here"));
    let reply = chat(&mesh, "Reverse ok.").await;
    assert_eq!(outputs(&reply), ["ko"]);
    assert_eq!(reply["response"], "still here");
}

#[tokio::test]
async fn capabilities_the_agent_lacks_are_clipped_and_reported() {
    let Some(compilers) = compilers() else { return };
    let mock = MockLlm::start().await;
    // The process backend without allow_exec: this agent may not run commands.
    let mesh = mesh(&mock, Some(&compilers), true).await;
    let code = "import process from \"openlegion:skill/process@0.1.4\";\n\
                export function shell({ command }) {\n  return process.run(command, null, 1000).stdout;\n}\n";
    let tools = json!([{"name": "shell", "description": "Runs a command.",
                        "parameters": {"type": "object",
                                       "properties": {"command": {"type": "string"}}}}]);
    mock.push_for(
        MODEL_NAME,
        Turn::tool_call(
            "create_skill",
            json!({"name": "sh", "language": "javascript", "code": code, "tools": tools,
                   "capabilities": ["process", "workspace"]}),
        ),
    );
    mock.push_for(
        MODEL_NAME,
        Turn::tool_call("shell", json!({"command": "id"})),
    );
    mock.push_for(MODEL_NAME, Turn::text("not allowed"));
    let reply = chat(&mesh, "Make yourself a shell.").await;
    let out = outputs(&reply);
    let report: Value = serde_json::from_str(&out[0]).unwrap();
    assert_eq!(report["clipped"], json!(["process"]), "{report}");
    assert_eq!(report["capabilities"], json!(["workspace"]), "{report}");
    assert!(
        report["message"]
            .as_str()
            .unwrap()
            .contains("Not allowed to this agent, so not granted: process"),
        "{report}"
    );
    assert_eq!(
        out[1],
        "Error: capability 'process' is not granted to skill 'sh'"
    );
    let listed = skill(&mesh, "sh").await.unwrap();
    assert_eq!(listed["clipped"], json!(["process"]));

    // The model sees the same through its own tools; reloading finds the compiled code.
    mock.push_for(MODEL_NAME, Turn::tool_call("list_custom_skills", json!({})));
    mock.push_for(MODEL_NAME, Turn::tool_call("reload_skills", json!({})));
    mock.push_for(MODEL_NAME, Turn::text("listed"));
    let out = outputs(&chat(&mesh, "What did you make?").await);
    let list: Value = serde_json::from_str(&out[0]).unwrap();
    assert_eq!(list["count"], 1, "{list}");
    let entry = &list["skills"][0];
    assert_eq!(entry["name"], "sh");
    assert_eq!(entry["language"], "javascript");
    assert_eq!(entry["loaded"], true);
    assert_eq!(entry["tools"], json!(["shell"]));
    assert_eq!(entry["clipped"], json!(["process"]));
    let reloaded: Value = serde_json::from_str(&out[1]).unwrap();
    assert_eq!(
        reloaded["reloaded"],
        json!([{"skill": "sh", "tools": ["shell"], "cache": "memory", "clipped": ["process"]}])
    );

    // Bad requests are named, and nothing is compiled for them.
    let bad = [
        (
            json!({"name": "../x", "language": "python", "code": "x", "tools": reverse_tool()}),
            "invalid name \"../x\"",
        ),
        (
            json!({"name": "x", "language": "cobol", "code": "x", "tools": reverse_tool()}),
            "unknown language \"cobol\"",
        ),
        (
            json!({"name": "x", "language": "python", "code": "#".repeat(263_000),
                "tools": reverse_tool()}),
            "code is 263000 bytes, more than the 262144 allowed",
        ),
        (
            json!({"name": "files", "language": "python", "code": "x", "tools": reverse_tool()}),
            "'files' is the name of a built-in skill",
        ),
        (
            json!({"name": "x", "language": "python", "code": "x", "tools": []}),
            "tools is empty",
        ),
    ];
    for (args, _) in &bad {
        mock.push_for(MODEL_NAME, Turn::tool_call("create_skill", args.clone()));
    }
    mock.push_for(MODEL_NAME, Turn::text("all refused"));
    let out = outputs(&chat(&mesh, "Try some bad ones.").await);
    for (i, (_, expected)) in bad.iter().enumerate() {
        assert!(out[i].contains(expected), "{expected}: {}", out[i]);
    }
}

#[tokio::test]
async fn a_created_skill_survives_a_restart_without_being_compiled_again() {
    let Some(compilers) = compilers() else { return };
    let mock = MockLlm::start().await;
    let mesh = mesh(&mock, Some(&compilers), true).await;
    let code = "def reverse(text):\n    return text[::-1]\n";
    let (report, _) = create_and_reverse(&mesh, &mock, "a", "keep", "python", code).await;
    assert_eq!(report["cache"], "compiled");

    let pid = mesh.agent_pid("a");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let restarted = Instant::now();
    mesh.wait_agent("a").await;
    mesh.wait_tool("a", "reverse").await;
    eprintln!(
        "python skill back after a restart in {:?}",
        restarted.elapsed()
    );
    assert_ne!(mesh.agent_pid("a"), pid, "a new process");
    // Loaded from the compiled-code cache, not compiled again.
    let loaded = skill(&mesh, "keep").await.unwrap();
    assert_eq!(loaded["cache"], "disk", "{loaded}");

    // Creating it again with the same code is neither built nor compiled.
    let again = Instant::now();
    let (report, reversed) = create_and_reverse(&mesh, &mock, "a", "keep", "python", code).await;
    eprintln!(
        "python: same code created again in {:?}: {report}",
        again.elapsed()
    );
    assert_eq!(reversed, "desserts");
    assert_eq!(report["compiled"], false, "{report}");
    assert_eq!(report["cache"], "memory", "{report}");
    assert!(
        report["message"]
            .as_str()
            .unwrap()
            .contains("not compiled again"),
        "{report}"
    );
}

/// Issue 7: a skill replaced by `create_skill` while a call of it is in flight. A task
/// (which runs beside chats) is inside v1's tool, held there by a gate file the test
/// controls; a chat creates v2 of the same skill meanwhile. The call in flight finishes
/// with v1's answer, and the next call gets v2.
#[tokio::test]
async fn a_new_version_replaces_a_skill_while_a_call_of_the_old_one_is_in_flight() {
    let Some(compilers) = compilers() else { return };
    let mock = MockLlm::start().await;
    // Two turns at once (a task beside the chat): with the default of one, the chat that
    // replaces the skill would wait in the lane behind the task it must overtake.
    let agents = "agents:\n  a:\n    role: a\n    lanes:\n      concurrency: 2\n";
    let mesh = mesh_of(&mock, Some(&compilers), true, agents).await;
    let data = mesh.agent_data("a");
    let tools = json!([{"name": "version", "description": "Which version answers.",
                        "parameters": {"type": "object"}}]);
    // v1 says it has started, then waits (polling, within its limits) for the gate.
    let v1 = "import workspace from \"openlegion:skill/workspace@0.1.4\";\n\
              export function version() {\n\
              \x20 workspace.writeFile(\"started.txt\", \"v1\", false);\n\
              \x20 for (;;) {\n\
              \x20   try { workspace.readFile(\"gate.txt\", null, null); break; } catch (e) {}\n\
              \x20 }\n\
              \x20 return \"v1\";\n\
              }\n";
    let v2 = "export function version() {\n  return \"v2\";\n}\n";
    let create = |code: &str, capabilities: Value| {
        Turn::tool_call(
            "create_skill",
            json!({"name": "versioned", "language": "javascript", "code": code,
                   "tools": tools, "capabilities": capabilities,
                   "limits": {"timeout_ms": 120_000, "fuel": 1_000_000_000_000u64}}),
        )
    };
    mock.push_for(MODEL_NAME, create(v1, json!(["workspace"])));
    mock.push_for(MODEL_NAME, Turn::text("v1 is in"));
    let out = outputs(&chat(&mesh, "Make the versioned skill.").await);
    assert!(out[0].contains("\"compiled\":true"), "{}", out[0]);

    // The task calls v1's tool and waits inside it.
    mock.push_for(MODEL_NAME, Turn::tool_call("version", json!({})));
    let op = mesh.operator();
    let task = json!({"task_type": "which_version", "input_data": {}, "timeout": 300});
    let accepted = op.post("/mesh/agents/a/api/task", &task).await.expect(200);
    assert_eq!(accepted["accepted"], true, "{accepted}");
    let started = data.join("started.txt");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !started.exists() {
        assert!(Instant::now() < deadline, "v1's tool never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Meanwhile a chat replaces the skill with v2 (and it is loaded before the chat ends).
    mock.push_for(MODEL_NAME, create(v2, json!([])));
    mock.push_for(MODEL_NAME, Turn::text("v2 is in"));
    let out = outputs(&chat(&mesh, "Replace it with v2.").await);
    let report: Value =
        serde_json::from_str(&out[0]).unwrap_or_else(|_| panic!("create_skill failed: {}", out[0]));
    assert_eq!(report["compiled"], true, "{report}");
    assert_eq!(report["replaced"], true, "{report}");
    // The task is still inside v1's call.
    op.get("/mesh/agents/a/api/result").await.expect(404);

    // Open the gate: the call in flight ends with v1's answer, and the task completes.
    mock.push_for(MODEL_NAME, Turn::text("the task saw its version"));
    std::fs::write(data.join("gate.txt"), "open").unwrap();
    let mut result = Value::Null;
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        let reply = op.get("/mesh/agents/a/api/result").await;
        if reply.status == 200 {
            result = reply.body;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(result["status"], "complete", "{result}");
    let last = mock.requests_for(MODEL_NAME).last().unwrap().body.clone();
    let tool_answer = last["messages"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|m| m["role"] == "tool")
        .unwrap_or_else(|| panic!("no tool answer in the task's last request: {last}"));
    assert_eq!(tool_answer["content"], "v1", "{tool_answer}");

    // The next call gets v2.
    mock.push_for(MODEL_NAME, Turn::tool_call("version", json!({})));
    mock.push_for(MODEL_NAME, Turn::text("now v2"));
    assert_eq!(outputs(&chat(&mesh, "Which version?").await), ["v2"]);
}

#[tokio::test]
async fn create_skill_is_refused_on_the_process_backend_without_permission() {
    let mock = MockLlm::start().await;
    let mesh = mesh(&mock, None, false).await;
    mock.push_for(
        MODEL_NAME,
        Turn::tool_call(
            "create_skill",
            json!({"name": "x", "language": "python", "code": "def reverse(text): pass",
                   "tools": reverse_tool()}),
        ),
    );
    mock.push_for(MODEL_NAME, Turn::text("cannot"));
    let out = outputs(&chat(&mesh, "Add a tool.").await);
    assert!(
        out[0].starts_with("Error: capability 'skills' is not granted to skill 'authoring': "),
        "{}",
        out[0]
    );
    assert!(
        out[0].contains("runtime.allow_skill_compile: true"),
        "{}",
        out[0]
    );
    assert!(!mesh.agent_data("a").join("skills/x").exists());
}
