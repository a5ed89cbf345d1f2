//! Workflows end to end: a real mesh, real agent processes (one model queue of the mock LLM
//! each), the shipped `config/workflows/prospect_pipeline.yaml` and workflows written by
//! the tests. Triggers (a publish, the CLI, the webhook), conditions, retries, fallback,
//! timeouts, cancellation, reload, and a mesh SIGKILLed in the middle of a run.

use std::time::{Duration, Instant};

use openlegion_mesh::webhooks::signature::sign;
use openlegion_mock_llm::{MockLlm, Turn};
use openlegion_tests::{MeshProcess, agent_mesh_env};
use serde_json::{Value, json};

const PIPELINE: &str = include_str!("../../../config/workflows/prospect_pipeline.yaml");
const SECRET: &str = "prospect webhook secret";

/// The pipeline's three agents, each with a model of its own (a queue of its own in the
/// mock), and the blackboard rights the pipeline needs.
const AGENTS: &str = "agents:
  research:
    role: research
    model: openai/research
  qualify:
    role: qualify
    model: openai/qualify
  outreach:
    role: outreach
    model: openai/outreach
";

fn permissions() -> Value {
    json!({
        "research": {"blackboard_read": ["context/*"], "blackboard_write": ["context/prospect_*"]},
        "qualify": {"blackboard_read": ["context/*"]},
        "outreach": {"blackboard_read": ["context/*"]},
    })
}

/// A mesh running `agents_yaml` with the skill seed.
async fn mesh_of(
    mock: &MockLlm,
    agents_yaml: &str,
    permissions: Value,
    env: Vec<(String, String)>,
) -> MeshProcess {
    let env = env.into_iter().chain([crate::skill_seed()]).collect();
    agent_mesh_env(mock, agents_yaml, permissions, "", env).await
}

/// Writes `config/workflows/NAME.yaml` and reloads the mesh; returns the reload's answer.
async fn install(mesh: &MeshProcess, name: &str, text: &str) -> Value {
    std::fs::create_dir_all(mesh.config_dir().join("workflows")).unwrap();
    mesh.write_config(&format!("workflows/{name}.yaml"), text);
    mesh.operator()
        .post("/mesh/reload", &json!({}))
        .await
        .expect(200)
}

async fn pipeline_mesh(mock: &MockLlm) -> MeshProcess {
    let mesh = mesh_of(
        mock,
        AGENTS,
        permissions(),
        vec![(
            "OPENLEGION_CRED_PROSPECT_WEBHOOK_SECRET".into(),
            SECRET.into(),
        )],
    )
    .await;
    let reloaded = install(&mesh, "prospect_pipeline", PIPELINE).await;
    assert_eq!(reloaded["also"], json!(["1 workflows"]), "{reloaded}");
    mesh
}

/// Waits (at most two minutes) for run `id` to end and returns it.
async fn finished(mesh: &MeshProcess, id: &str) -> Value {
    let op = mesh.operator();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let view = op
            .get(&format!("/mesh/workflows/runs/{id}?wait=20"))
            .await
            .expect(200);
        if view["finished"] == true {
            return view;
        }
        assert!(
            Instant::now() < deadline,
            "run {id} did not end: {view}\n{}",
            mesh.log()
        );
    }
}

/// Waits until `check` holds for run `id`.
async fn until(mesh: &MeshProcess, id: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let op = mesh.operator();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let view = op
            .get(&format!("/mesh/workflows/runs/{id}"))
            .await
            .expect(200);
        if check(&view) {
            return view;
        }
        assert!(Instant::now() < deadline, "never {what}: {view}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn step<'a>(view: &'a Value, id: &str) -> &'a Value {
    view["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("no step {id} in {view}"))
}

fn log_text(view: &Value) -> String {
    view["log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            format!(
                "[{}] {}",
                l["step"].as_str().unwrap_or("-"),
                l["message"].as_str().unwrap()
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn script_good_lead(mock: &MockLlm, company: &str) {
    mock.push_for(
        "research",
        Turn::text(json!({"score": 8, "company": company, "domain": "acme.test"}).to_string()),
    );
    mock.push_for(
        "qualify",
        Turn::text(json!({"score": 0.9, "why": "fits"}).to_string()),
    );
    mock.push_for(
        "outreach",
        Turn::text(json!({"draft": format!("Hello {company}")}).to_string()),
    );
}

fn assert_pipeline_complete(view: &Value, company: &str) {
    assert_eq!(view["status"], "complete", "{view}");
    for id in ["research", "qualify", "outreach"] {
        assert_eq!(step(view, id)["status"], "complete", "{id}: {view}");
        assert_eq!(step(view, id)["attempts"], 1, "{id}: {view}");
    }
    assert_eq!(
        step(view, "outreach")["result"],
        json!({"draft": format!("Hello {company}")})
    );
}

#[tokio::test]
async fn the_prospect_pipeline_runs_from_a_publish_from_the_cli_and_from_its_webhook() {
    let mock = MockLlm::start().await;
    let mesh = pipeline_mesh(&mock).await;
    let op = mesh.operator();

    // 1. A publish on new_prospect.
    script_good_lead(&mock, "Acme");
    let published = op
        .post(
            "/mesh/publish",
            &json!({"topic": "new_prospect", "payload": {"lead_id": 7, "company": "Acme"}}),
        )
        .await
        .expect(200);
    let runs = published["workflow_runs"].as_array().unwrap().clone();
    assert_eq!(runs.len(), 1, "{published}");
    let view = finished(&mesh, runs[0].as_str().unwrap()).await;
    assert_pipeline_complete(&view, "Acme");
    assert_eq!(view["trigger"]["kind"], "topic");
    assert_eq!(view["trigger"]["payload"]["lead_id"], 7);
    // research's result went to the blackboard, as research, and qualify read it from there.
    let entry = op
        .get("/mesh/blackboard/context/prospect_7")
        .await
        .expect(200);
    assert_eq!(entry["written_by"], "research", "{entry}");
    assert_eq!(entry["value"]["company"], "Acme");
    let qualify_prompt = mock.requests_for("qualify")[0].last_user_text();
    assert!(
        qualify_prompt.contains("qualify_lead") && qualify_prompt.contains("acme.test"),
        "{qualify_prompt}"
    );
    let outreach_prompt = mock.requests_for("outreach")[0].last_user_text();
    assert!(
        outreach_prompt.contains("\"why\": \"fits\""),
        "{outreach_prompt}"
    );
    let log = log_text(&view);
    assert!(
        log.contains("condition `research.result.score >= 5` holds"),
        "{log}"
    );
    assert!(
        log.contains("written to the blackboard: context/prospect_7"),
        "{log}"
    );

    // 2. The CLI, following the run to its end.
    script_good_lead(&mock, "Bolt");
    // On a thread of its own: the mock LLM is served by this test's runtime meanwhile.
    let config = mesh.config_dir();
    let out = tokio::task::spawn_blocking(move || {
        openlegion_tests::cli(
            &config,
            &[
                "workflow",
                "run",
                "prospect_pipeline",
                "--input",
                r#"{"lead_id": 8, "company": "Bolt"}"#,
                "--wait",
            ],
        )
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cli_run = stdout.lines().next().unwrap().trim().to_owned();
    assert!(cli_run.starts_with("wfr_"), "{stdout}");
    assert!(
        stdout.contains(&format!("run {cli_run} complete")),
        "{stdout}"
    );
    assert!(
        stdout.contains("outreach complete (agent outreach"),
        "{stdout}"
    );
    assert_pipeline_complete(&finished(&mesh, &cli_run).await, "Bolt");

    // 3. The webhook: signed, once per delivery id; unsigned or unknown refused.
    let body = json!({"lead_id": 9, "company": "Cask"})
        .to_string()
        .into_bytes();
    let post = |path: &str, body: Vec<u8>, headers: Vec<(&'static str, String)>| {
        let mut req = reqwest::Client::new()
            .post(format!("{}{path}", mesh.url()))
            .body(body);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        req.send()
    };
    let path = "/webhook/trigger/prospect_pipeline";
    let unsigned = post(path, body.clone(), vec![]).await.unwrap();
    assert_eq!(unsigned.status().as_u16(), 401);
    let unknown = post("/webhook/trigger/nope", body.clone(), vec![])
        .await
        .unwrap();
    assert_eq!(unknown.status().as_u16(), 404);
    script_good_lead(&mock, "Cask");
    let headers = vec![
        ("x-hub-signature-256", sign(SECRET.as_bytes(), &body)),
        ("x-github-delivery", "delivery-1".to_owned()),
    ];
    let first = post(path, body.clone(), headers.clone()).await.unwrap();
    assert_eq!(first.status().as_u16(), 202);
    let first: Value = first.json().await.unwrap();
    let again = post(path, body.clone(), headers).await.unwrap();
    assert_eq!(again.status().as_u16(), 200);
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["status"], "duplicate");
    assert_eq!(again["run_id"], first["run_id"], "the same run");
    let hook_run = first["run_id"].as_str().unwrap();
    let view = finished(&mesh, hook_run).await;
    assert_pipeline_complete(&view, "Cask");
    assert_eq!(view["trigger"]["trusted"], false);
    // Outside input reaches the agent as data, never as instructions.
    let prompt = mock.requests_for("research")[2].last_user_text();
    assert!(
        prompt.contains("untrusted input from workflow:prospect_pipeline/research"),
        "{prompt}"
    );

    // Nothing else was asked of the model: one request per step per run.
    for model in ["research", "qualify", "outreach"] {
        assert_eq!(mock.requests_for(model).len(), 3, "{model}");
    }
    let list = String::from_utf8_lossy(&mesh.cli(&["workflow", "list"]).stdout).into_owned();
    assert!(
        list.contains("prospect_pipeline\ttopic new_prospect, webhook\tresearch@research qualify@qualify outreach@outreach"),
        "{list}"
    );
    let runs =
        String::from_utf8_lossy(&mesh.cli(&["workflow", "runs", "prospect_pipeline"]).stdout)
            .into_owned();
    assert_eq!(
        runs.lines().filter(|l| l.contains("\tcomplete\t")).count(),
        3,
        "{runs}"
    );
    let status =
        String::from_utf8_lossy(&mesh.cli(&["workflow", "status", hook_run]).stdout).into_owned();
    assert!(
        status.contains(&format!("run {hook_run} of prospect_pipeline: complete")),
        "{status}"
    );
    assert!(
        status.contains("started by webhook prospect_pipeline"),
        "{status}"
    );
}

#[tokio::test]
async fn a_low_score_skips_the_dependent_steps_and_says_why() {
    let mock = MockLlm::start().await;
    let mesh = pipeline_mesh(&mock).await;
    mock.push_for("research", Turn::text(r#"{"score": 2}"#));
    let started = mesh
        .operator()
        .post(
            "/mesh/workflows/prospect_pipeline/run",
            &json!({"input": {"lead_id": 1}}),
        )
        .await
        .expect(202);
    let view = finished(&mesh, started["run_id"].as_str().unwrap()).await;
    assert_eq!(view["status"], "complete", "{view}");
    assert_eq!(step(&view, "research")["status"], "complete");
    for id in ["qualify", "outreach"] {
        assert_eq!(step(&view, id)["status"], "skipped", "{view}");
        assert_eq!(
            step(&view, id)["result"],
            json!({"skipped": true, "reason": "condition_not_met"})
        );
    }
    let log = log_text(&view);
    assert!(
        log.contains("[qualify] condition `research.result.score >= 5` is false: skipped"),
        "{log}"
    );
    // A missing field is false, and the log says which.
    assert!(
        log.contains("[outreach] condition `qualify.result.score > 0.7` cannot be evaluated")
            && log.contains("qualify.result has no field `score`"),
        "{log}"
    );
    assert_eq!(mock.requests().len(), 1, "only research asked the model");
}

#[tokio::test]
async fn a_step_that_fails_twice_then_succeeds_finishes_under_retry() {
    let mock = MockLlm::start().await;
    let mesh = pipeline_mesh(&mock).await;
    let broken = || Turn::error(400).with_body(json!({"error": {"message": "model refused"}}));
    mock.push_for("research", broken());
    mock.push_for("research", broken());
    mock.push_for("research", Turn::text(r#"{"score": 1}"#));
    let started = mesh
        .operator()
        .post(
            "/mesh/workflows/prospect_pipeline/run",
            &json!({"input": {"lead_id": 2}}),
        )
        .await
        .expect(202);
    let view = finished(&mesh, started["run_id"].as_str().unwrap()).await;
    assert_eq!(view["status"], "complete", "{view}");
    let research = step(&view, "research");
    assert_eq!(research["attempts"], 3, "{view}");
    assert_eq!(research["result"], json!({"score": 1}));
    let log = log_text(&view);
    assert!(
        log.contains("attempt 1 failed") && log.contains("retry 1 of 3 in 1 s"),
        "{log}"
    );
    assert!(
        log.contains("attempt 2 failed") && log.contains("retry 2 of 3 in 2 s"),
        "{log}"
    );
    assert!(log.contains("model refused"), "{log}");
    assert_eq!(mock.requests_for("research").len(), 3);
}

#[tokio::test]
async fn a_cron_trigger_starts_a_run_on_its_schedule_and_a_bad_one_is_refused() {
    let mock = MockLlm::start().await;
    let mesh = mesh_of(
        &mock,
        "agents:\n  writer:\n    role: w\n    model: openai/writer\n",
        json!({}),
        vec![],
    )
    .await;
    // A schedule that does not parse refuses the reload, naming the field.
    std::fs::create_dir_all(mesh.config_dir().join("workflows")).unwrap();
    mesh.write_config(
        "workflows/digest.yaml",
        "name: digest\ntrigger: {cron: \"every fortnight\"}\nsteps:\n  - {id: write, agent: writer, task_type: digest}\n",
    );
    let refused = mesh
        .operator()
        .post("/mesh/reload", &json!({}))
        .await
        .expect(400);
    assert!(refused.to_string().contains("trigger.cron"), "{refused}");

    for _ in 0..3 {
        mock.push_for("writer", Turn::text(r#"{"digest": "quiet day"}"#));
    }
    install(
        &mesh,
        "digest",
        "name: digest\ntrigger: {cron: \"every 2s\"}\nsteps:\n  - {id: write, agent: writer, task_type: digest}\n",
    )
    .await;
    let op = mesh.operator();
    let deadline = Instant::now() + Duration::from_secs(60);
    let run = loop {
        let runs = op.get("/mesh/workflows/digest/runs").await.expect(200);
        if let Some(run) = runs["runs"].as_array().and_then(|r| r.first()) {
            break run.clone();
        }
        assert!(Instant::now() < deadline, "no run started: {runs}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let view = finished(&mesh, run["id"].as_str().unwrap()).await;
    assert_eq!(view["status"], "complete", "{view}");
    assert_eq!(
        step(&view, "write")["result"],
        json!({"digest": "quiet day"})
    );
    assert!(
        log_text(&view).contains("cron"),
        "the run says what started it: {view}"
    );
}

#[tokio::test]
async fn fallback_hands_a_failed_step_to_another_agent() {
    let mock = MockLlm::start().await;
    let mesh = mesh_of(
        &mock,
        "agents:\n  writer:\n    role: w\n    model: openai/writer\n  backup:\n    role: b\n    model: openai/backup\n",
        json!({}),
        vec![],
    )
    .await;
    install(
        &mesh,
        "draft",
        "name: draft
steps:
  - id: draft
    agent: writer
    task_type: draft_email
    on_failure: {fallback: backup}
",
    )
    .await;
    mock.push_for("writer", Turn::error(400));
    mock.push_for("backup", Turn::text(r#"{"draft": "from the backup"}"#));
    let started = mesh
        .operator()
        .post("/mesh/workflows/draft/run", &json!({}))
        .await
        .expect(202);
    let view = finished(&mesh, started["run_id"].as_str().unwrap()).await;
    assert_eq!(view["status"], "complete", "{view}");
    let draft = step(&view, "draft");
    assert_eq!(
        (draft["agent"].clone(), draft["attempts"].clone()),
        (json!("backup"), json!(2))
    );
    assert_eq!(draft["result"], json!({"draft": "from the backup"}));
    assert!(
        log_text(&view).contains("falling back to agent backup"),
        "{view}"
    );
    assert!(
        mock.requests_for("backup")[0]
            .last_user_text()
            .contains("draft_email")
    );
}

#[tokio::test]
async fn timeouts_cancel_the_agent_s_task_and_the_operator_cancels_runs() {
    let mock = MockLlm::start().await;
    let mesh = mesh_of(
        &mock,
        "agents:\n  slow:\n    role: s\n    model: openai/slow\n",
        json!({}),
        vec![],
    )
    .await;
    install(
        &mesh,
        "slow",
        "name: slow
timeout: 60
steps:
  - id: think
    agent: slow
    task_type: ponder
    timeout: 2
",
    )
    .await;
    install(
        &mesh,
        "whole",
        "name: whole
timeout: 2
steps:
  - {id: think, agent: slow, task_type: ponder}
",
    )
    .await;
    let op = mesh.operator();

    // The step's timeout: the task is cancelled on the agent and the run fails (abort).
    mock.push_for("slow", Turn::hang());
    let started = op
        .post("/mesh/workflows/slow/run", &json!({}))
        .await
        .expect(202);
    let view = finished(&mesh, started["run_id"].as_str().unwrap()).await;
    assert_eq!(view["status"], "failed", "{view}");
    assert!(
        view["error"]
            .as_str()
            .unwrap()
            .contains("step think failed: timed out after 2 s; the agent's task was cancelled"),
        "{view}"
    );
    let item = step(&view, "think")["lane_item"]
        .as_str()
        .unwrap()
        .to_owned();
    let lane = op
        .get(&format!("/mesh/lanes/items/{item}?wait=20"))
        .await
        .expect(200);
    assert_eq!(lane["outcome"]["status"], "cancelled", "{lane}");
    let agent = op.get("/mesh/agents/slow/api/status").await.expect(200);
    assert_eq!(
        (agent["state"].clone(), agent["current_task"].clone()),
        (json!("idle"), Value::Null),
        "{agent}"
    );

    // The workflow's timeout cancels the whole run.
    mock.push_for("slow", Turn::hang());
    let started = op
        .post("/mesh/workflows/whole/run", &json!({}))
        .await
        .expect(202);
    let view = finished(&mesh, started["run_id"].as_str().unwrap()).await;
    assert_eq!(view["status"], "failed", "{view}");
    assert_eq!(view["error"], "the run timed out after 2 s");
    assert_eq!(step(&view, "think")["status"], "cancelled");

    // The operator cancels a run; a cancelled run cannot be cancelled again.
    mock.push_for("slow", Turn::hang());
    let started = op
        .post("/mesh/workflows/slow/run", &json!({}))
        .await
        .expect(202);
    let id = started["run_id"].as_str().unwrap().to_owned();
    until(&mesh, &id, "running", |v| {
        step(v, "think")["status"] == "running"
    })
    .await;
    let out = mesh.cli(&["workflow", "cancel", &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let view = finished(&mesh, &id).await;
    assert_eq!(
        (view["status"].clone(), view["error"].clone()),
        (json!("cancelled"), json!("cancelled by the operator"))
    );
    let again = op
        .post(&format!("/mesh/workflows/runs/{id}/cancel"), &json!({}))
        .await;
    assert_eq!(again.status.as_u16(), 409, "{}", again.body);
    assert_eq!(
        op.get("/mesh/workflows/runs/wfr_nope")
            .await
            .status
            .as_u16(),
        404
    );
}

#[tokio::test]
async fn a_mesh_killed_mid_run_resumes_without_running_completed_steps_again() {
    let mock = MockLlm::start().await;
    let mut mesh = pipeline_mesh(&mock).await;
    mock.push_for("research", Turn::text(r#"{"score": 9, "company": "Dune"}"#));
    mock.push_for("qualify", Turn::hang());
    mock.push_for("qualify", Turn::text(r#"{"score": 0.95}"#));
    mock.push_for("outreach", Turn::text(r#"{"draft": "Hello Dune"}"#));
    let published = mesh
        .operator()
        .post(
            "/mesh/publish",
            &json!({"topic": "new_prospect", "payload": {"lead_id": 42}}),
        )
        .await
        .expect(200);
    let id = published["workflow_runs"][0].as_str().unwrap().to_owned();
    until(&mesh, &id, "qualifying", |v| {
        step(v, "qualify")["status"] == "running"
    })
    .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while mock.requests_for("qualify").is_empty() {
        assert!(Instant::now() < deadline, "qualify never asked the model");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    mesh.kill9();
    mesh.restart().await;
    for agent in ["research", "qualify", "outreach"] {
        mesh.wait_agent(agent).await;
    }
    let view = finished(&mesh, &id).await;
    assert_eq!(view["status"], "complete", "{view}\n{}", mesh.log());
    assert_eq!(step(&view, "research")["attempts"], 1);
    assert_eq!(
        step(&view, "outreach")["result"],
        json!({"draft": "Hello Dune"})
    );
    assert_eq!(step(&view, "qualify")["result"], json!({"score": 0.95}));
    assert_eq!(
        mock.requests_for("research").len(),
        1,
        "research did not run again"
    );
    assert_eq!(
        mock.requests_for("qualify").len(),
        2,
        "the step in flight ran again"
    );
    assert_eq!(mock.requests_for("outreach").len(), 1);
    assert!(
        log_text(&view).contains("[qualify] the mesh restarted during attempt 1"),
        "{view}"
    );
}

#[tokio::test]
async fn reload_takes_new_and_changed_files_while_runs_keep_their_definition() {
    let mock = MockLlm::start().await;
    let mesh = mesh_of(
        &mock,
        "agents:\n  a:\n    role: a\n    model: openai/a\n  b:\n    role: b\n    model: openai/b\n",
        json!({}),
        vec![],
    )
    .await;
    let op = mesh.operator();
    assert_eq!(
        op.get("/mesh/workflows").await.expect(200)["workflows"],
        json!([])
    );
    let version = |task: &str| {
        format!(
            "name: two\nsteps:\n  - {{id: first, agent: a, task_type: warm_up}}\n  - {{id: second, agent: b, task_type: {task}, depends_on: [first]}}\n"
        )
    };
    install(&mesh, "two", &version("version_one")).await;
    mock.push_for(
        "a",
        Turn::text(r#"{"ok": true}"#).delayed(Duration::from_millis(1500)),
    );
    mock.push_for("b", Turn::text(r#"{"done": 1}"#));
    let started = op
        .post("/mesh/workflows/two/run", &json!({}))
        .await
        .expect(202);
    let id = started["run_id"].as_str().unwrap().to_owned();
    until(&mesh, &id, "started", |v| {
        step(v, "first")["status"] == "running"
    })
    .await;
    // Changed while the run is in progress: the run keeps version_one.
    install(&mesh, "two", &version("version_two")).await;
    assert_eq!(finished(&mesh, &id).await["status"], "complete");
    assert!(
        mock.requests_for("b")[0]
            .last_user_text()
            .contains("version_one")
    );
    // The next run follows the new file.
    mock.push_for("a", Turn::text(r#"{"ok": true}"#));
    mock.push_for("b", Turn::text(r#"{"done": 2}"#));
    let started = op
        .post("/mesh/workflows/two/run", &json!({}))
        .await
        .expect(202);
    assert_eq!(
        finished(&mesh, started["run_id"].as_str().unwrap()).await["status"],
        "complete"
    );
    assert!(
        mock.requests_for("b")[1]
            .last_user_text()
            .contains("version_two")
    );

    // A broken file refuses the reload, naming file, line and field; the workflows stay.
    mesh.write_config(
        "workflows/two.yaml",
        &version("x").replace("depends_on: [first]", "depends_on: [frist]"),
    );
    let refused = op.post("/mesh/reload", &json!({})).await;
    assert_eq!(refused.status.as_u16(), 400, "{}", refused.body);
    let detail = refused.detail();
    assert!(
        detail.contains("two.yaml:4:") && detail.contains("steps[1].depends_on[0]"),
        "{detail}"
    );
    let listed = op.get("/mesh/workflows").await.expect(200);
    assert_eq!(
        listed["workflows"][0]["steps"][1]["task_type"],
        "version_two"
    );
    assert_eq!(
        op.post("/mesh/workflows/nope/run", &json!({}))
            .await
            .status
            .as_u16(),
        404
    );
}

#[tokio::test]
async fn start_refuses_a_workflow_whose_agent_is_not_in_agents_yaml() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::create_dir_all(config.join("workflows")).unwrap();
    std::fs::write(
        config.join("mesh.yaml"),
        "mesh:\n  port: 0\nruntime:\n  isolation: external\n",
    )
    .unwrap();
    std::fs::write(
        config.join("agents.yaml"),
        "agents:\n  research:\n    role: r\n",
    )
    .unwrap();
    std::fs::write(config.join("workflows/prospect_pipeline.yaml"), PIPELINE).unwrap();
    let stderr = openlegion_tests::start_refuses(&config);
    assert!(
        stderr.contains("prospect_pipeline.yaml:")
            && stderr.contains("steps[1].agent")
            && stderr.contains("no agent \"qualify\" in agents.yaml"),
        "{stderr}"
    );
}
