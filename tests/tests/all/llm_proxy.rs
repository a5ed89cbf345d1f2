//! The LLM proxy over real HTTP: agent → mesh → scripted mock providers (OpenAI and
//! Anthropic wire formats), with failover, budgets, redaction and hostile requests.

use std::time::Duration;

use futures_util::StreamExt;
use openlegion_mock_llm::{MockLlm, Turn};
use openlegion_tests::{Client, MeshOptions, MeshProcess};
use serde_json::{Value, json};

const OPENAI_KEY: &str = "sk-test-OPENAI-9f8e7d6c5b4a";
const ANTHROPIC_KEY: &str = "sk-ant-test-ANTHROPIC-1a2b3c4d";

/// A mesh whose `openai` and `anthropic` providers are `mock`, with agent `a` allowed the
/// `llm` service and the models below.
async fn mesh_with(mock: &MockLlm, llm_yaml: &str, agents_yaml: &str) -> MeshProcess {
    MeshProcess::start(MeshOptions {
        permissions: Some(json!({"permissions": {"default": {"allowed_apis": ["llm"]}}})),
        agents_yaml: agents_yaml.into(),
        mesh_yaml: llm_yaml.into(),
        env: vec![
            ("OPENLEGION_CRED_OPENAI_API_BASE".into(), mock.openai_base()),
            ("OPENLEGION_CRED_OPENAI_API_KEY".into(), OPENAI_KEY.into()),
            (
                "OPENLEGION_CRED_ANTHROPIC_API_BASE".into(),
                mock.anthropic_base(),
            ),
            (
                "OPENLEGION_CRED_ANTHROPIC_API_KEY".into(),
                ANTHROPIC_KEY.into(),
            ),
        ],
        ..MeshOptions::default()
    })
    .await
}

const AGENT_A: &str = "agents:\n  a:\n    model: openai/primary\n    allowed_models: [anthropic/claude-test, openai/secondary]\n";

fn chat(model: &str, messages: Value) -> Value {
    json!({"service": "llm", "action": "chat", "params": {
        "model": model,
        "messages": messages,
        "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",
                   "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}],
        "max_tokens": 200
    }})
}

/// Posts to `/mesh/api/stream` and returns every SSE `data:` payload.
async fn stream(agent: &Client, body: &Value) -> Vec<Value> {
    let resp = agent
        .http()
        .post(format!("{}/mesh/api/stream", agent.base()))
        .bearer_auth(agent.token().unwrap())
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut raw = String::new();
    let mut bytes = resp.bytes_stream();
    while let Some(chunk) = bytes.next().await {
        raw.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
    }
    raw.split("\n\n")
        .filter_map(|frame| {
            frame
                .lines()
                .find_map(|l| l.strip_prefix("data: ").or_else(|| l.strip_prefix("data:")))
        })
        .map(|data| serde_json::from_str(data.trim()).unwrap())
        .collect()
}

fn texts(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .filter(|e| e["type"] == "text_delta")
        .map(|e| e["content"].as_str().unwrap())
        .collect()
}

async fn tool_round_trip(model: &str, mock_model: &str, streamed: bool) {
    let mock = MockLlm::start().await;
    let mesh = mesh_with(&mock, "", AGENT_A).await;
    let a = mesh.agent("a").await;
    mock.push_for(
        mock_model,
        Turn::tool_call("get_weather", json!({"city": "Paris"})),
    );
    mock.push_for(mock_model, Turn::text("It is sunny in Paris."));
    let user = json!([{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Weather in Paris?"}]);
    let (call, first_done) = if streamed {
        let events = stream(&a, &chat(model, user.clone())).await;
        let call = events
            .iter()
            .find(|e| e["type"] == "tool_call")
            .expect("a tool_call event")
            .clone();
        (call, events.last().unwrap().clone())
    } else {
        let r = a
            .post("/mesh/api", &chat(model, user.clone()))
            .await
            .expect(200);
        assert_eq!(r["success"], true, "{r}");
        (r["data"]["tool_calls"][0].clone(), r["data"].clone())
    };
    assert_eq!(call["name"], "get_weather");
    assert_eq!(
        serde_json::from_str::<Value>(call["arguments"].as_str().unwrap()).unwrap(),
        json!({"city": "Paris"})
    );
    assert!(call.get("error").is_none());
    if streamed {
        assert_eq!(first_done["type"], "done");
    }
    assert_eq!(first_done["model"], model);
    let mut history = user.as_array().unwrap().clone();
    history.push(json!({"role": "assistant", "content": null, "tool_calls": [
        {"id": call["id"], "type": "function", "function": {"name": "get_weather", "arguments": call["arguments"]}}]}));
    history.push(
        json!({"role": "tool", "tool_call_id": call["id"], "content": "{\"sky\": \"sunny\"}"}),
    );
    let answer = if streamed {
        let events = stream(&a, &chat(model, Value::Array(history))).await;
        let done = events.last().unwrap().clone();
        assert_eq!(done["type"], "done");
        assert_eq!(texts(&events).concat(), "It is sunny in Paris.");
        assert!(texts(&events).len() > 1, "streamed in pieces");
        done
    } else {
        a.post("/mesh/api", &chat(model, Value::Array(history)))
            .await
            .expect(200)["data"]
            .clone()
    };
    assert_eq!(answer["content"], "It is sunny in Paris.");
    assert!(answer["tokens_used"].as_u64().unwrap() > 0);
    // The provider got the tool definition, then the tool result answering its call.
    let sent = mock.requests_for(mock_model);
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].stream, streamed);
    let body = sent[1].body.to_string();
    assert!(
        body.contains("get_weather")
            && body.contains("sunny")
            && body.contains(call["id"].as_str().unwrap()),
        "{body}"
    );
    let key = sent[0]
        .header(if model.starts_with("anthropic") {
            "x-api-key"
        } else {
            "authorization"
        })
        .unwrap()
        .to_owned();
    assert!(key.contains(if model.starts_with("anthropic") {
        ANTHROPIC_KEY
    } else {
        OPENAI_KEY
    }));
}

#[tokio::test]
async fn tool_round_trip_openai() {
    tool_round_trip("openai/primary", "primary", false).await;
}

#[tokio::test]
async fn tool_round_trip_openai_streamed() {
    tool_round_trip("openai/primary", "primary", true).await;
}

#[tokio::test]
async fn tool_round_trip_anthropic() {
    tool_round_trip("anthropic/claude-test", "claude-test", false).await;
}

#[tokio::test]
async fn tool_round_trip_anthropic_streamed() {
    tool_round_trip("anthropic/claude-test", "claude-test", true).await;
}

const CHAIN: &str = "llm:\n  failover:\n    openai/primary: [openai/secondary]\n";

async fn health_of(mesh: &MeshProcess, model: &str) -> Value {
    let rows = mesh.operator().get("/mesh/model-health").await.expect(200);
    rows.as_array()
        .unwrap()
        .iter()
        .find(|r| r["model"] == model)
        .cloned()
        .unwrap_or(Value::Null)
}

fn hello() -> Value {
    json!({"service": "llm", "action": "chat", "params": {"messages": [{"role": "user", "content": "hello"}]}})
}

#[tokio::test]
async fn a_503_primary_falls_over_to_the_secondary() {
    let mock = MockLlm::start().await;
    let mesh = mesh_with(&mock, CHAIN, AGENT_A).await;
    let a = mesh.agent("a").await;
    for _ in 0..3 {
        mock.push_for("primary", Turn::error(503));
    }
    mock.push_for("secondary", Turn::text("from the secondary"));
    let r = a.post("/mesh/api", &hello()).await.expect(200);
    assert_eq!(
        (r["success"].as_bool(), r["data"]["content"].as_str()),
        (Some(true), Some("from the secondary")),
        "{r}"
    );
    assert_eq!(r["data"]["model"], "openai/secondary");
    assert_eq!(
        mock.requests_for("primary").len(),
        3,
        "one try and two same-model retries"
    );
    let primary = health_of(&mesh, "openai/primary").await;
    assert_eq!(primary["consecutive_failures"], 3);
    assert_eq!(primary["recent_cooldowns"], json!([60, 300, 1500]));
    assert_eq!(primary["available"], false);
    // While the primary cools down, calls go straight to the secondary.
    mock.push_for("secondary", Turn::text("again"));
    a.post("/mesh/api", &hello()).await.expect(200);
    assert_eq!(mock.requests_for("primary").len(), 3);
}

#[tokio::test]
async fn three_429s_record_10_30_90_second_cooldowns() {
    let mock = MockLlm::start().await;
    let mesh = mesh_with(&mock, CHAIN, AGENT_A).await;
    let a = mesh.agent("a").await;
    for _ in 0..3 {
        mock.push_for("primary", Turn::error(429).with_header("retry-after", "1"));
    }
    mock.push_for("secondary", Turn::text("ok"));
    let r = a.post("/mesh/api", &hello()).await.expect(200);
    assert_eq!(r["data"]["model"], "openai/secondary", "{r}");
    let primary = health_of(&mesh, "openai/primary").await;
    assert_eq!(primary["recent_cooldowns"], json!([10, 30, 90]));
    let remaining = primary["cooldown_remaining"].as_f64().unwrap();
    assert!(remaining > 80.0 && remaining <= 90.0, "{remaining}");
}

#[tokio::test]
async fn a_400_does_not_cascade() {
    let mock = MockLlm::start().await;
    let mesh = mesh_with(&mock, CHAIN, AGENT_A).await;
    let a = mesh.agent("a").await;
    mock.push_for(
        "primary",
        Turn::error(400).with_body(json!({"error": {"message": "context length exceeded"}})),
    );
    mock.push_for("secondary", Turn::text("must not be used"));
    let r = a.post("/mesh/api", &hello()).await.expect(200);
    assert_eq!(r["success"], false);
    assert_eq!(r["status_code"], 400);
    assert_eq!(r["error_type"], "invalid_request");
    assert!(
        r["error"]
            .as_str()
            .unwrap()
            .contains("context length exceeded"),
        "{r}"
    );
    assert!(mock.requests_for("secondary").is_empty());
    assert_eq!(
        mock.requests_for("primary").len(),
        1,
        "no retry of a bad request"
    );
}

#[tokio::test]
async fn a_stream_cut_mid_way_finishes_on_the_next_model_without_repeats() {
    let mock = MockLlm::start().await;
    let mesh = mesh_with(&mock, CHAIN, AGENT_A).await;
    let a = mesh.agent("a").await;
    mock.push_for("primary", Turn::stream_cut("The quick brown fox jumps", 3));
    mock.push_for("secondary", Turn::text("jumps over the dog."));
    let events = stream(&a, &hello()).await;
    let pieces = texts(&events);
    assert_eq!(pieces[..3], ["The ", "quick ", "brown "], "{events:?}");
    assert_eq!(pieces.concat(), "The quick brown jumps over the dog.");
    let done = events.last().unwrap();
    assert_eq!(done["type"], "done", "{events:?}");
    assert_eq!(done["content"], "The quick brown jumps over the dog.");
    assert_eq!(done["model"], "openai/secondary");
    // The secondary was asked to continue from what had been sent.
    let sent = &mock.requests_for("secondary")[0].body;
    let last = sent["messages"].as_array().unwrap().last().unwrap();
    assert_eq!(
        (last["role"].as_str(), last["content"].as_str()),
        (Some("assistant"), Some("The quick brown "))
    );
}

#[tokio::test]
async fn a_restarting_fallback_does_not_repeat_text() {
    let mock = MockLlm::start().await;
    let mesh = mesh_with(&mock, CHAIN, AGENT_A).await;
    let a = mesh.agent("a").await;
    mock.push_for("primary", Turn::stream_cut("Once upon a time", 2));
    mock.push_for(
        "secondary",
        Turn::text("Once upon a time there was a mesh."),
    );
    let events = stream(&a, &hello()).await;
    assert_eq!(
        texts(&events).concat(),
        "Once upon a time there was a mesh."
    );
    assert_eq!(
        events.last().unwrap()["content"],
        "Once upon a time there was a mesh."
    );
}

/// Prices that make the arithmetic exact: one output token costs $1.
const PRICEY: &str =
    "llm:\n  prices:\n    openai/primary: {input_per_mtok: 0, output_per_mtok: 1000000}\n";

fn one_token() -> Value {
    json!({"service": "llm", "action": "chat", "params": {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 1}})
}

#[tokio::test]
async fn budget_boundary_is_exact() {
    let mock = MockLlm::start().await;
    let mesh = mesh_with(&mock, PRICEY, "agents:\n  a:\n    model: openai/primary\n    budget: {daily_usd: 3.0, monthly_usd: 100}\n").await;
    let a = mesh.agent("a").await;
    for _ in 0..3 {
        mock.push_for("primary", Turn::text("y").with_usage(5, 1));
        let r = a.post("/mesh/api", &one_token()).await.expect(200);
        assert_eq!(r["success"], true, "{r}");
        assert_eq!(r["data"]["cost_usd"], 1.0);
    }
    mock.push_for("primary", Turn::text("never"));
    let r = a.post("/mesh/api", &one_token()).await.expect(200);
    assert_eq!(r["success"], false);
    assert_eq!(r["error_type"], "budget_exceeded");
    assert_eq!(
        r["error"],
        "Budget exceeded: $3.00/$3.00 daily, $3.00/$100.00 monthly (estimated next call: $1.0000)"
    );
    assert_eq!(
        mock.requests_for("primary").len(),
        3,
        "a refused call is never forwarded"
    );
    let costs = mesh
        .operator()
        .get("/mesh/costs?period=today")
        .await
        .expect(200);
    assert_eq!(costs["agents"]["a"]["calls"], 3);
    assert_eq!(costs["agents"]["a"]["cost_usd"], 3.0);
    assert_eq!(costs["agents"]["a"]["budget"]["daily_usd"], 3.0);
    let own = a.get("/mesh/costs?period=month").await.expect(200);
    assert_eq!(own["total_usd"], 3.0);
    let out = mesh.cli(&["costs", "--period", "week"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("openai/primary") && text.contains("total: $3.0000"),
        "{text}"
    );
}

#[tokio::test]
async fn twenty_concurrent_calls_cannot_overshoot_a_nearly_spent_budget() {
    let mock = MockLlm::start().await;
    let mesh = mesh_with(
        &mock,
        PRICEY,
        "agents:\n  a:\n    model: openai/primary\n    budget: {daily_usd: 5.0}\n",
    )
    .await;
    let a = mesh.agent("a").await;
    mock.push_for("primary", Turn::text("y").with_usage(1, 1));
    mock.push_for("primary", Turn::text("y").with_usage(1, 1));
    for _ in 0..2 {
        a.post("/mesh/api", &one_token()).await.expect(200);
    }
    // $2 of $5 spent: room for exactly three more $1 calls, however many arrive at once.
    for _ in 0..20 {
        mock.push_for(
            "primary",
            Turn::text("y")
                .with_usage(1, 1)
                .delayed(Duration::from_millis(300)),
        );
    }
    let calls: Vec<_> = (0..20)
        .map(|_| {
            let a = a.clone();
            tokio::spawn(async move { a.post("/mesh/api", &one_token()).await.expect(200) })
        })
        .collect();
    let mut ok = 0;
    for c in calls {
        let r = c.await.unwrap();
        if r["success"] == true {
            ok += 1
        } else {
            assert_eq!(r["error_type"], "budget_exceeded", "{r}")
        }
    }
    assert_eq!(ok, 3);
    let costs = mesh.operator().get("/mesh/costs").await.expect(200);
    assert_eq!(costs["agents"]["a"]["cost_usd"], 5.0);
}

#[tokio::test]
async fn keys_appear_in_no_response_and_no_log_line() {
    let mock = MockLlm::start().await;
    let mesh = mesh_with(&mock, CHAIN, AGENT_A).await;
    let a = mesh.agent("a").await;
    let echo = |k: &str| json!({"error": {"message": format!("Incorrect API key provided: {k}.")}});
    mock.push_for("primary", Turn::error(401).with_body(echo(OPENAI_KEY)));
    mock.push_for("secondary", Turn::error(401).with_body(echo(OPENAI_KEY)));
    let mut bodies = vec![a.post("/mesh/api", &hello()).await.expect(200)];
    mock.push_for("claude-test", Turn::error(403).with_body(json!({"type": "error", "error": {"type": "permission_error", "message": format!("key {ANTHROPIC_KEY} is not allowed")}})));
    let claude = json!({"service": "llm", "action": "chat", "params": {"model": "anthropic/claude-test", "messages": [{"role": "user", "content": "x"}]}});
    bodies.push(a.post("/mesh/api", &claude).await.expect(200));
    mock.push_for(
        "claude-test",
        Turn::error(401).with_body(echo(ANTHROPIC_KEY)),
    );
    let streamed = stream(&a, &claude).await;
    bodies.push(Value::Array(streamed));
    assert!(
        bodies[0]["error"].as_str().unwrap().contains("[REDACTED]"),
        "{}",
        bodies[0]
    );
    bodies.push(mesh.operator().get("/mesh/status").await.expect(200));
    bodies.push(mesh.operator().get("/mesh/model-health").await.expect(200));
    bodies.push(
        mesh.operator()
            .get("/mesh/costs?period=month")
            .await
            .expect(200),
    );
    bodies.push(mesh.operator().get("/mesh/agents").await.expect(200));
    assert_eq!(
        bodies[3]["credentials"],
        json!([
            "anthropic_api_base",
            "anthropic_api_key",
            "openai_api_base",
            "openai_api_key"
        ])
    );
    let everything = format!("{bodies:?}\n{}", mesh.log());
    assert!(
        mesh.log().contains("LLM call failed"),
        "the failures were logged"
    );
    for key in [OPENAI_KEY, ANTHROPIC_KEY] {
        assert!(!everything.contains(key), "{key} leaked:\n{everything}");
    }
}

#[tokio::test]
async fn hostile_requests_are_refused_clearly() {
    let mock = MockLlm::start().await;
    let mesh = mesh_with(
        &mock,
        "llm:\n  failover:\n    openai/primary: [openai/secondary]\n",
        AGENT_A,
    )
    .await;
    let a = mesh.agent("a").await;
    let other = json!({"service": "llm", "action": "chat", "params": {"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "x"}]}});
    let r = a.post("/mesh/api", &other).await;
    assert_eq!(
        (r.status.as_u16(), r.detail()),
        (403, "Agent a cannot use model openai/gpt-4o")
    );
    let r = a
        .post(
            "/mesh/api",
            &json!({"service": "hunter", "action": "domain_search"}),
        )
        .await;
    assert_eq!(r.status, 403, "not in allowed_apis");
    let r = mesh
        .operator()
        .post(
            "/mesh/api",
            &json!({"service": "hunter", "action": "domain_search"}),
        )
        .await
        .expect(200);
    assert_eq!(r["error"], "Unknown service: hunter");
    let big = json!({"service": "llm", "action": "chat", "params": {"messages": [{"role": "user", "content": "x".repeat(5 << 20)}]}});
    let r = a.post("/mesh/api", &big).await.expect(200);
    assert_eq!(
        (r["success"].as_bool(), r["status_code"].as_u64()),
        (Some(false), Some(413))
    );
    let r = a
        .post(
            "/mesh/api",
            &json!({"service": "llm", "action": "chat", "params": {"messages": "hi"}}),
        )
        .await
        .expect(200);
    assert_eq!(r["error"], "params.messages: expected a list, got \"hi\"");
    let r = a
        .post("/mesh/api", &json!({"service": "llm", "action": "dance"}))
        .await
        .expect(200);
    assert_eq!(r["error"], "Unknown action for llm: dance (chat, embed)");

    // A provider answering an HTML page instead of JSON: the next model takes over.
    mock.push_for(
        "primary",
        Turn::html(200, "<html><body>Gateway login</body></html>"),
    );
    mock.push_for("secondary", Turn::text("fine"));
    let r = a.post("/mesh/api", &hello()).await.expect(200);
    assert_eq!(r["data"]["content"], "fine", "{r}");
    let health = health_of(&mesh, "openai/primary").await;
    assert!(
        health["last_error"].as_str().unwrap().contains("text/html"),
        "{health}"
    );

    // A provider that never answers: the call times out instead of hanging the agent.
    mock.push_for("secondary", Turn::hang());
    mock.push_for("secondary", Turn::hang());
    mock.push_for("secondary", Turn::hang());
    let started = std::time::Instant::now();
    let mut slow = hello();
    slow["params"]["model"] = "openai/secondary".into();
    slow["timeout"] = 1.into();
    let r = a.post("/mesh/api", &slow).await.expect(200);
    assert_eq!(
        (r["success"].as_bool(), r["error_type"].as_str()),
        (Some(false), Some("timeout")),
        "{r}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn embeddings_go_through_the_proxy() {
    let mock = MockLlm::start().await;
    let mesh = mesh_with(
        &mock,
        "llm:\n  embedding_model: openai/text-embedding-3-small\n",
        AGENT_A,
    )
    .await;
    let a = mesh.agent("a").await;
    let r = a.post("/mesh/api", &json!({"service": "llm", "action": "embed", "params": {"text": "a cat named Whiskerino"}})).await.expect(200);
    assert_eq!(r["success"], true, "{r}");
    let v: Vec<f32> = serde_json::from_value(r["data"]["embedding"].clone()).unwrap();
    assert_eq!(
        v,
        openlegion_mock_llm::embedding("a cat named Whiskerino", 8)
    );
    let r = a.post("/mesh/api", &json!({"service": "llm", "action": "embed", "params": {"model": "openai/other-embedder", "text": "x"}})).await;
    assert_eq!(r.status, 403);
}
