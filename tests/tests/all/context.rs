//! The context manager on a real agent: a conversation driven past 60 % and 70 % of a small
//! window flushes facts, then compacts (facts first, the last 4 messages kept, the rest
//! archived), and no request is ever larger than the window.

use openlegion_mock_llm::{MockLlm, RecordedRequest, Turn};
use openlegion_tests::{MODEL_NAME, MeshProcess, local_models_dir};

use crate::memory_tools::{call, memory_mesh_with, parsed};
use serde_json::{Value, json};

/// The window the tests give the agent, in tokens.
const WINDOW: usize = 60_000;

/// The system prompt of the agent's fact-extraction calls begins so.
const EXTRACTION: &str = "You keep the long-term memory";

fn is_extraction(request: &RecordedRequest) -> bool {
    request.body["messages"][0]["content"]
        .as_str()
        .is_some_and(|s| s.starts_with(EXTRACTION))
}

fn messages(request: &RecordedRequest) -> Vec<Value> {
    request.body["messages"].as_array().unwrap().clone()
}

/// Agent `a` with a window of [`WINDOW`] tokens and a memory embedding through the local
/// model.
async fn mesh_with_window(mock: &MockLlm) -> MeshProcess {
    let models = local_models_dir();
    let agents = format!("agents:\n  a:\n    role: a\n    context_window: {WINDOW}\n");
    memory_mesh_with(mock, &models, &agents).await
}

/// Tokens of the request the agent sends with an empty conversation (system prompt and
/// tools), as the provider counted them.
async fn baseline(mesh: &MeshProcess, mock: &MockLlm) -> usize {
    mock.push_for(MODEL_NAME, Turn::text("Hello."));
    mesh.chat("a", "hi").await;
    let status = mesh
        .operator()
        .get("/mesh/agents/a/api/status")
        .await
        .expect(200);
    assert_eq!(status["context_max"], WINDOW, "{status}");
    let tokens = status["context_tokens"].as_u64().unwrap() as usize;
    assert!(tokens > 100 && tokens < WINDOW / 3, "{status}");
    mesh.operator()
        .post("/mesh/agents/a/api/chat/reset", &json!({}))
        .await
        .expect(200);
    tokens
}

#[tokio::test]
async fn a_long_chat_flushes_at_60_then_compacts_at_70_keeping_the_last_four_messages() {
    let mock = MockLlm::start().await;
    let mesh = mesh_with_window(&mock).await;
    let base = baseline(&mesh, &mock).await;
    // Two messages bring the conversation to 65 % of the window, a third to over 90 %.
    let share = (WINDOW * 65 / 100 - base) / 2;
    let message = |tag: &str| format!("{tag} {}", "lorem ipsum ".repeat(share * 4 / 12));

    mock.push_for(MODEL_NAME, Turn::text("Noted one."));
    mesh.chat("a", &message("first")).await;
    let flushed = json!({"facts": [
        {"key": "cat_name", "value": "The user's cat is called Whiskerino", "category": "pets"}
    ], "summary": "unused"});
    mock.push_for(MODEL_NAME, Turn::text(flushed.to_string()));
    mock.push_for(MODEL_NAME, Turn::text("Noted two."));
    mesh.chat("a", &message("second")).await;
    let facts = json!({"facts": [
        {"key": "launch_date", "value": "The product launches on 3 March", "category": "project"},
        {"key": "favourite_colour", "value": "The user's favourite colour is teal"}
    ], "summary": "The user sent two long texts; the cat is Whiskerino."});
    mock.push_for(MODEL_NAME, Turn::text(facts.to_string()));
    mock.push_for(MODEL_NAME, Turn::text("Noted three."));
    let third = message("third");
    let reply = mesh.chat("a", &third).await;
    assert_eq!(reply["response"], "Noted three.", "{reply}");

    let requests = mock.requests_for(MODEL_NAME);
    let kinds: Vec<bool> = requests.iter().map(is_extraction).collect();
    // hi, first, flush, second, compaction, third.
    assert_eq!(
        kinds,
        [false, false, true, false, true, false],
        "base {base}"
    );

    // The flush read the whole conversation; the compaction only what it replaced.
    let flush = messages(&requests[2])[1]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(flush.contains("user: first") && flush.contains("user: second"));
    let compaction = messages(&requests[4])[1]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(compaction.contains("user: first") && !compaction.contains("user: second"));

    // After: the system prompt, the summary, and the last four messages as they were.
    let before = messages(&requests[3]);
    let after = messages(&requests[5]);
    assert_eq!(after.len(), 6, "{}", after[1]);
    let summary = after[1]["content"].as_str().unwrap();
    assert!(
        summary.starts_with("[Summary of the earlier conversation]"),
        "{summary}"
    );
    assert!(summary.contains("the cat is Whiskerino") && summary.contains("launch_date"));
    // The last four: the first answer, the second message and its answer, the third.
    assert!(
        after[2..4] == before[before.len() - 2..],
        "the last messages kept"
    );
    assert_eq!(after[4]["content"], "Noted two.");
    assert!(after[5]["content"] == third.as_str());
    let sent = requests[5].body.to_string().len() / 4;
    assert!(sent < WINDOW * 70 / 100, "{sent} tokens after compacting");

    // Write-then-compact: every fact is in MEMORY.md, the messages in the archive.
    let workspace = mesh.agent_data("a").join("workspace");
    let memory = std::fs::read_to_string(workspace.join("MEMORY.md")).unwrap();
    for fact in [
        "Whiskerino",
        "launches on 3 March",
        "favourite colour is teal",
    ] {
        assert!(
            memory.contains(fact),
            "{fact:?} not in MEMORY.md:\n{memory}"
        );
    }
    let archive: String = std::fs::read_dir(workspace.join("memory/archive"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    assert!(
        archive.contains(&message("first")),
        "first message archived whole"
    );

    // And in the memory database: memory_recall finds every fact extracted.
    for (query, expected) in [
        ("What is the name of the user's cat?", "Whiskerino"),
        ("When does the product launch?", "launches on 3 March"),
        (
            "What colour does the user like best?",
            "favourite colour is teal",
        ),
    ] {
        let (recalled, _) = call(
            &mesh,
            &mock,
            query,
            "memory_recall",
            json!({"query": query}),
            "Found it.",
        )
        .await;
        let recalled = parsed(&recalled);
        let top = recalled["facts"][0]["value"].as_str().unwrap_or_default();
        assert!(top.contains(expected), "{query:?} → {recalled}");
    }
}

#[tokio::test]
async fn no_request_is_larger_than_the_window() {
    let mock = MockLlm::start().await;
    let mesh = mesh_with_window(&mock).await;
    // One message of 1.5 windows: nothing older to compact, so it is cut to fit.
    let huge = format!("START {} END", "lorem ipsum ".repeat(WINDOW * 6 / 12));
    mock.push_for(MODEL_NAME, Turn::text("That was long."));
    let reply = mesh.chat("a", &huge).await;
    assert_eq!(reply["response"], "That was long.", "{reply}");
    let requests = mock.requests_for(MODEL_NAME);
    assert_eq!(
        requests.len(),
        1,
        "no extraction call for nothing to compact"
    );
    let sent = requests[0].body.to_string().len() / 4;
    assert!(
        sent <= WINDOW * 90 / 100,
        "{sent} tokens sent of a {WINDOW}-token window"
    );
    let user = messages(&requests[0]).last().unwrap()["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(user.starts_with("START") && user.contains("cut to fit the context window"));
    let archive: String = std::fs::read_dir(mesh.agent_data("a").join("workspace/memory/archive"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    assert!(archive.contains(&huge), "the whole message archived");
}
