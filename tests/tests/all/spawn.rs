//! Sub-agents end to end: an agent on the process backend spawns one through
//! `spawn_agent` (mock LLM), the sub-agent does its task on the same backend and its parent
//! reads the result; limits (permission, count, depth, budget) refuse with clear texts; at
//! its time to live the sub-agent is stopped, its data directory and registration gone.

use std::time::{Duration, Instant};

use openlegion_mock_llm::{MockLlm, Turn};
use openlegion_tests::{MODEL_NAME, MeshProcess, agent_mesh_with};
use serde_json::{Value, json};

use crate::outputs;

const AGENTS: &str = "agents:\n  boss:\n    role: lead\n    budget:\n      daily_usd: 2.0\n      monthly_usd: 10.0\n  clerk:\n    role: clerk\n";

async fn boss_mesh(mock: &MockLlm, max_children: u32) -> MeshProcess {
    agent_mesh_with(
        mock,
        AGENTS,
        json!({"boss": {"can_spawn": true, "blackboard_read": ["*"]}, "clerk": {}}),
        &format!("spawn:\n  max_children: {max_children}\n  max_ttl_seconds: 600\n"),
    )
    .await
}

fn json_of(output: &str) -> Value {
    serde_json::from_str(output).unwrap_or_else(|e| panic!("{e}: {output}"))
}

/// Waits until sub-agent `child` is in `state` (a slow machine starts agents slowly: the
/// limit is generous), failing with its record and the logs.
async fn wait_state(mesh: &MeshProcess, child: &str, state: &str, limit: Duration) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        let record = mesh
            .operator()
            .get(&format!("/mesh/spawn/{child}"))
            .await
            .body;
        if record["state"] == state {
            return record;
        }
        assert!(
            Instant::now() < deadline,
            "{child} not {state} in {limit:?}: {record}\nits log:\n{}\nmesh log:\n{}",
            mesh.agent_log(child),
            mesh.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_sub_agent_does_its_task_reports_to_its_parent_and_dies_at_its_ttl() {
    let mock = MockLlm::start().await;
    let mesh = boss_mesh(&mock, 2).await;
    // The parent's two turns are taken at once; the sub-agent's turn (its task's answer)
    // only once it has started, well after.
    mock.push_for(
        MODEL_NAME,
        Turn::tool_call(
            "spawn_agent",
            json!({"role": "researcher", "instructions": "Find the answer.", "ttl": 600, "budget_usd": 0.5}),
        ),
    );
    mock.push_for(MODEL_NAME, Turn::text("Spawned a researcher."));
    mock.push_for(MODEL_NAME, Turn::text("{\"answer\": 42}"));
    let out = outputs(&mesh.chat("boss", "Get help.").await);
    let spawned = json_of(&out[0]);
    let child = spawned["agent_id"].as_str().unwrap().to_owned();
    assert!(child.starts_with("boss-sub-"), "{spawned}");
    assert_eq!(spawned["parent"], "boss");
    assert_eq!(spawned["budget_usd"], 0.5);

    // It runs on its parent's backend (the process backend: a directory of its own), and
    // the operator sees it under its parent.
    assert!(mesh.agent_data(&child).is_dir());
    let agents = mesh.operator().get("/mesh/agents").await.expect(200);
    assert_eq!(agents[&child]["parent"], "boss", "{agents}");
    let status = mesh.cli(&["status"]);
    let text = String::from_utf8_lossy(&status.stdout);
    let boss_line = text
        .lines()
        .position(|l| l.trim_start().starts_with("boss "))
        .unwrap();
    assert!(
        text.lines()
            .nth(boss_line + 1)
            .unwrap()
            .contains(&format!("└ {child} (researcher)")),
        "{text}"
    );

    // Its result reaches the parent through read_agent_history.
    let op = mesh.operator();
    wait_state(&mesh, &child, "done", Duration::from_secs(240)).await;
    mock.push_for(
        MODEL_NAME,
        Turn::tool_call("read_agent_history", json!({"agent": child})),
    );
    mock.push_for(MODEL_NAME, Turn::text("The answer is 42."));
    let out = outputs(&mesh.chat("boss", "What did it find?").await);
    let history = json_of(&out[0]);
    assert_eq!(
        history["task_results"][0]["result"]["answer"], 42,
        "{history}"
    );
    assert_eq!(history["spawned"]["state"], "done", "{history}");
    // The parent may message it (no entry of permissions.json names it); others may not.
    let as_agent = async |id: &str| {
        let t = op
            .post(&format!("/mesh/agents/{id}/token"), &json!({}))
            .await
            .expect(200);
        op.with_token(t["token"].as_str().unwrap())
    };
    let message = json!({"from_agent": "x", "to": child, "type": "event", "payload": {"hi": 1}});
    let sent = as_agent("boss").await.post("/mesh/message", &message).await;
    assert_eq!(sent.status, 200, "{}", sent.body);
    let sent = as_agent("clerk")
        .await
        .post("/mesh/message", &message)
        .await;
    assert_eq!(sent.status, 403, "{}", sent.body);

    // At its time to live a sub-agent is stopped, its data and registration deleted
    // (here one that lives 5 s, whether it has started by then or not); what is known of
    // it stays with the mesh for its parent.
    let boss = as_agent("boss").await;
    let short = boss
        .post(
            "/mesh/spawn",
            &json!({"role": "brief", "instructions": "Wait.", "ttl_seconds": 5, "budget_usd": 0.1}),
        )
        .await
        .expect(200);
    let short = short["agent_id"].as_str().unwrap().to_owned();
    let data = mesh.agent_data(&short);
    let record = wait_state(&mesh, &short, "expired", Duration::from_secs(120)).await;
    assert_eq!(record["parent"], "boss");
    assert!(!mesh.state_dir().join("agents").join(&short).exists());
    let agents = op.get("/mesh/agents").await.expect(200);
    assert!(agents.get(&short).is_none(), "{agents}");
    assert!(agents.get(&child).is_some(), "{agents}");
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let cwd = std::fs::read_link(entry.path().join("cwd")).ok();
        assert!(
            !cwd.is_some_and(|c| c.starts_with(&data)
                || c.to_string_lossy().starts_with(&*data.to_string_lossy())),
            "a process of {short} is left"
        );
    }
    // The first one's result is still there after it goes too.
    let record = op.get(&format!("/mesh/spawn/{child}")).await.expect(200);
    assert_eq!(record["result"]["result"]["answer"], 42);
}

#[tokio::test]
async fn spawning_is_refused_without_permission_over_the_limits_and_the_budget() {
    let mock = MockLlm::start().await;
    let mesh = boss_mesh(&mock, 1).await;
    let spawn = |instructions: &str, budget: f64| {
        Turn::tool_call(
            "spawn_agent",
            json!({"role": "helper", "instructions": instructions, "ttl": 60, "budget_usd": budget}),
        )
    };
    // No can_spawn.
    mock.push_for(MODEL_NAME, spawn("x", 0.1));
    mock.push_for(MODEL_NAME, Turn::text("refused"));
    let out = outputs(&mesh.chat("clerk", "Spawn.").await);
    assert!(
        out[0].contains("Agent clerk cannot spawn sub-agents (can_spawn is off)"),
        "{}",
        out[0]
    );
    // More than the parent's budget.
    mock.push_for(MODEL_NAME, spawn("x", 5.0));
    mock.push_for(MODEL_NAME, Turn::text("too dear"));
    let out = outputs(&mesh.chat("boss", "Spawn.").await);
    assert!(
        out[0].contains("cannot carve $5.00 out of the budget of boss"),
        "{}",
        out[0]
    );
    // One is allowed (spawn.max_children: 1), a second is not while the first lives.
    mock.push_for(MODEL_NAME, spawn("wait for me", 0.1));
    mock.push_for(MODEL_NAME, spawn("and me", 0.1));
    mock.push_for(MODEL_NAME, Turn::text("one of two"));
    mock.push_for(MODEL_NAME, Turn::text("{\"ok\": true}"));
    let out = outputs(&mesh.chat("boss", "Spawn two.").await);
    let child = json_of(&out[0])["agent_id"].as_str().unwrap().to_owned();
    assert!(
        out[1].contains("already has 1 live sub-agents"),
        "{}",
        out[1]
    );
    // The sub-agent itself may not spawn (spawn.max_depth 1), though its parent may.
    let token = mesh
        .operator()
        .post(&format!("/mesh/agents/{child}/token"), &json!({}))
        .await
        .expect(200);
    let sub = mesh.operator().with_token(token["token"].as_str().unwrap());
    let reply = sub
        .post(
            "/mesh/spawn",
            &json!({"role": "r", "instructions": "i", "ttl_seconds": 5}),
        )
        .await;
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert!(
        reply.detail().contains("can_spawn is off"),
        "{}",
        reply.body
    );
    // Bad requests name the field.
    let boss = mesh
        .operator()
        .post("/mesh/agents/boss/token", &json!({}))
        .await
        .expect(200);
    let boss = mesh.operator().with_token(boss["token"].as_str().unwrap());
    let reply = boss
        .post("/mesh/spawn", &json!({"role": "", "instructions": "i"}))
        .await;
    assert_eq!(reply.status, 422);
    assert!(reply.detail().starts_with("role: empty"), "{}", reply.body);
}
