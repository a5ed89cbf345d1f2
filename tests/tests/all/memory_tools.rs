//! The memory tools end to end: real agents on the process backend, a real mesh running
//! the local embedding model, real SQLite and tantivy, and the scripted mock LLM calling
//! `memory_save`, `memory_recall` and `memory_search` as a model would.

use std::path::Path;
use std::time::{Duration, Instant};

use openlegion_mock_llm::{MockLlm, Turn};
use openlegion_tests::{MODEL_NAME, MeshProcess, agent_mesh_env, binary, local_models_dir};
use serde_json::{Value, json};

/// A mesh with agent `a` whose memory embeds through the mesh's local model.
async fn memory_mesh(mock: &MockLlm, models: &Path) -> MeshProcess {
    memory_mesh_with(mock, models, "agents:\n  a:\n    role: assistant\n").await
}

/// A mesh with the agents of `agents_yaml`, whose memories embed through the mesh's local
/// model.
pub(crate) async fn memory_mesh_with(
    mock: &MockLlm,
    models: &Path,
    agents_yaml: &str,
) -> MeshProcess {
    agent_mesh_env(
        mock,
        agents_yaml,
        json!({}),
        // Continues the `llm:` section; with `runtime:` given, agent_mesh_env adds none.
        &format!(
            "  embedding_model: local/all-minilm-l6-v2\nruntime:\n  isolation: process\n  agent_binary: {}\n",
            binary("openlegion-agent", "openlegion-agent").display()
        ),
        vec![(
            "OPENLEGION_MODELS_DIR".into(),
            models.display().to_string(),
        )],
    )
    .await
}

/// One chat turn in which the model calls `tool` with `args` and then says `then`; returns
/// the tool's output (or error text) and the reply.
pub(crate) async fn call(
    mesh: &MeshProcess,
    mock: &MockLlm,
    message: &str,
    tool: &str,
    args: Value,
    then: &str,
) -> (String, Value) {
    mock.push_for(MODEL_NAME, Turn::tool_call(tool, args));
    mock.push_for(MODEL_NAME, Turn::text(then));
    let reply = mesh.chat("a", message).await;
    let output = reply["tool_outputs"][0]["output"]
        .as_str()
        .unwrap_or_else(|| panic!("no tool output: {reply}"))
        .to_owned();
    (output, reply)
}

pub(crate) fn parsed(output: &str) -> Value {
    serde_json::from_str(output).unwrap_or_else(|e| panic!("{e}: {output}"))
}

/// Stops agent `a`'s process (SIGTERM) and waits until the mesh has started a new one.
async fn restart_agent(mesh: &MeshProcess) {
    let pid = mesh.agent_pid("a");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    mesh.wait_agent_restarted("a", pid, Duration::from_secs(60))
        .await;
}

#[tokio::test]
async fn whiskerino_is_remembered_across_a_reset_and_a_restart() {
    let models = local_models_dir();
    let mock = MockLlm::start().await;
    let mesh = memory_mesh(&mock, &models).await;
    let (saved, _) = call(
        &mesh,
        &mock,
        "My cat's name is Whiskerino",
        "memory_save",
        json!({"key": "user_cat_name", "value": "The user's cat is named Whiskerino",
               "category": "personal", "source": "user"}),
        "I will remember that.",
    )
    .await;
    let saved = parsed(&saved);
    assert_eq!(saved["saved"], "added", "{saved}");
    assert_eq!(saved["category"], "personal", "{saved}");
    let log = std::fs::read_to_string(
        mesh.agent_data("a")
            .join("workspace")
            .join(saved["logged_to"].as_str().unwrap()),
    )
    .unwrap();
    assert!(
        log.contains("Remembered [personal] user_cat_name: The user's cat is named Whiskerino"),
        "{log}"
    );

    mesh.operator()
        .post("/mesh/agents/a/api/chat/reset", &json!({}))
        .await
        .expect(200);
    restart_agent(&mesh).await;

    let before = mock.requests_for(MODEL_NAME).len();
    let started = Instant::now();
    let (recalled, reply) = call(
        &mesh,
        &mock,
        "What is my cat's name?",
        "memory_recall",
        json!({"query": "What is the name of the user's cat?"}),
        "Your cat is called Whiskerino.",
    )
    .await;
    eprintln!("recall turn after restart: {:?}", started.elapsed());
    assert!(recalled.contains("Whiskerino"), "{recalled}");
    let recalled = parsed(&recalled);
    assert_eq!(recalled["facts"][0]["key"], "user_cat_name", "{recalled}");
    assert!(
        recalled.get("keyword_only").is_none(),
        "hybrid, not keyword-only: {recalled}"
    );
    assert_eq!(reply["response"], "Your cat is called Whiskerino.");

    let requests = mock.requests_for(MODEL_NAME);
    // Session 2 starts fresh: the first request holds only the system prompt and the question.
    let first = &requests[before].body["messages"];
    let users: Vec<&Value> = first
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "user")
        .collect();
    assert_eq!(users.len(), 1, "{first}");
    assert_eq!(users[0]["content"], "What is my cat's name?");
    // The most salient facts are in the system prompt of the new session.
    let system = first[0]["content"].as_str().unwrap();
    assert!(
        system.contains("## Memory") && system.contains("Whiskerino"),
        "{system}"
    );
    // The recall's result reached the model as the tool message of the second request.
    let second = requests[before + 1].body["messages"].as_array().unwrap();
    let tool = second
        .iter()
        .find(|m| m["role"] == "tool")
        .unwrap_or_else(|| panic!("no tool message: {second:?}"));
    assert!(
        tool["content"].as_str().unwrap().contains("Whiskerino"),
        "{tool}"
    );
}

#[tokio::test]
async fn hostile_input_gets_clear_answers_and_the_agent_keeps_working() {
    let models = local_models_dir();
    let mock = MockLlm::start().await;
    let mesh = memory_mesh(&mock, &models).await;

    // A 5 MB value: refused before it reaches the skill, naming the field.
    let huge = "x".repeat(5 * 1024 * 1024);
    let (refused, _) = call(
        &mesh,
        &mock,
        "Remember this",
        "memory_save",
        json!({"key": "blob", "value": huge}),
        "That was too large.",
    )
    .await;
    assert!(refused.contains("'value'"), "{refused}");
    assert!(refused.contains("more than the"), "{refused}");
    // Over the fact limit but under the call limit: the memory names the field too.
    let (refused, _) = call(
        &mesh,
        &mock,
        "Remember this",
        "memory_save",
        json!({"key": "blob", "value": "y".repeat(100_000)}),
        "Still too large.",
    )
    .await;
    assert!(
        refused.contains("value is 100000 bytes, more than the 16384 allowed"),
        "{refused}"
    );

    // Only stop words: an answer with a note, not a failure.
    let (answer, _) = call(
        &mesh,
        &mock,
        "?",
        "memory_search",
        json!({"query": "the of and is to"}),
        "Nothing to search for.",
    )
    .await;
    let answer = parsed(&answer);
    assert_eq!(answer["count"], 0, "{answer}");
    assert!(
        answer["note"]
            .as_str()
            .unwrap()
            .contains("no searchable words")
    );

    // Bytes that are not UTF-8 in a workspace file: still indexed and found.
    let workspace = mesh.agent_data("a").join("workspace");
    std::fs::write(
        workspace.join("notes-latin1.md"),
        b"Caf\xe9 r\xe9sum\xe9 \xff\xfe: the quarterly zanzibar offsite is in Lisbon\n",
    )
    .unwrap();
    let (found, _) = call(
        &mesh,
        &mock,
        "Where is the offsite?",
        "memory_search",
        json!({"query": "zanzibar offsite"}),
        "In Lisbon.",
    )
    .await;
    let found = parsed(&found);
    assert_eq!(found["results"][0]["kind"], "file", "{found}");
    assert_eq!(found["results"][0]["path"], "notes-latin1.md", "{found}");
    assert!(
        found["results"][0]["snippet"]
            .as_str()
            .unwrap()
            .contains("Lisbon")
    );

    // And the agent still works: a normal save and recall.
    let (saved, _) = call(
        &mesh,
        &mock,
        "I prefer tea",
        "memory_save",
        json!({"key": "drink", "value": "The user prefers green tea to coffee"}),
        "Noted.",
    )
    .await;
    let saved = parsed(&saved);
    assert_eq!(saved["saved"], "added", "{saved}");
    assert_eq!(
        saved["category_chosen_by"], "default",
        "no categories yet: {saved}"
    );
    let (saved, _) = call(
        &mesh,
        &mock,
        "I like black tea",
        "memory_save",
        json!({"key": "tea_black", "value": "The user likes black tea",
               "category": "preferences"}),
        "Noted.",
    )
    .await;
    assert_eq!(parsed(&saved)["category"], "preferences");
    let (saved, _) = call(
        &mesh,
        &mock,
        "I like jasmine tea too",
        "memory_save",
        json!({"key": "tea_jasmine", "value": "The user also likes jasmine tea"}),
        "Noted.",
    )
    .await;
    let saved = parsed(&saved);
    assert_eq!(
        (
            saved["category"].as_str(),
            saved["category_chosen_by"].as_str()
        ),
        (Some("preferences"), Some("nearest")),
        "the nearest existing category by meaning: {saved}"
    );
}

#[tokio::test]
async fn a_corrupt_memory_db_is_moved_aside_reported_and_memory_works_after() {
    let models = local_models_dir();
    let mock = MockLlm::start().await;
    let mesh = memory_mesh(&mock, &models).await;
    let data = mesh.agent_data("a");
    // Stop the agent, damage its database, let the mesh start it again.
    let pid = mesh.agent_pid("a");
    let garbage: Vec<u8> = (0..64 * 1024).map(|i| (i * 7 % 251) as u8).collect();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGSTOP,
    )
    .unwrap();
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(data.join(format!("memory.db{suffix}")));
    }
    std::fs::write(data.join("memory.db"), &garbage).unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    mesh.wait_agent_restarted("a", pid, Duration::from_secs(60))
        .await;

    let aside: Vec<String> = std::fs::read_dir(&data)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| {
            n.starts_with("memory.db")
                && n != "memory.db"
                && !n.ends_with("-wal")
                && !n.ends_with("-shm")
        })
        .collect();
    assert_eq!(aside.len(), 1, "moved aside once: {aside:?}");
    assert_eq!(std::fs::read(data.join(&aside[0])).unwrap(), garbage);
    let log = mesh.agent_log("a");
    assert!(log.contains("MEMORY DATABASE DAMAGED"), "{log}");

    let history = mesh
        .operator()
        .get("/mesh/agents/a/api/history")
        .await
        .expect(200);
    let problem = history["memory_problem"].as_str().unwrap_or_default();
    assert!(
        problem.contains("moved aside") && problem.contains(&aside[0]),
        "{history}"
    );

    // The first memory answer carries the problem to the model; memory works.
    let (saved, _) = call(
        &mesh,
        &mock,
        "Remember my birthday is 3 May",
        "memory_save",
        json!({"key": "birthday", "value": "The user's birthday is on 3 May", "category": "personal"}),
        "Saved.",
    )
    .await;
    let saved = parsed(&saved);
    assert_eq!(saved["saved"], "added", "{saved}");
    assert!(
        saved["memory_problem"]
            .as_str()
            .unwrap()
            .contains("moved aside"),
        "{saved}"
    );
    let (recalled, _) = call(
        &mesh,
        &mock,
        "When is my birthday?",
        "memory_recall",
        json!({"query": "user's birthday"}),
        "3 May.",
    )
    .await;
    let recalled = parsed(&recalled);
    assert!(
        recalled["facts"][0]["value"]
            .as_str()
            .unwrap()
            .contains("3 May"),
        "{recalled}"
    );
    assert!(
        recalled.get("memory_problem").is_none(),
        "reported once: {recalled}"
    );
}

#[tokio::test]
async fn memory_search_sees_a_workspace_file_edited_after_the_index_was_built() {
    let models = local_models_dir();
    let mock = MockLlm::start().await;
    let mesh = memory_mesh(&mock, &models).await;
    let workspace = mesh.agent_data("a").join("workspace");
    // The templates are there, and the first search indexes them.
    assert!(workspace.join("HEARTBEAT.md").is_file());
    assert!(workspace.join("learnings/corrections.md").is_file());
    let (first, _) = call(
        &mesh,
        &mock,
        "What do you know about the user?",
        "memory_search",
        json!({"query": "user preferences"}),
        "Not much yet.",
    )
    .await;
    let first = parsed(&first);
    assert!(first.to_string().contains("USER.md"), "{first}");
    let (miss, _) = call(
        &mesh,
        &mock,
        "Who is my manager?",
        "memory_search",
        json!({"query": "quillon"}),
        "No idea.",
    )
    .await;
    assert_eq!(parsed(&miss)["count"], 0, "{miss}");

    // The user edits USER.md after the index was built.
    let user = workspace.join("USER.md");
    let mut text = std::fs::read_to_string(&user).unwrap();
    text.push_str("\nThe user's manager is Quillon Fairweather.\n");
    std::fs::write(&user, text).unwrap();
    let started = Instant::now();
    let (hit, _) = call(
        &mesh,
        &mock,
        "Who is my manager?",
        "memory_search",
        json!({"query": "quillon"}),
        "Your manager.",
    )
    .await;
    eprintln!("search turn with one changed file: {:?}", started.elapsed());
    let hit = parsed(&hit);
    assert_eq!(hit["results"][0]["path"], "USER.md", "{hit}");
    assert!(
        hit["results"][0]["snippet"]
            .as_str()
            .unwrap()
            .contains("Quillon"),
        "{hit}"
    );
    // The index is kept under the data directory, not in the workspace.
    assert!(mesh.agent_data("a").join("index/workspace").is_dir());
    assert!(!workspace.join("index").exists());
}
