//! Secret hygiene: every credential value configured on the mesh (the LLM provider's key,
//! the web search key, another vault credential, a webhook secret, a Telegram bot token) is
//! a unique canary; after chats with tool calls, a cron run, a webhook delivery, a Telegram
//! conversation (with a failed poll) and the usual reads, no canary may appear in the mesh's
//! or the agents' logs, in any HTTP answer of the mesh API, in an agent's environment, in
//! any file under the state directory (agents' workspaces and volumes, the SQLite databases
//! and their WAL, logs), on the blackboard or in the exported histories. The same scan runs
//! over an agent in a Docker container: its configuration as the engine keeps it, its
//! process's environment, its log and its volume. A hit fails naming where.

use std::path::Path;
use std::time::{Duration, Instant};

use openlegion_fake_chat::FakeTelegram;
use openlegion_mock_llm::{MockLlm, Turn};
use openlegion_tests::docker::{docker, docker_available, docker_ok, engine_shared};
use openlegion_tests::{MODEL_NAME, agent_mesh_env, container_runtime};
use serde_json::{Value, json};

const LLM_KEY: &str = "sk-canary-llm-5b1f0c7e9d2a4e61";
const SEARCH_KEY: &str = "canary-brave-3c9e21d8a7f04b55";
const OTHER_CRED: &str = "canary-vault-8e2d6a1c4b7f9035";
const HOOK_SECRET: &str = "canary-hook-1a7c3e5b9d2f4068";
const TELEGRAM_TOKEN: &str = "424242:canary-telegram-6f0e9d8c7b6a5f4e";
const CANARIES: [&str; 5] = [LLM_KEY, SEARCH_KEY, OTHER_CRED, HOOK_SECRET, TELEGRAM_TOKEN];

/// The canaries, as the mesh's environment carries them.
fn credentials() -> Vec<(String, String)> {
    vec![
        ("OPENLEGION_CRED_OPENAI_API_KEY".into(), LLM_KEY.into()),
        (
            "OPENLEGION_CRED_BRAVE_SEARCH_API_KEY".into(),
            SEARCH_KEY.into(),
        ),
        ("OPENLEGION_CRED_GITHUB_TOKEN".into(), OTHER_CRED.into()),
        ("HOOK_SECRET_FOR_TEST".into(), HOOK_SECRET.into()),
        (
            "OPENLEGION_CRED_TELEGRAM_BOT_TOKEN".into(),
            TELEGRAM_TOKEN.into(),
        ),
    ]
}

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
    let tg = FakeTelegram::start(TELEGRAM_TOKEN).await;
    // The first poll fails: an error path is where a URL holding the token gets logged.
    tg.fail_next("getUpdates", 1, 502, 0);
    let hook = "hook_5e4d3c2b1a09f8e7d6c5b4a392817060";
    let mesh = agent_mesh_env(
        &mock,
        "agents:\n  a:\n    role: writer\n  b:\n    role: reader\n",
        json!({"default": {
            "blackboard_read": ["*"], "blackboard_write": ["*"], "can_use_internet": true,
            "can_manage_cron": true, "can_read_history": ["*"]
        }}),
        &format!(
            "search:\n  provider: brave\nchannels:\n  telegram:\n    enabled: true\n    default_agent: a\n    api_base: {}\n",
            tg.api_base()
        ),
        credentials(),
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

    // A Telegram user pairs and chats with `a` (the bot's token is in every API URL).
    tg.user_says(77, "carol", "hello");
    let greeting = tg.wait_for_bot_messages(77, 1).await[0].text.clone();
    let at = greeting.find("pairing code is ").expect(&greeting) + 16;
    let code = greeting[at..at + 9].to_owned();
    let dir = mesh.config_dir();
    let paired = tokio::task::spawn_blocking(move || {
        openlegion_tests::cli(&dir, &["channel", "pair", &code])
    })
    .await
    .unwrap();
    assert!(paired.status.success(), "{paired:?}");
    tg.wait_for_bot_messages(77, 2).await;
    mock.push_for(MODEL_NAME, Turn::text("hello over telegram"));
    tg.user_says(77, "carol", "tell me something");
    tg.wait_until(77, "the agent's answer", |sent| {
        sent.iter().any(|m| m.text.contains("hello over telegram"))
    })
    .await;
    answers.push((
        "GET /mesh/channels/users".into(),
        op.get("/mesh/channels/users").await.body,
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
    assert!(
        !tg.calls("sendMessage").is_empty(),
        "the Telegram token was not used"
    );
    eprintln!("secret scan: {}", scanned.join(", "));
}

/// An agent in a Docker container: its configuration as the engine keeps it (environment,
/// command, labels, mounts), its process's environment read from this machine's `/proc`,
/// its container log and every file of its mounts hold no canary.
#[tokio::test]
async fn no_configured_credential_reaches_an_agents_container() {
    if !docker_available("no_configured_credential_reaches_an_agents_container") {
        return;
    }
    let _engine = engine_shared().await;
    let mock = MockLlm::start().await;
    let mesh = agent_mesh_env(
        &mock,
        "agents:\n  boxed:\n    role: writer\n",
        json!({"default": {"blackboard_read": ["*"], "blackboard_write": ["*"]}}),
        &container_runtime("docker", ""),
        credentials(),
    )
    .await;
    mock.push_for(
        MODEL_NAME,
        Turn::tool_call(
            "write_file",
            json!({"path": "notes.md", "content": "hello"}),
        ),
    );
    mock.push_for(MODEL_NAME, Turn::text("done"));
    mesh.chat("boxed", "Write notes.").await;

    let name = format!("openlegion-{}-boxed", mesh.instance());
    let mut found = Vec::new();
    let inspected = docker_ok(&["inspect", &name]);
    hits(
        "docker inspect of the container",
        inspected.as_bytes(),
        &mut found,
    );
    let pid = docker_ok(&["inspect", "--format", "{{.State.Pid}}", &name]);
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    assert!(
        String::from_utf8_lossy(&environ).contains("OPENLEGION_"),
        "not the agent's environment"
    );
    hits("the container's process environment", &environ, &mut found);
    let logs = docker(&["logs", &name]);
    hits("docker logs (stdout)", &logs.stdout, &mut found);
    hits("docker logs (stderr)", &logs.stderr, &mut found);
    // Every mount's source on this machine: the agent's volume and its sockets' directory.
    let mounts: Value = serde_json::from_str(&docker_ok(&[
        "inspect",
        "--format",
        "{{json .Mounts}}",
        &name,
    ]))
    .unwrap();
    let mut files = 0;
    for mount in mounts.as_array().unwrap() {
        if let Some(source) = mount["Source"].as_str() {
            scan_dir(Path::new(source), &mut found, &mut files);
        }
    }
    assert!(
        files > 0,
        "no file in the container's mounts was scanned: {mounts}"
    );
    hits("the mesh's log", mesh.log().as_bytes(), &mut found);
    assert!(
        found.is_empty(),
        "credentials leaked:\n{}",
        found.join("\n")
    );
    eprintln!(
        "container secret scan: inspect, /proc/{pid}/environ, logs, {files} files in {} mounts",
        mounts.as_array().unwrap().len()
    );
}
