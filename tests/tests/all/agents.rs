//! Real agents (the `openlegion-agent` binary on the process backend) driven by the scripted
//! mock LLM: the loop, the built-in WebAssembly tools, permissions as tool results, sandbox
//! limits, hot reload, file confinement, and supervision.

use std::time::Duration;

use crate::outputs;
use openlegion_mock_llm::{MockLlm, Turn};
use openlegion_tests::{MODEL_NAME, agent_mesh};
use serde_json::{Value, json};

const TEAM: &str = "agents:\n  writer:\n    role: writer\n  reader:\n    role: reader\n  outsider:\n    role: outsider\n";

fn team_permissions() -> Value {
    json!({
        "writer": {"blackboard_read": ["context/*"], "blackboard_write": ["context/*"]},
        "reader": {"blackboard_read": ["context/*"]},
        "outsider": {"blackboard_read": ["context/*"]}
    })
}

#[tokio::test]
async fn a_chat_writes_a_file_and_shares_state_with_another_agent() {
    let mock = MockLlm::start().await;
    let mesh = agent_mesh(&mock, TEAM, team_permissions()).await;

    mock.push_for(
        MODEL_NAME,
        Turn::tool_call(
            "write_file",
            json!({"path": "notes/plan.md", "content": "ship it"}),
        ),
    );
    mock.push_for(
        MODEL_NAME,
        Turn::tool_call(
            "write_shared_state",
            json!({"key": "context/plan", "value": {"step": 1}}),
        ),
    );
    mock.push_for(MODEL_NAME, Turn::text("Plan written and shared."));
    let reply = mesh.chat("writer", "Write the plan and share it.").await;
    assert_eq!(reply["response"], "Plan written and shared.", "{reply}");
    let out = outputs(&reply);
    assert!(out[0].contains("\"bytes_written\":7"), "{out:?}");
    assert!(
        out[1].contains("\"written\":true") || out[1].contains("\"version\":1"),
        "{out:?}"
    );
    let file = std::fs::read_to_string(mesh.agent_data("writer").join("notes/plan.md")).unwrap();
    assert_eq!(file, "ship it");
    let entry = mesh
        .operator()
        .get("/mesh/blackboard/context/plan")
        .await
        .expect(200);
    assert_eq!(
        (entry["value"].clone(), entry["written_by"].as_str()),
        (json!({"step": 1}), Some("writer"))
    );

    // The model saw each tool's result before its next step.
    let sent = mock.requests_for(MODEL_NAME);
    assert_eq!(sent.len(), 3);
    let tools: Vec<&str> = sent[0].body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    for builtin in [
        "read_file",
        "write_file",
        "list_files",
        "save_artifact",
        "http_request",
        "list_agents",
        "read_shared_state",
        "write_shared_state",
        "list_shared_state",
        "publish_event",
    ] {
        assert!(tools.contains(&builtin), "{builtin} missing from {tools:?}");
    }
    assert!(
        sent[1].body["messages"]
            .to_string()
            .contains("bytes_written")
    );

    mock.push_for(
        MODEL_NAME,
        Turn::tool_call("read_shared_state", json!({"key": "context/plan"})),
    );
    mock.push_for(MODEL_NAME, Turn::text("The plan is at step 1."));
    let reply = mesh.chat("reader", "What step is the plan at?").await;
    let out = outputs(&reply);
    assert!(
        out[0].contains("\"found\":true")
            && out[0].contains("\"step\":1")
            && out[0].contains("writer"),
        "{out:?}"
    );

    mock.push_for(
        MODEL_NAME,
        Turn::tool_call(
            "write_shared_state",
            json!({"key": "context/plan", "value": {"step": 99}}),
        ),
    );
    mock.push_for(MODEL_NAME, Turn::text("I could not change it."));
    let reply = mesh.chat("outsider", "Change the plan.").await;
    let out = outputs(&reply);
    assert!(
        out[0].contains("Agent outsider cannot write context/plan"),
        "{out:?}"
    );
    assert_eq!(reply["response"], "I could not change it.");
    assert_eq!(
        mesh.operator()
            .get("/mesh/blackboard/context/plan")
            .await
            .expect(200)["value"]["step"],
        1
    );
}

#[tokio::test]
async fn file_tools_are_confined_to_the_agents_data() {
    let mock = MockLlm::start().await;
    let mesh = agent_mesh(&mock, "agents:\n  a:\n    role: a\n", json!({})).await;
    let data = mesh.agent_data("a");
    std::fs::write(data.join("session_log.md"), "line0\nline1\nline2\nline3\n").unwrap();
    std::os::unix::fs::symlink("/etc", data.join("escape")).unwrap();
    let cases = [
        (
            json!({"path": "../../etc/passwd"}),
            "Path traversal not allowed: ../../etc/passwd",
        ),
        (
            json!({"path": "/etc/passwd"}),
            "Absolute paths not allowed: /etc/passwd",
        ),
        (
            json!({"path": "/data/../etc/passwd"}),
            "Path traversal not allowed",
        ),
        (
            json!({"path": "escape/passwd"}),
            "Symlink escapes allowed root: escape/passwd",
        ),
        (
            json!({"path": "../data_evil/x"}),
            "Path traversal not allowed",
        ),
        (
            json!({"path": "/data/session_log.md", "offset": 1, "limit": 2}),
            "line1\\nline2",
        ),
    ];
    for (args, _) in &cases {
        mock.push_for(MODEL_NAME, Turn::tool_call("read_file", args.clone()));
    }
    mock.push_for(
        MODEL_NAME,
        Turn::tool_call(
            "write_file",
            json!({"path": "workspace/SOUL.md", "content": "evil"}),
        ),
    );
    mock.push_for(
        MODEL_NAME,
        Turn::tool_call(
            "write_file",
            json!({"path": "workspace/notes.md", "content": "ok"}),
        ),
    );
    mock.push_for(MODEL_NAME, Turn::text("done"));
    let reply = mesh.chat("a", "Probe the files.").await;
    let out = outputs(&reply);
    for (i, (_, expected)) in cases.iter().enumerate() {
        assert!(
            out[i].contains(expected),
            "case {i}: {} not in {}",
            expected,
            out[i]
        );
    }
    assert!(!out[5].contains("line0") && !out[5].contains("line3"));
    assert!(out[6].contains("identity file"), "{}", out[6]);
    assert!(out[7].contains("\"bytes_written\":2"), "{}", out[7]);
    // The agent's own template, not the model's words.
    let soul = std::fs::read_to_string(data.join("workspace/SOUL.md")).unwrap_or_default();
    assert!(!soul.contains("evil"), "{soul}");
}

#[tokio::test]
async fn the_loop_stops_a_model_that_repeats_itself() {
    let mock = MockLlm::start().await;
    let mesh = agent_mesh(&mock, "agents:\n  a:\n    role: a\n", json!({})).await;
    for _ in 0..10 {
        mock.push_for(
            MODEL_NAME,
            Turn::tool_call("list_files", json!({"path": "."})),
        );
    }
    let reply = mesh.chat("a", "Look around.").await;
    assert!(
        reply["response"]
            .as_str()
            .unwrap()
            .contains("Stopped: `list_files` was called 5 times"),
        "{reply}"
    );
    let out = outputs(&reply);
    assert_eq!(out.len(), 5);
    assert!(out[2].contains("WARNING"), "{out:?}");
    // The agent answers normally afterwards (the leftover scripted turns are cleared).
    mock.reset();
    mock.push_for(MODEL_NAME, Turn::text("Fine again."));
    assert_eq!(mesh.chat("a", "Hello?").await["response"], "Fine again.");
}

#[tokio::test]
async fn an_llm_failure_is_an_answer_not_a_crash() {
    let mock = MockLlm::start().await;
    let mesh = agent_mesh(&mock, "agents:\n  a:\n    role: a\n", json!({})).await;
    mock.push_for(
        MODEL_NAME,
        Turn::error(400).with_body(json!({"error": {"message": "bad request from the model"}})),
    );
    let reply = mesh.chat("a", "Hi").await;
    assert!(
        reply["response"]
            .as_str()
            .unwrap()
            .contains("bad request from the model"),
        "{reply}"
    );
    mock.push_for(MODEL_NAME, Turn::text("Recovered."));
    assert_eq!(mesh.chat("a", "Again").await["response"], "Recovered.");
}

#[tokio::test]
async fn streaming_chat_and_the_agent_api_through_the_mesh() {
    let mock = MockLlm::start().await;
    let mesh = agent_mesh(&mock, "agents:\n  a:\n    role: scribe\n", json!({})).await;
    mock.push_for(MODEL_NAME, Turn::tool_call("list_files", json!({})));
    mock.push_for(MODEL_NAME, Turn::text("Nothing much here."));
    let op = mesh.operator();
    let resp = op
        .http()
        .post(format!("{}/mesh/agents/a/api/chat/stream", op.base()))
        .bearer_auth(op.token().unwrap())
        .json(&json!({"message": "What is here?"}))
        .send()
        .await
        .unwrap();
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let body = resp.text().await.unwrap();
    let events: Vec<Value> = body
        .split("\n\n")
        .filter_map(|f| f.lines().find_map(|l| l.strip_prefix("data: ")))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds.first(), Some(&"tool_start"), "{kinds:?}");
    assert_eq!(kinds[1], "tool_result");
    assert!(
        kinds.iter().filter(|k| **k == "text_delta").count() >= 2,
        "{kinds:?}"
    );
    assert_eq!(kinds.last(), Some(&"done"));
    assert_eq!(events.last().unwrap()["response"], "Nothing much here.");

    let status = op.get("/mesh/agents/a/api/status").await.expect(200);
    assert_eq!(
        (
            status["agent_id"].as_str(),
            status["role"].as_str(),
            status["state"].as_str()
        ),
        (Some("a"), Some("scribe"), Some("idle"))
    );
    let caps = op.get("/mesh/agents/a/api/capabilities").await.expect(200);
    assert!(caps["skills"].as_array().unwrap().len() >= 10);
    op.post("/mesh/agents/a/api/chat/reset", &json!({}))
        .await
        .expect(200);
    let history = op.get("/mesh/agents/a/api/history").await.expect(200);
    assert!(
        history["logs"][0]["content"]
            .as_str()
            .unwrap()
            .contains("User: What is here?"),
        "{history}"
    );
    // The agent registered itself with its tools as capabilities.
    let agents = op.get("/mesh/agents").await.expect(200);
    assert_eq!(agents["a"]["registered"], true);
    assert!(agents["a"]["url"].as_str().unwrap().starts_with("unix:"));
    // Nobody but the mesh can drive the agent: its socket wants the agent's token.
    let socket = agents["a"]["url"]
        .as_str()
        .unwrap()
        .trim_start_matches("unix:")
        .to_owned();
    let raw = openlegion_mesh::http_client::builder()
        .unix_socket(std::path::PathBuf::from(socket))
        .build()
        .unwrap();
    assert_eq!(
        raw.post("http://agent/chat")
            .json(&json!({"message": "x"}))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        raw.get("http://agent/status")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn a_crashed_agent_is_restarted_and_keeps_its_files() {
    let mock = MockLlm::start().await;
    let mesh = agent_mesh(&mock, "agents:\n  a:\n    role: a\n", json!({})).await;
    mock.push_for(
        MODEL_NAME,
        Turn::tool_call(
            "write_file",
            json!({"path": "keep.txt", "content": "still here"}),
        ),
    );
    mock.push_for(MODEL_NAME, Turn::text("saved"));
    mesh.chat("a", "save").await;
    let before = mesh
        .operator()
        .get("/mesh/agents/a/api/status")
        .await
        .expect(200)["uptime_seconds"]
        .as_f64()
        .unwrap();
    let pid = mesh.agent_pid("a");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    mesh.wait_agent("a").await;
    assert_ne!(mesh.agent_pid("a"), pid, "a new process");
    let after = mesh
        .operator()
        .get("/mesh/agents/a/api/status")
        .await
        .expect(200)["uptime_seconds"]
        .as_f64()
        .unwrap();
    assert!(after < before + 0.3 || after < 5.0);
    mock.push_for(
        MODEL_NAME,
        Turn::tool_call("read_file", json!({"path": "keep.txt"})),
    );
    mock.push_for(MODEL_NAME, Turn::text("read it"));
    assert!(outputs(&mesh.chat("a", "read").await)[0].contains("still here"));
}

#[tokio::test]
async fn a_task_runs_in_the_background_and_leaves_a_result() {
    let mock = MockLlm::start().await;
    let mesh = agent_mesh(&mock, "agents:\n  a:\n    role: analyst\n", json!({})).await;
    mock.push_for(
        MODEL_NAME,
        Turn::tool_call(
            "write_file",
            json!({"path": "report.md", "content": "42 leads"}),
        ),
    );
    mock.push_for(
        MODEL_NAME,
        Turn::text("{\"leads\": 42, \"report\": \"report.md\"}"),
    );
    let op = mesh.operator();
    op.get("/mesh/agents/a/api/result").await.expect(404);
    let task = json!({"task_type": "count_leads", "input_data": {"region": "EU"}, "timeout": 60});
    let accepted = op.post("/mesh/agents/a/api/task", &task).await.expect(200);
    // Through the agent's lane now: queued, with the lane item to follow.
    assert_eq!(
        (accepted["accepted"].clone(), accepted["status"].clone()),
        (json!(true), json!("queued"))
    );
    assert!(accepted["lane_item"].as_str().unwrap().starts_with("lane_"));
    let mut result = Value::Null;
    for _ in 0..200 {
        let reply = op.get("/mesh/agents/a/api/result").await;
        if reply.status == 200 {
            result = reply.body;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(result["status"], "complete", "{result}");
    assert_eq!(
        result["result"],
        json!({"leads": 42, "report": "report.md"})
    );
    assert!(result["task_id"].as_str().unwrap().starts_with("task_"));
    let prompt = mock.requests_for(MODEL_NAME)[0].body["messages"][1]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        prompt.contains("count_leads") && prompt.contains("\"region\": \"EU\""),
        "{prompt}"
    );
    let status = op.get("/mesh/agents/a/api/status").await.expect(200);
    assert_eq!(status["tasks_completed"], 1);
}

#[tokio::test]
async fn the_prompt_carries_the_workspace_files_and_the_project_brief() {
    let mock = MockLlm::start().await;
    let mut mesh = agent_mesh(
        &mock,
        "agents:\n  a:\n    role: analyst\n    system_prompt: Always answer in French.\n",
        json!({}),
    )
    .await;
    let workspace = mesh.agent_data("a").join("workspace");
    std::fs::write(workspace.join("SOUL.md"), "You are curious and precise.").unwrap();
    std::fs::write(
        mesh.config_dir().parent().unwrap().join("PROJECT.md"),
        "We sell solar panels in Lyon.",
    )
    .unwrap();
    let old = mesh.agent_pid("a");
    // The brief is copied in when the mesh starts the agent; the mesh dying takes its
    // agents with it.
    mesh.kill9();
    for _ in 0..100 {
        if !std::path::Path::new(&format!("/proc/{old}")).exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        !std::path::Path::new(&format!("/proc/{old}")).exists(),
        "the agent outlived its mesh"
    );
    mesh.restart().await;
    mesh.wait_agent("a").await;
    mock.push_for(MODEL_NAME, Turn::text("Bonjour."));
    mesh.chat("a", "Hello").await;
    let system = mock.requests_for(MODEL_NAME)[0].body["messages"][0]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    for expected in [
        "You are a",
        "Always answer in French.",
        "## PROJECT.md\nWe sell solar panels in Lyon.",
        "## SOUL.md\nYou are curious and precise.",
    ] {
        assert!(
            system.contains(expected),
            "{expected:?} missing from:\n{system}"
        );
    }
}

#[tokio::test]
async fn events_and_messages_reach_the_agent() {
    let mock = MockLlm::start().await;
    let perms = json!({"a": {"can_subscribe": ["alerts"]}, "default": {"can_publish": ["alerts"], "can_message": ["*"]}});
    let mesh = agent_mesh(&mock, "agents:\n  a:\n    role: watcher\n", perms).await;
    let op = mesh.operator();
    // Registration subscribed the agent to its configured topic; the mesh pushes the event
    // over the agent's socket, and the agent notes it in its daily log.
    let mut notified = 0;
    for _ in 0..100 {
        notified = op
            .post(
                "/mesh/publish",
                &json!({"topic": "alerts", "payload": {"level": "high"}}),
            )
            .await
            .expect(200)["subscribers_notified"]
            .as_u64()
            .unwrap();
        if notified == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(notified, 1);
    op.post(
        "/mesh/message",
        &json!({"to": "a", "type": "query", "payload": {"q": "status?"}}),
    )
    .await
    .expect(200);
    let mut log = String::new();
    for _ in 0..100 {
        log = op.get("/mesh/agents/a/api/history").await.expect(200)["logs"].to_string();
        if log.contains("Message from operator (query)") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        log.contains("Message from mesh (event)") && log.contains("\\\"level\\\":\\\"high\\\""),
        "{log}"
    );
    assert!(log.contains("Message from operator (query)"), "{log}");
    // The agent logs a message before it answers the push, and the mesh takes the message
    // out of the inbox once that answer arrives: wait for that step too.
    let mut inbox = json!(null);
    for _ in 0..100 {
        inbox = op.get("/mesh/agents").await.expect(200)["a"]["inbox"].clone();
        if inbox == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(inbox, 0, "delivered messages leave the inbox");
}
