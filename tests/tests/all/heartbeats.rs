//! Heartbeats on real mesh and agent processes with the mock LLM: probes that find nothing
//! make no LLM request at all (counted at the mock); a pending signal makes exactly one
//! turn; a custom probe written as a WASM skill (a Rust fixture built from source) drives a
//! turn with the agent's HEARTBEAT.md rules.

use std::time::{Duration, Instant};

use openlegion_mock_llm::{MockLlm, Turn};
use openlegion_tests::{MODEL_NAME, MeshProcess, agent_mesh, fixture};
use serde_json::{Value, json};

/// The heartbeat job of `agent` in cron.json on disk.
fn heartbeat(mesh: &MeshProcess, agent: &str) -> Value {
    let text = std::fs::read_to_string(mesh.config_dir().join("cron.json")).unwrap_or_default();
    let file: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    file["jobs"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|j| j["id"] == format!("heartbeat_{agent}"))
        .cloned()
        .unwrap_or(Value::Null)
}

/// Waits until `agent`'s heartbeat has run `n` times in all.
async fn beats(mesh: &MeshProcess, agent: &str, n: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let job = heartbeat(mesh, agent);
        if job["run_count"].as_u64() >= Some(n) {
            return job;
        }
        assert!(
            Instant::now() < deadline,
            "the heartbeat of {agent} did not run {n} times: {job}\n{}",
            mesh.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn requests_at_least(mock: &MockLlm, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while mock.requests_for(MODEL_NAME).len() < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    mock.requests_for(MODEL_NAME)
        .iter()
        .map(|r| r.last_user_text())
        .collect()
}

#[tokio::test]
async fn an_idle_heartbeat_costs_no_llm_request_and_a_signal_costs_exactly_one_turn() {
    let mock = MockLlm::start().await;
    let mesh = agent_mesh(
        &mock,
        "agents:\n  b:\n    role: watcher\n    heartbeat:\n      schedule: every 2s\n      probes: [signals, tasks, inbox, lane]\n",
        json!({"p": {"blackboard_write": ["signals/*"]}}),
    )
    .await;
    mesh.wait_agent("b").await;
    let quiet = beats(&mesh, "b", 3).await;
    assert_eq!(quiet["heartbeat"], true, "{quiet}");
    assert_eq!(quiet["last_error"], Value::Null, "{quiet}");
    assert_eq!(
        mock.requests_for(MODEL_NAME).len(),
        0,
        "three idle heartbeats, no LLM request"
    );

    mock.push_for(MODEL_NAME, Turn::text("Looking at the red build."));
    let p = mesh.agent("p").await;
    p.put(
        "/mesh/blackboard/signals/b/build",
        &json!({"status": "red"}),
    )
    .await
    .expect(200);
    let seen = requests_at_least(&mock, 1).await;
    assert!(
        seen[0].contains("[From heartbeat:heartbeat_b]")
            && seen[0].contains("signals/b/build (by p)")
            && seen[0].contains("Heartbeat at "),
        "{seen:?}"
    );
    let after = heartbeat(&mesh, "b")["run_count"].as_u64().unwrap();
    beats(&mesh, "b", after + 3).await;
    assert_eq!(
        mock.requests_for(MODEL_NAME).len(),
        1,
        "the same signal is reported once"
    );
}

#[tokio::test]
async fn a_custom_probe_skill_drives_a_turn_with_the_heartbeat_rules() {
    let mock = MockLlm::start().await;
    let mesh = agent_mesh(
        &mock,
        "agents:\n  b:\n    role: worker\n    heartbeat: {schedule: every 2s, probes: [skills, workspace]}\n",
        json!({}),
    )
    .await;
    mesh.wait_agent("b").await;
    // The rules, dated in the past so that the workspace probe does not report them.
    let workspace = mesh.agent_data("b").join("workspace");
    let rules = workspace.join("HEARTBEAT.md");
    std::fs::write(&rules, "# Heartbeat\nDrain queue.txt one item at a time.\n").unwrap();
    std::fs::File::options()
        .write(true)
        .open(&rules)
        .unwrap()
        .set_modified(std::time::SystemTime::now() - Duration::from_secs(3600))
        .unwrap();
    mesh.install_skill(
        "b",
        "queue",
        &fixture("probe"),
        "name: queue\nversion: 0.1.0\ncapabilities: [workspace]\nprobes: [queue_probe]\n",
    );
    mesh.wait_tool("b", "queue_probe").await;
    let ran = heartbeat(&mesh, "b")["run_count"].as_u64().unwrap();
    beats(&mesh, "b", ran + 2).await;
    assert_eq!(
        mock.requests_for(MODEL_NAME).len(),
        0,
        "an empty queue is not actionable"
    );

    for _ in 0..10 {
        mock.push_for(MODEL_NAME, Turn::text("Draining."));
    }
    std::fs::write(workspace.join("queue.txt"), "invoice 17\n").unwrap();
    let seen = requests_at_least(&mock, 1).await;
    assert!(
        seen[0].contains("- [skill:queue_probe] 1 items waiting in queue.txt")
            && seen[0].contains("Drain queue.txt one item at a time."),
        "{seen:?}"
    );
    assert!(
        seen[0].contains("[workspace]") && seen[0].contains("queue.txt"),
        "the workspace probe saw the new files: {seen:?}"
    );
    // Emptied: quiet again.
    std::fs::write(workspace.join("queue.txt"), "").unwrap();
    let n = heartbeat(&mesh, "b")["run_count"].as_u64().unwrap();
    beats(&mesh, "b", n + 2).await;
    let settled = mock.requests_for(MODEL_NAME).len();
    let n = heartbeat(&mesh, "b")["run_count"].as_u64().unwrap();
    beats(&mesh, "b", n + 3).await;
    assert_eq!(mock.requests_for(MODEL_NAME).len(), settled);
}
