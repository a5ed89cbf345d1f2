//! Messages and subscribed events start turns through the receiving agent's lane (real
//! agent processes, the mock LLM over HTTP); `on_message: log` keeps them log-only; and a
//! busy lane keeps 200 items in order.

use std::time::Duration;

use openlegion_mock_llm::{MockLlm, Turn};
use openlegion_tests::{MODEL_NAME, MeshProcess, agent_mesh};
use serde_json::json;

/// Waits until the model has received `n` requests; returns their last user messages.
async fn prompts(mock: &MockLlm, n: usize) -> Vec<String> {
    for _ in 0..300 {
        if mock.requests_for(MODEL_NAME).len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    mock.requests_for(MODEL_NAME)
        .iter()
        .map(|r| r.last_user_text())
        .collect()
}

/// Waits until `agent`'s inbox is empty (every message pushed and answered).
async fn drained(mesh: &MeshProcess, agent: &str) {
    let op = mesh.operator();
    for _ in 0..300 {
        if op.get("/mesh/agents").await.expect(200)[agent]["inbox"] == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the inbox of {agent} never drained");
}

#[tokio::test]
async fn a_message_from_another_agent_starts_one_turn_framed_as_from_it() {
    let mock = MockLlm::start().await;
    let mesh = agent_mesh(
        &mock,
        "agents:\n  b:\n    role: helper\n",
        json!({"a": {"can_message": ["b"]}}),
    )
    .await;
    mesh.wait_agent("b").await;
    let a = mesh.agent("a").await;
    mock.push_for(MODEL_NAME, Turn::text("on it"));
    let message = json!({"id": "msg_fixed_1", "to": "b", "type": "query", "payload": {"text": "Can you check the build?"}});
    a.post("/mesh/message", &message).await.expect(200);
    let seen = prompts(&mock, 1).await;
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(
        seen[0].contains("[From agent:a]") && seen[0].contains("Can you check the build?"),
        "{seen:?}"
    );
    // The same message again (a sender's retry): delivered, but no second turn.
    drained(&mesh, "b").await;
    a.post("/mesh/message", &message).await.expect(200);
    drained(&mesh, "b").await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(
        mock.requests_for(MODEL_NAME).len(),
        1,
        "one turn per message id"
    );
}

#[tokio::test]
async fn an_event_on_a_subscribed_topic_starts_a_turn() {
    let mock = MockLlm::start().await;
    let mesh = agent_mesh(
        &mock,
        "agents:\n  b:\n    role: watcher\n",
        json!({"b": {"can_subscribe": ["alerts"]}, "p": {"can_publish": ["alerts"]}}),
    )
    .await;
    mesh.wait_agent("b").await;
    let p = mesh.agent("p").await;
    mock.push_for(MODEL_NAME, Turn::text("looking"));
    let sent = p
        .post(
            "/mesh/publish",
            &json!({"topic": "alerts", "payload": {"level": "red"}}),
        )
        .await
        .expect(200);
    assert_eq!(sent["subscribers_notified"], 1, "{sent}");
    let seen = prompts(&mock, 1).await;
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(
        seen[0].contains("[From event:alerts]")
            && seen[0].contains("published by p")
            && seen[0].contains("\"level\":\"red\""),
        "{seen:?}"
    );
}

#[tokio::test]
async fn on_message_log_delivers_without_a_turn() {
    let mock = MockLlm::start().await;
    let mesh = agent_mesh(
        &mock,
        "agents:\n  b:\n    role: helper\n    on_message: log\n",
        json!({"a": {"can_message": ["b"]}}),
    )
    .await;
    mesh.wait_agent("b").await;
    let a = mesh.agent("a").await;
    a.post(
        "/mesh/message",
        &json!({"to": "b", "type": "query", "payload": {"text": "just so you know"}}),
    )
    .await
    .expect(200);
    drained(&mesh, "b").await;
    let op = mesh.operator();
    let log = op.get("/mesh/agents/b/api/history").await.expect(200)["logs"].to_string();
    assert!(log.contains("just so you know"), "still logged: {log}");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(mock.requests_for(MODEL_NAME).is_empty(), "no LLM request");
}

#[tokio::test]
async fn two_hundred_items_to_a_busy_agent_all_run_in_order_and_one_more_is_refused() {
    let mock = MockLlm::start().await;
    let mesh = agent_mesh(
        &mock,
        "agents:\n  b:\n    role: worker\n    lanes:\n      max: 200\n",
        json!({}),
    )
    .await;
    mesh.wait_agent("b").await;
    // The first item keeps the agent busy while the rest queue behind it.
    mock.push_for(MODEL_NAME, Turn::text("r0").delayed(Duration::from_secs(8)));
    for i in 1..200 {
        mock.push_for(MODEL_NAME, Turn::text(format!("r{i}")));
    }
    let op = mesh.operator();
    let mut ids = Vec::new();
    for i in 0..200 {
        let item = op
            .post(
                "/mesh/lanes/b",
                &json!({"kind": "task", "task": {"task_type": format!("job_{i}")}}),
            )
            .await
            .expect(202);
        ids.push(item["id"].as_str().unwrap().to_owned());
    }
    let over = op
        .post(
            "/mesh/lanes/b",
            &json!({"kind": "task", "task": {"task_type": "job_over"}}),
        )
        .await;
    assert_eq!(over.status.as_u16(), 429, "{}", over.body);
    let last = op
        .get(&format!("/mesh/lanes/items/{}?wait=120", ids[199]))
        .await
        .expect(200);
    assert_eq!(last["finished"], true, "{last}");
    for (i, id) in ids.iter().enumerate() {
        let done = op.get(&format!("/mesh/lanes/items/{id}")).await.expect(200);
        assert_eq!(done["outcome"]["status"], "completed", "{i}: {done}");
        assert_eq!(
            done["outcome"]["result"]["result"],
            json!({"response": format!("r{i}")}),
            "{i}: {done}"
        );
    }
    let seen = prompts(&mock, 200).await;
    assert_eq!(seen.len(), 200, "none lost, none extra");
    let jobs: Vec<u32> = seen.iter().map(|p| job_number(p)).collect();
    assert_eq!(jobs, (0..200).collect::<Vec<u32>>(), "in order");
}

/// N of the `job_N` a task prompt names.
fn job_number(prompt: &str) -> u32 {
    let at = prompt
        .find("job_")
        .unwrap_or_else(|| panic!("no job in {prompt}"))
        + 4;
    let digits: String = prompt[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().unwrap()
}

#[tokio::test]
async fn a_message_to_a_full_lane_waits_in_the_inbox_and_runs_once_there_is_room() {
    let mock = MockLlm::start().await;
    let mesh = agent_mesh(
        &mock,
        "agents:\n  b:\n    role: helper\n    lanes:\n      max: 1\n",
        json!({"a": {"can_message": ["b"]}}),
    )
    .await;
    mesh.wait_agent("b").await;
    let a = mesh.agent("a").await;
    mock.push_for(
        MODEL_NAME,
        Turn::text("first done").delayed(Duration::from_secs(4)),
    );
    mock.push_for(MODEL_NAME, Turn::text("second done"));
    let send = |text: &str| json!({"to": "b", "type": "query", "payload": {"text": text}});
    a.post("/mesh/message", &send("first")).await.expect(200);
    prompts(&mock, 1).await;
    a.post("/mesh/message", &send("second")).await.expect(200);
    // The lane holds the running first turn: the second is refused (counted) and waits.
    let op = mesh.operator();
    let mut refused = json!(0);
    for _ in 0..50 {
        let lanes = op.get("/mesh/lanes").await.expect(200);
        refused = lanes["lanes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["agent"] == "b")
            .map_or(json!(0), |l| l["refused"].clone());
        if refused.as_u64().unwrap_or(0) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(refused.as_u64().unwrap() >= 1, "refusal counted: {refused}");
    let waiting = op.get("/mesh/agents").await.expect(200)["b"]["inbox"].clone();
    assert_eq!(waiting, 1, "the message is still in the inbox");
    let seen = prompts(&mock, 2).await;
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(
        seen[0].contains("first") && seen[1].contains("second"),
        "{seen:?}"
    );
    // Offered again every second while the first turn ran, it still counts once.
    let lanes = op.get("/mesh/lanes").await.expect(200);
    let b = lanes["lanes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["agent"] == "b")
        .cloned();
    assert_eq!(b.map_or(json!(0), |l| l["refused"].clone()), 1, "{lanes}");
    drained(&mesh, "b").await;
}
