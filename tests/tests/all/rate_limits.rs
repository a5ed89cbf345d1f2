//! Per-agent rate limits (mesh.yaml `rate_limits:`): an agent over a limit gets 429 with
//! `Retry-After` and a body naming the limit and the agent, other agents and the operator
//! go on, refusals are counted in `/metrics`, and a real agent whose tool call is refused
//! reports the limit to the model and finishes its turn.

use openlegion_mock_llm::{MockLlm, Turn};
use openlegion_tests::{Client, MODEL_NAME, MeshOptions, MeshProcess, agent_mesh_with};
use serde_json::{Value, json};

use super::outputs;

/// `method path` as `agent`, with the status, `Retry-After` and body.
async fn send(
    agent: &Client,
    method: reqwest::Method,
    path: &str,
    body: &Value,
) -> (u16, Option<u64>, Value) {
    let resp = agent
        .http()
        .request(method, format!("{}{path}", agent.base()))
        .bearer_auth(agent.token().unwrap())
        .json(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let wait = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse().unwrap());
    (status, wait, resp.json().await.unwrap_or(Value::Null))
}

/// The value of `openlegion_rate_limited_total` for `agent` and `limit` (0 when absent).
async fn refused(mesh: &MeshProcess, agent: &str, limit: &str) -> f64 {
    let text = reqwest::get(format!("{}/metrics", mesh.url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter(|l| {
            l.starts_with("openlegion_rate_limited_total{")
                && l.contains(&format!("agent=\"{agent}\""))
                && l.contains(&format!("limit=\"{limit}\""))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn an_agent_over_its_limits_gets_429_with_retry_after_and_others_do_not() {
    let all = json!(["*"]);
    let mesh = MeshProcess::start(MeshOptions {
        mesh_yaml: "rate_limits:\n  blackboard_writes_per_minute: 3\n  messages_per_minute: 2\n  publishes_per_minute: 2\n  llm_calls_per_minute: 2\n".into(),
        ..MeshOptions::with_permissions(json!({"default": {
            "blackboard_read": all, "blackboard_write": all, "can_message": all,
            "can_publish": all, "can_subscribe": all, "allowed_apis": ["llm"]
        }}))
    })
    .await;
    let looper = mesh.agent("looper").await;
    let calm = mesh.agent("calm").await;
    let put = reqwest::Method::PUT;
    let post = reqwest::Method::POST;
    // Three writes (puts, a delete, a claim all count), then 429.
    for (method, path, body) in [
        (put.clone(), "/mesh/blackboard/loop/1", json!({"n": 1})),
        (
            reqwest::Method::DELETE,
            "/mesh/blackboard/loop/1",
            json!({}),
        ),
        (
            post.clone(),
            "/mesh/blackboard/claim",
            json!({"key": "loop/2", "value": {"n": 2}, "expected_version": 0}),
        ),
    ] {
        let (status, _, body) = send(&looper, method, path, &body).await;
        assert_ne!(status, 429, "{path}: {body}");
    }
    let (status, wait, body) = send(
        &looper,
        put.clone(),
        "/mesh/blackboard/loop/3",
        &json!({"n": 3}),
    )
    .await;
    assert_eq!(status, 429, "{body}");
    let wait = wait.expect("a Retry-After header");
    assert!((1..=20).contains(&wait), "Retry-After {wait}");
    assert_eq!(body["limit"], "blackboard_writes");
    assert_eq!(body["agent"], "looper");
    assert_eq!(body["per_minute"], 3);
    assert_eq!(body["retry_after_secs"], wait);
    assert!(
        body["detail"].as_str().unwrap().contains("looper"),
        "{body}"
    );
    // Nothing was written by the refused call; reads are not limited.
    assert_eq!(looper.get("/mesh/blackboard/loop/3").await.status, 404);
    // Another agent and the operator are not held back by the looper.
    calm.put("/mesh/blackboard/calm/1", &json!({"n": 1}))
        .await
        .expect(200);
    for n in 0..10 {
        mesh.operator()
            .put(&format!("/mesh/blackboard/op/{n}"), &json!({"n": n}))
            .await
            .expect(200);
    }
    // Messages, publishes and LLM calls, each with its own allowance.
    for (path, body, limit) in [
        (
            "/mesh/message",
            json!({"to": "calm", "type": "event", "payload": {}}),
            "messages",
        ),
        (
            "/mesh/publish",
            json!({"topic": "t", "payload": {}}),
            "publishes",
        ),
        (
            "/mesh/api",
            json!({"service": "llm", "action": "chat", "params": {"messages": []}}),
            "llm_calls",
        ),
    ] {
        for _ in 0..2 {
            let (status, _, body) = send(&looper, post.clone(), path, &body).await;
            assert_ne!(status, 429, "{path}: {body}");
        }
        let (status, wait, reply) = send(&looper, post.clone(), path, &body).await;
        assert_eq!(
            (status, reply["limit"].as_str()),
            (429, Some(limit)),
            "{reply}"
        );
        assert!(wait.is_some());
        assert_eq!(refused(&mesh, "looper", limit).await, 1.0);
    }
    assert_eq!(refused(&mesh, "looper", "blackboard_writes").await, 1.0);
    assert_eq!(refused(&mesh, "calm", "blackboard_writes").await, 0.0);
}

/// A real agent's tool call refused by a limit: the agent waits out nothing it cannot (the
/// wait is a minute), tells the model the limit, and the turn ends normally.
#[tokio::test]
async fn a_refused_tool_call_is_reported_to_the_model_and_the_turn_goes_on() {
    let mock = MockLlm::start().await;
    let mesh = agent_mesh_with(
        &mock,
        "agents:\n  a:\n    role: publisher\n",
        json!({"a": {"can_publish": ["*"]}}),
        "rate_limits:\n  publishes_per_minute: 1\n",
    )
    .await;
    let publish = || {
        Turn::tool_call(
            "publish_event",
            json!({"topic": "news", "payload": {"n": 1}}),
        )
    };
    mock.push_for(MODEL_NAME, publish());
    mock.push_for(MODEL_NAME, publish());
    mock.push_for(MODEL_NAME, Turn::text("done"));
    let reply = mesh.chat("a", "Publish twice.").await;
    assert_eq!(reply["response"], "done", "{reply}");
    let outputs = outputs(&reply);
    assert_eq!(outputs.len(), 2, "{reply}");
    assert!(outputs[0].contains("published"), "{}", outputs[0]);
    assert!(
        outputs[1].contains("rate limit of publishes") && outputs[1].contains("agent a"),
        "{}",
        outputs[1]
    );
    // The model saw the refusal in the tool result it was sent.
    let last = mock
        .requests_for(MODEL_NAME)
        .last()
        .unwrap()
        .body
        .to_string();
    assert!(last.contains("rate limit of publishes"), "{last}");
    assert_eq!(refused(&mesh, "a", "publishes").await, 1.0);
}

/// agents.yaml `rate_limits:` overrides mesh.yaml's for one agent, key by key; a reload puts
/// new figures in force, and a broken section is refused naming the file and field while
/// the figures in force stay.
#[tokio::test]
async fn an_agents_own_rate_limits_override_the_meshs_and_follow_a_reload() {
    let all = json!(["*"]);
    let mesh = MeshProcess::start(MeshOptions {
        mesh_yaml: "rate_limits:\n  blackboard_writes_per_minute: 2\n  messages_per_minute: 2\n"
            .into(),
        agents_yaml: "agents:\n  busy:\n    role: x\n    rate_limits: {blackboard_writes_per_minute: 4}\n  plain:\n    role: x\n".into(),
        ..MeshOptions::with_permissions(json!({"default": {
            "blackboard_read": all, "blackboard_write": all, "can_message": all
        }}))
    })
    .await;
    let busy = mesh.agent("busy").await;
    let plain = mesh.agent("plain").await;
    let put = reqwest::Method::PUT;
    let write = |agent: &Client, n: u32| {
        let (agent, put) = (agent.clone(), put.clone());
        async move {
            send(
                &agent,
                put,
                &format!("/mesh/blackboard/own/{n}"),
                &json!({"n": n}),
            )
            .await
        }
    };
    /// How many writes of 20 pass before the first 429, and that 429's body.
    async fn passed<F, Fut>(write: F) -> (u32, Value)
    where
        F: Fn(u32) -> Fut,
        Fut: std::future::Future<Output = (u16, Option<u64>, Value)>,
    {
        for n in 0..20 {
            let (status, _, body) = write(n).await;
            if status == 429 {
                return (n, body);
            }
            assert_eq!(status, 200, "{body}");
        }
        (20, Value::Null)
    }

    let (n, refusal) = passed(|n| write(&busy, n)).await;
    assert_eq!(n, 4, "busy's own figure: {refusal}");
    assert_eq!(refusal["per_minute"], 4, "{refusal}");
    assert_eq!(refusal["agent"], "busy", "{refusal}");
    let (n, refusal) = passed(|n| write(&plain, 100 + n)).await;
    assert_eq!(n, 2, "plain keeps the mesh's figure: {refusal}");
    // A key busy leaves out keeps the mesh's figure.
    let post = reqwest::Method::POST;
    let message = json!({"to": "plain", "type": "event", "payload": {}});
    for _ in 0..2 {
        let (status, _, body) = send(&busy, post.clone(), "/mesh/message", &message).await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, _, body) = send(&busy, post.clone(), "/mesh/message", &message).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["limit"], "messages", "{body}");

    // A broken section: the reload is refused with the file and field, busy stays limited.
    mesh.write_config(
        "agents.yaml",
        "agents:\n  busy:\n    role: x\n    rate_limits: {blackboard_write_per_minute: 0}\n  plain:\n    role: x\n",
    );
    let reload = mesh.operator().post("/mesh/reload", &json!({})).await;
    assert_eq!(reload.status, 400, "{}", reload.detail());
    assert!(
        reload.detail().contains("agents.yaml:4:")
            && reload.detail().contains("blackboard_write_per_minute"),
        "{}",
        reload.detail()
    );
    let (status, _, _) = write(&busy, 50).await;
    assert_eq!(status, 429, "the figures in force stay");

    // `0` turns the limit off for busy alone.
    mesh.write_config(
        "agents.yaml",
        "agents:\n  busy:\n    role: x\n    rate_limits: {blackboard_writes_per_minute: 0}\n  plain:\n    role: x\n",
    );
    let reload = mesh.operator().post("/mesh/reload", &json!({})).await;
    assert_eq!(reload.status, 200, "{}", reload.detail());
    let (n, refusal) = passed(|n| write(&busy, 200 + n)).await;
    assert_eq!(n, 20, "busy is not limited after the reload: {refusal}");
    let (status, _, _) = write(&plain, 300).await;
    assert_eq!(status, 429, "plain is still limited");
}
