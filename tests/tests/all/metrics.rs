//! Observability: `GET /metrics` scraped after real traffic (agents on the process backend,
//! the scripted mock LLM, a webhook, a budget refusal, a killed agent) and parsed by a
//! Prometheus text parser; the log lines of the mesh and of an agent as JSON (the default)
//! or text, with the agent's id on each agent line.

use std::time::{Duration, Instant};

use openlegion_mock_llm::{MockLlm, Turn};
use openlegion_tests::{MODEL_NAME, MeshProcess, agent_mesh_env, agent_mesh_with, binary};
use prometheus_parse::{Sample, Scrape, Value as Sampled};
use serde_json::{Value, json};

/// Scrapes `/metrics` without a token, as Prometheus would.
async fn scrape(mesh: &MeshProcess) -> Scrape {
    let resp = reqwest::get(format!("{}/metrics", mesh.url()))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let kind = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(kind.starts_with("application/openmetrics-text"), "{kind}");
    let text = resp.text().await.unwrap();
    assert!(text.ends_with("# EOF\n"), "{text}");
    Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).expect("a Prometheus text exposition")
}

/// The value of the sample `name` whose labels include all of `labels`.
fn value(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let found: Vec<&Sample> = scrape
        .samples
        .iter()
        .filter(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .collect();
    let sum = found
        .iter()
        .map(|s| match &s.value {
            Sampled::Counter(v) | Sampled::Gauge(v) | Sampled::Untyped(v) => *v,
            other => panic!("{name}: not a number: {other:?}"),
        })
        .sum();
    (!found.is_empty()).then_some(sum)
}

#[tokio::test]
async fn metrics_after_real_traffic_parse_and_count_it() {
    let mock = MockLlm::start().await;
    // Prices that make every call cost something, and a budget `b` cannot pay. (The lines
    // go on the `llm:` section the harness writes first.)
    let mesh_yaml = format!(
        "  prices:\n    openai/mock: {{input_per_mtok: 1000, output_per_mtok: 1000}}\n\
         runtime:\n  isolation: process\n  agent_binary: {}\n",
        binary("openlegion-agent", "openlegion-agent").display()
    );
    let mesh = agent_mesh_with(
        &mock,
        "agents:\n  a:\n    role: a\n    budget: {daily_usd: 1000, monthly_usd: 10000}\n  b:\n    role: b\n    budget: {daily_usd: 0.000001, monthly_usd: 0.000001}\n",
        json!({}),
        &mesh_yaml,
    )
    .await;

    // A chat with two tool calls, one of which fails.
    mock.push_for(
        MODEL_NAME,
        Turn::tool_call("write_file", json!({"path": "notes.md", "content": "hi"})),
    );
    mock.push_for(
        MODEL_NAME,
        Turn::tool_call("read_file", json!({"path": "missing/nope.md"})),
    );
    mock.push_for(MODEL_NAME, Turn::text("done"));
    let reply = mesh.chat("a", "Write the notes.").await;
    assert_eq!(reply["response"], "done", "{reply}");
    // A call the provider refuses (400: no retry, no failover).
    mock.push_for(MODEL_NAME, Turn::error(400));
    mesh.chat("a", "This one fails.").await;
    // b cannot afford a call.
    mesh.chat("b", "hello").await;
    // A 404 on a path that must not become a label.
    mesh.operator().get("/mesh/no-such-route-4711").await;

    // A webhook delivery whose turn hangs at the LLM, then two more items behind it.
    let id = "hook_0123456789abcdef0123456789abcdef";
    mesh.write_config(
        "webhooks.json",
        &json!({"hooks": {id: {
            "id": id, "name": "gh", "agent": "a", "created_at": "2026-01-01T00:00:00Z"
        }}})
        .to_string(),
    );
    let before = mock.requests_for(MODEL_NAME).len();
    mock.push_for(MODEL_NAME, Turn::hang());
    let delivered = reqwest::Client::new()
        .post(format!("{}/webhook/hook/{id}", mesh.url()))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(delivered.status(), 202);
    for n in 0..2 {
        mesh.operator()
            .post(
                "/mesh/lanes/a",
                &json!({"kind": "chat", "message": format!("later {n}")}),
            )
            .await
            .expect(202);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while mock.requests_for(MODEL_NAME).len() <= before {
        assert!(
            Instant::now() < deadline,
            "the webhook's turn did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // b is killed; its supervisor starts it again.
    let pid = mesh.agent_pid("b");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let s = loop {
        let s = scrape(&mesh).await;
        if value(&s, "openlegion_agent_restarts_total", &[("agent", "b")]) == Some(1.0)
            && value(&s, "openlegion_agent_up", &[("agent", "b")]) == Some(1.0)
        {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "b was not restarted:\n{}",
            mesh.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    // HTTP: by matched route and status, never by raw path; with a latency histogram.
    let chat_route = [
        ("route", "/mesh/agents/:agent/api/*path"),
        ("method", "POST"),
        ("status", "200"),
    ];
    let routes: Vec<String> = s
        .samples
        .iter()
        .filter(|x| x.metric == "openlegion_http_requests_total")
        .map(|x| format!("{:?} {:?}", x.labels, x.value))
        .collect();
    assert!(
        value(&s, "openlegion_http_requests_total", &chat_route) >= Some(2.0),
        "{routes:#?}"
    );
    assert!(
        value(
            &s,
            "openlegion_http_request_duration_seconds_count",
            &chat_route
        ) >= Some(2.0)
    );
    let buckets = s
        .samples
        .iter()
        .find(|x| x.metric == "openlegion_http_request_duration_seconds")
        .map(|x| &x.value);
    assert!(
        matches!(buckets, Some(Sampled::Histogram(b)) if b.len() >= 12),
        "{buckets:?}"
    );
    assert_eq!(
        value(
            &s,
            "openlegion_http_requests_total",
            &[("route", "unmatched"), ("status", "404")]
        ),
        Some(1.0)
    );
    assert!(
        !s.samples
            .iter()
            .any(|x| x.labels.values().any(|v| v.contains("4711"))),
        "a raw path became a label"
    );
    // The agents' own calls to the mesh go through the same routes.
    let proxied: f64 = ["/mesh/api", "/mesh/api/stream"]
        .iter()
        .filter_map(|r| value(&s, "openlegion_http_requests_total", &[("route", r)]))
        .sum();
    assert!(proxied >= 3.0, "{proxied}");

    // LLM calls, tokens and dollars by agent and model; b's refusal.
    let a_mock = [("agent", "a"), ("model", "openai/mock")];
    assert!(
        value(
            &s,
            "openlegion_llm_calls_total",
            &[("agent", "a"), ("model", "openai/mock"), ("kind", "chat")]
        ) >= Some(3.0)
    );
    assert!(
        value(
            &s,
            "openlegion_llm_tokens_total",
            &[("agent", "a"), ("type", "prompt")]
        ) > Some(0.0)
    );
    assert!(
        value(
            &s,
            "openlegion_llm_tokens_total",
            &[("agent", "a"), ("type", "completion")]
        ) > Some(0.0)
    );
    assert!(value(&s, "openlegion_llm_cost_usd_total", &a_mock) > Some(0.0));
    assert!(value(&s, "openlegion_budget_refusals_total", &[("agent", "b")]) >= Some(1.0));
    assert_eq!(
        value(&s, "openlegion_llm_calls_total", &[("agent", "b")]),
        None
    );

    // Lanes as they are now: the webhook's turn running, two items behind it.
    assert_eq!(
        value(&s, "openlegion_lane_running", &[("agent", "a")]),
        Some(1.0)
    );
    assert_eq!(
        value(&s, "openlegion_lane_queued", &[("agent", "a")]),
        Some(2.0)
    );
    assert!(value(&s, "openlegion_lane_oldest_age_seconds", &[("agent", "a")]) > Some(0.0));
    assert_eq!(
        value(&s, "openlegion_lane_queued", &[("agent", "b")]),
        Some(0.0)
    );
    assert_eq!(
        value(
            &s,
            "openlegion_webhook_deliveries_total",
            &[("hook", "gh"), ("status", "202")]
        ),
        Some(1.0)
    );

    // Tool calls as the agent reports them.
    let tool = |t| [("agent", "a"), ("tool", t)];
    assert_eq!(
        value(&s, "openlegion_skill_calls_total", &tool("write_file")),
        Some(1.0)
    );
    assert_eq!(
        value(&s, "openlegion_skill_errors_total", &tool("write_file")),
        Some(0.0)
    );
    assert_eq!(
        value(&s, "openlegion_skill_calls_total", &tool("read_file")),
        Some(1.0)
    );
    assert_eq!(
        value(&s, "openlegion_skill_errors_total", &tool("read_file")),
        Some(1.0)
    );
    assert_eq!(
        value(&s, "openlegion_skill_traps_total", &tool("read_file")),
        Some(0.0)
    );
    assert_eq!(
        value(&s, "openlegion_agent_up", &[("agent", "a")]),
        Some(1.0)
    );

    assert!(value(&s, "openlegion_llm_errors_total", &a_mock) >= Some(1.0));

    // Every family with samples is described (an empty one is not written at all).
    for family in [
        "openlegion_http_requests",
        "openlegion_http_request_duration_seconds",
        "openlegion_llm_calls",
        "openlegion_llm_errors",
        "openlegion_llm_tokens",
        "openlegion_llm_cost_usd",
        "openlegion_budget_refusals",
        "openlegion_lane_queued",
        "openlegion_agent_restarts",
        "openlegion_skill_calls",
        "openlegion_skill_traps",
        "openlegion_webhook_deliveries",
    ] {
        assert!(s.docs.contains_key(family), "no HELP for {family}");
    }
}

/// The lines of `log` that are not blank.
fn lines(log: &str) -> Vec<&str> {
    log.lines().filter(|l| !l.trim().is_empty()).collect()
}

#[tokio::test]
async fn logs_are_json_lines_by_default_with_the_agent_id_on_every_agent_line() {
    let mock = MockLlm::start().await;
    let mesh = agent_mesh_env(
        &mock,
        "agents:\n  scout:\n    role: a\n",
        json!({}),
        "",
        vec![],
    )
    .await;
    mock.push_for(MODEL_NAME, Turn::text("hi"));
    mesh.chat("scout", "hello").await;

    let log = mesh.agent_log("scout");
    let agent_lines = lines(&log);
    assert!(agent_lines.len() >= 2, "{log}");
    for line in &agent_lines {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert_eq!(v["agent_id"], "scout", "{line}");
        assert!(v["level"].is_string() && v["fields"].is_object(), "{line}");
    }
    assert!(log.contains("agent serving"), "{log}");
    let log = mesh.log();
    for line in lines(&log) {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(v["timestamp"].is_string(), "{line}");
    }
    assert!(log.contains("mesh listening"), "{log}");
}

#[tokio::test]
async fn logs_are_text_when_asked_for_and_agents_follow_the_mesh() {
    let mock = MockLlm::start().await;
    let mesh = agent_mesh_env(
        &mock,
        "agents:\n  scout:\n    role: a\n",
        json!({}),
        "",
        vec![("OPENLEGION_LOG_FORMAT".into(), "text".into())],
    )
    .await;
    let log = mesh.agent_log("scout");
    for line in lines(&log) {
        assert!(line.starts_with("agent_id=scout "), "{line}");
        assert!(serde_json::from_str::<Value>(line).is_err(), "{line}");
    }
    let log = mesh.log();
    assert!(log.contains(" INFO ") && !log.starts_with('{'), "{log}");
}
