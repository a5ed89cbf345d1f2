//! Secret hygiene: every credential value configured on the mesh (the LLM provider's key,
//! the web search key, another vault credential, a webhook secret) is a unique canary; after
//! chats with tool calls, a cron run, a webhook delivery and the usual reads, no canary may
//! appear in the mesh's or the agents' logs, in any HTTP answer of the mesh API, in an
//! agent's environment, in any file under the state directory (agents' workspaces and
//! volumes, the SQLite databases and their WAL, logs), on the blackboard or in the exported
//! histories. A hit fails naming where.

use std::path::Path;
use std::time::{Duration, Instant};

use openlegion_mock_llm::{MockLlm, Turn};
use openlegion_tests::{MODEL_NAME, agent_mesh_env};
use serde_json::{Value, json};

const LLM_KEY: &str = "sk-canary-llm-5b1f0c7e9d2a4e61";
const SEARCH_KEY: &str = "canary-brave-3c9e21d8a7f04b55";
const OTHER_CRED: &str = "canary-vault-8e2d6a1c4b7f9035";
const HOOK_SECRET: &str = "canary-hook-1a7c3e5b9d2f4068";
const CANARIES: [&str; 4] = [LLM_KEY, SEARCH_KEY, OTHER_CRED, HOOK_SECRET];

/// Every place `text` holds a canary, as "`where`: canary".
fn hits(place: &str, text: &[u8], found: &mut Vec<String>) {
    for canary in CANARIES {
        if text.windows(canary.len()).any(|w| w == canary.as_bytes()) {
            found.push(format!("{place}: {canary}"));
        }
    }
}

/// Scans every file under `dir`.
fn scan_dir(dir: &Path, found: &mut Vec<String>, files: &mut usize) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            scan_dir(&path, found, files);
        } else if kind.is_file()
            && let Ok(bytes) = std::fs::read(&path)
        {
            *files += 1;
            hits(&path.display().to_string(), &bytes, found);
        }
    }
}

#[tokio::test]
async fn no_configured_credential_leaks_anywhere_an_agent_or_a_reader_can_see() {
    let mock = MockLlm::start().await;
    let hook = "hook_5e4d3c2b1a09f8e7d6c5b4a392817060";
    let mesh = agent_mesh_env(
        &mock,
        "agents:\n  a:\n    role: writer\n  b:\n    role: reader\n",
        json!({"default": {
            "blackboard_read": ["*"], "blackboard_write": ["*"], "can_use_internet": true,
            "can_manage_cron": true, "can_read_history": ["*"]
        }}),
        "search:\n  provider: brave\n",
        vec![
            ("OPENLEGION_CRED_OPENAI_API_KEY".into(), LLM_KEY.into()),
            (
                "OPENLEGION_CRED_BRAVE_SEARCH_API_KEY".into(),
                SEARCH_KEY.into(),
            ),
            ("OPENLEGION_CRED_GITHUB_TOKEN".into(), OTHER_CRED.into()),
            ("HOOK_SECRET_FOR_TEST".into(), HOOK_SECRET.into()),
        ],
    )
    .await;
    let op = mesh.operator();
    let mut answers: Vec<(String, Value)> = Vec::new();

    // A chat with tool calls: a file, a blackboard write, the agent's environment read back.
    mock.push_for(
        MODEL_NAME,
        Turn::tool_call(
            "write_file",
            json!({"path": "notes.md", "content": "hello"}),
        ),
    );
    mock.push_for(
        MODEL_NAME,
        Turn::tool_call(
            "write_shared_state",
            json!({"key": "notes/a", "value": {"text": "shared"}}),
        ),
    );
    mock.push_for(MODEL_NAME, Turn::text("done"));
    answers.push(("chat a".into(), mesh.chat("a", "Write notes.").await));
    mock.push_for(MODEL_NAME, Turn::text("hi"));
    answers.push(("chat b".into(), mesh.chat("b", "Hello.").await));

    // A cron job run now.
    let job = op
        .post(
            "/mesh/cron",
            &json!({"agent": "a", "schedule": "every 30m", "message": "cron tick"}),
        )
        .await
        .expect(200);
    answers.push(("POST /mesh/cron".into(), job.clone()));
    let before = mock.requests_for(MODEL_NAME).len();
    mock.push_for(MODEL_NAME, Turn::text("tick done"));
    let id = job["id"].as_str().unwrap_or_default().to_owned();
    let ran = op.post(&format!("/mesh/cron/{id}/run"), &json!({})).await;
    answers.push(("POST /mesh/cron/run".into(), ran.body));
    let deadline = Instant::now() + Duration::from_secs(60);
    while mock.requests_for(MODEL_NAME).len() <= before && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A webhook whose secret is a canary, delivered unsigned (refused) and read back.
    mesh.write_config(
        "webhooks.json",
        &json!({"hooks": {hook: {
            "id": hook, "name": "gh", "agent": "a", "created_at": "2026-01-01T00:00:00Z",
            "secret_env": "HOOK_SECRET_FOR_TEST"
        }}})
        .to_string(),
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let delivered = reqwest::Client::new()
        .post(format!("{}/webhook/hook/{hook}", mesh.url()))
        .body("{}")
        .send()
        .await
        .unwrap();
    answers.push((
        "POST /webhook/hook".into(),
        Value::String(delivered.text().await.unwrap_or_default()),
    ));

    // What readers see: the operator's routes, the agents' own, a web search that fails.
    for path in [
        "/mesh/status",
        "/mesh/agents",
        "/mesh/blackboard/?prefix=",
        "/mesh/costs?period=month",
        "/mesh/model-health",
        "/mesh/cron",
        "/mesh/lanes",
        "/mesh/agents/a/history?limit=100",
        "/mesh/agents/b/history?limit=100",
        "/mesh/agents/a/api/status",
        "/mesh/agents/a/api/history",
        "/mesh/agents/a/api/capabilities",
        "/mesh/agents/a/api/skills",
    ] {
        answers.push((format!("GET {path}"), op.get(path).await.body));
    }
    let agent_b = mesh.agent("reader2").await;
    answers.push((
        "POST /mesh/search".into(),
        agent_b
            .post("/mesh/search", &json!({"query": "x"}))
            .await
            .body,
    ));
    answers.push((
        "GET /mesh/agents/a/history as an agent".into(),
        agent_b.get("/mesh/agents/a/history").await.body,
    ));
    let metrics = reqwest::get(format!("{}/metrics", mesh.url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    answers.push(("GET /metrics".into(), Value::String(metrics)));

    let mut found = Vec::new();
    for (place, body) in &answers {
        hits(
            &format!("answer to {place}"),
            body.to_string().as_bytes(),
            &mut found,
        );
    }
    let mut scanned = vec![format!("{} HTTP answers", answers.len())];
    // The agents' environments.
    for id in ["a", "b"] {
        let pid = mesh.agent_pid(id);
        let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
        hits(
            &format!("/proc/{pid}/environ of agent {id}"),
            &environ,
            &mut found,
        );
        hits(
            &format!("log of agent {id}"),
            mesh.agent_log(id).as_bytes(),
            &mut found,
        );
    }
    scanned.push("2 agents' environments and logs".into());
    hits("the mesh's log", mesh.log().as_bytes(), &mut found);
    // Every file of the state directory: databases (and WAL), logs, agents' /data.
    let mut files = 0;
    scan_dir(&mesh.state_dir(), &mut found, &mut files);
    scanned.push(format!("{files} files under the state directory"));
    assert!(files > 5, "the state directory was not scanned");
    assert!(
        found.is_empty(),
        "credentials leaked:\n{}",
        found.join("\n")
    );
    // The scan is not vacuous: the mesh did use the LLM key, with the provider.
    let sent = mock.requests_for(MODEL_NAME);
    assert!(
        sent.iter()
            .any(|r| r.header("authorization") == Some(&format!("Bearer {LLM_KEY}"))),
        "the LLM key was not the one configured"
    );
    eprintln!("secret scan: {}", scanned.join(", "));
}
