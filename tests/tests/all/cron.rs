//! Cron jobs on real mesh and agent processes with the mock LLM: a job `every 2s` drives
//! turns and keeps firing across a restart with its run state persisted; a run missed
//! while the mesh was down is caught up once or skipped; the `can_manage_cron` permission;
//! hostile cron.json files and expressions.

use std::time::{Duration, Instant};

use openlegion_mock_llm::{MockLlm, Turn};
use openlegion_tests::{MODEL_NAME, MeshProcess, agent_mesh, start_refuses};
use serde_json::{Value, json};

/// Waits until the model has received at least `n` requests; returns their user texts.
async fn prompts(mock: &MockLlm, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while mock.requests_for(MODEL_NAME).len() < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    mock.requests_for(MODEL_NAME)
        .iter()
        .map(|r| r.last_user_text())
        .collect()
}

fn cron_json(mesh: &MeshProcess) -> Value {
    let text = std::fs::read_to_string(mesh.config_dir().join("cron.json")).unwrap_or_default();
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// The job named `name` in cron.json on disk.
fn job(mesh: &MeshProcess, name: &str) -> Value {
    cron_json(mesh)["jobs"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|j| j["name"] == name || j["id"] == name)
        .cloned()
        .unwrap_or(Value::Null)
}

/// Waits until `check` holds for job `name` on disk.
async fn job_until(mesh: &MeshProcess, name: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let j = job(mesh, name);
        if check(&j) {
            return j;
        }
        assert!(
            Instant::now() < deadline,
            "job {name} never got there: {j}\n{}",
            mesh.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn ok(out: &std::process::Output) -> String {
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    text
}

fn refused(out: &std::process::Output) -> String {
    assert!(!out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn a_job_every_2s_drives_turns_and_survives_a_restart() {
    let mock = MockLlm::start().await;
    for _ in 0..20 {
        mock.push_for(MODEL_NAME, Turn::text("checked"));
    }
    let mut mesh = agent_mesh(&mock, "agents:\n  b:\n    role: watcher\n", json!({})).await;
    mesh.wait_agent("b").await;
    let text = ok(&mesh.cli(&[
        "cron",
        "add",
        "tick",
        "--agent",
        "b",
        "--schedule",
        "every 2s",
        "--message",
        "Tick: look at the queue",
    ]));
    assert!(text.contains("every 2 seconds"), "{text}");
    let seen = prompts(&mock, 1).await;
    assert!(
        seen[0].contains("[From cron:tick]") && seen[0].contains("Tick: look at the queue"),
        "{seen:?}"
    );
    let before = job_until(&mesh, "tick", |j| j["run_count"].as_u64() >= Some(2)).await;
    let listed = mesh.operator().get("/mesh/cron").await.expect(200);
    assert_eq!(listed["jobs"][0]["name"], "tick", "{listed}");

    mesh.terminate();
    let stopped = job(&mesh, "tick");
    assert!(stopped["last_run"].is_string(), "{stopped}");
    let turns = mock.requests_for(MODEL_NAME).len();
    tokio::time::sleep(Duration::from_secs(3)).await;
    mesh.restart().await;
    let after = job_until(&mesh, "tick", |j| {
        j["run_count"].as_u64() > stopped["run_count"].as_u64()
    })
    .await;
    assert!(
        after["last_run"].as_str() > stopped["last_run"].as_str(),
        "last_run moves on after the restart: {stopped} → {after}"
    );
    assert!(before["run_count"].as_u64() <= stopped["run_count"].as_u64());
    let seen = prompts(&mock, turns + 1).await;
    assert!(seen.len() > turns, "a turn after the restart");
    let list = ok(&mesh.cli(&["cron", "list"]));
    assert!(list.contains("tick\tb\tevery 2s\tenabled"), "{list}");
    ok(&mesh.cli(&["cron", "remove", "tick"]));
    assert_eq!(cron_json(&mesh)["jobs"], json!([]));
}

/// A job whose next run passed while the mesh was down (its schedule's next match is
/// months away, so only a catch-up can fire it now).
fn missed(name: &str, catch_up: bool) -> Value {
    let hour_ago = chrono::Utc::now() - chrono::TimeDelta::hours(1);
    json!({"id": format!("cron_{name}"), "name": name, "agent": "b", "schedule": "0 0 1 1 *",
           "timezone": "UTC", "message": format!("missed job {name}"), "catch_up": catch_up,
           "next_run": hour_ago.to_rfc3339()})
}

#[tokio::test]
async fn a_missed_run_is_caught_up_once_and_skipped_without_catch_up() {
    let mock = MockLlm::start().await;
    for _ in 0..5 {
        mock.push_for(MODEL_NAME, Turn::text("caught up"));
    }
    let mut mesh = agent_mesh(&mock, "agents:\n  b:\n    role: watcher\n", json!({})).await;
    mesh.wait_agent("b").await;
    mesh.terminate();
    mesh.write_config(
        "cron.json",
        &json!({"jobs": [missed("yes", true), missed("no", false)]}).to_string(),
    );
    mesh.restart().await;
    mesh.wait_agent("b").await;
    let seen = prompts(&mock, 1).await;
    assert!(seen[0].contains("missed job yes"), "{seen:?}");
    let yes = job_until(&mesh, "yes", |j| j["run_count"] == 1).await;
    let no = job(&mesh, "no");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        mock.requests_for(MODEL_NAME).len(),
        1,
        "the skipped job makes no turn"
    );
    let next_year = format!(
        "{}-01-01T00:00:00",
        chrono::Utc::now()
            .format("%Y")
            .to_string()
            .parse::<i32>()
            .unwrap()
            + 1
    );
    for j in [&yes, &no] {
        assert!(
            j["next_run"].as_str().unwrap().starts_with(&next_year),
            "{j}"
        );
    }
    assert_eq!(no["run_count"], 0, "{no}");
    // A second restart does not fire the caught-up occurrence again.
    mesh.terminate();
    mesh.restart().await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(mock.requests_for(MODEL_NAME).len(), 1);
}

#[tokio::test]
async fn agents_manage_only_their_own_jobs_and_only_with_can_manage_cron() {
    let mesh = openlegion_tests::MeshProcess::start(openlegion_tests::MeshOptions {
        agents_yaml: "agents:\n  a: {role: x}\n  b: {role: y}\n".into(),
        ..openlegion_tests::MeshOptions::with_permissions(
            json!({"a": {"can_manage_cron": true}, "b": {}}),
        )
    })
    .await;
    let (a, b) = (mesh.agent("a").await, mesh.agent("b").await);
    let job = json!({"schedule": "0 9 * * 1-5", "message": "standup", "timezone": "Europe/Berlin"});
    let e = b.post("/mesh/cron", &job).await.expect(403);
    assert!(
        e["detail"].as_str().unwrap().contains("can_manage_cron"),
        "{e}"
    );
    let made = a.post("/mesh/cron", &job).await.expect(200);
    assert_eq!(
        (made["agent"].as_str(), made["created_by"].as_str()),
        (Some("a"), Some("a"))
    );
    assert!(made["next_run"].is_string(), "{made}");
    let other = json!({"agent": "b", "schedule": "every 1h", "message": "x"});
    a.post("/mesh/cron", &other).await.expect(403);
    let theirs = mesh.operator().post("/mesh/cron", &other).await.expect(200);
    let path = format!("/mesh/cron/{}", theirs["id"].as_str().unwrap());
    a.delete(&path).await.expect(403);
    let mine = a.get("/mesh/cron").await.expect(200);
    assert_eq!(mine["count"], 1, "only its own: {mine}");
    let bad = json!({"schedule": "61 * * * *", "message": "x"});
    let e = a.post("/mesh/cron", &bad).await.expect(400);
    assert!(e["detail"].as_str().unwrap().contains("61 * * * *"), "{e}");
    let bad_zone = json!({"schedule": "0 9 * * *", "message": "x", "timezone": "Mars/Base"});
    a.post("/mesh/cron", &bad_zone).await.expect(400);
    let id = made["id"].as_str().unwrap();
    a.delete(&format!("/mesh/cron/{id}")).await.expect(200);
    mesh.operator().delete(&path).await.expect(200);
    assert_eq!(cron_json(&mesh)["jobs"], json!([]));
}

#[tokio::test]
async fn hostile_cron_files_never_crash_the_mesh_or_lose_a_job() {
    // At start: a wrong type stops the start, naming file, line and field; the file stays.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::create_dir(&config).unwrap();
    std::fs::write(
        config.join("mesh.yaml"),
        "mesh:\n  port: 0\nruntime:\n  isolation: external\n",
    )
    .unwrap();
    let broken = "{\"jobs\": [\n {\"id\": \"cron_1\", \"agent\": \"a\",\n  \"schedule\": \"every 1m\", \"enabled\": \"yes\"}]}";
    std::fs::write(config.join("cron.json"), broken).unwrap();
    let e = start_refuses(&config);
    assert!(
        e.contains("cron.json:3:") && e.contains("jobs[0].enabled"),
        "{e}"
    );
    assert_eq!(
        std::fs::read_to_string(config.join("cron.json")).unwrap(),
        broken
    );

    // Running: broken jobs are disabled with the reason, the good one stays.
    let mesh = MeshProcess::start(openlegion_tests::MeshOptions {
        agents_yaml: "agents:\n  a: {role: x}\n".into(),
        ..Default::default()
    })
    .await;
    let good = json!({"id": "cron_good", "agent": "a", "schedule": "0 9 * * *", "message": "fine"});
    let jobs = json!({"jobs": [
        good,
        {"id": "cron_expr", "agent": "a", "schedule": "0 0 9 * * 1-5", "message": "six fields"},
        {"id": "cron_zone", "agent": "a", "schedule": "0 9 * * *", "timezone": "Atlantis", "message": "x"},
        {"id": "cron_ghost", "agent": "ghost", "schedule": "every 1m", "message": "x"},
    ]});
    mesh.write_config("cron.json", &jobs.to_string());
    let expr = job_until(&mesh, "cron_expr", |j| j["enabled"] == false).await;
    assert!(
        expr["last_error"].as_str().unwrap().contains("6 fields"),
        "{expr}"
    );
    let zone = job(&mesh, "cron_zone");
    assert!(
        zone["last_error"].as_str().unwrap().contains("Atlantis"),
        "{zone}"
    );
    let ghost = job(&mesh, "cron_ghost");
    assert!(
        ghost["last_error"].as_str().unwrap().contains("ghost"),
        "{ghost}"
    );
    assert_eq!(job(&mesh, "cron_good")["enabled"], true);
    assert!(job(&mesh, "cron_good")["next_run"].is_string());

    // An unknown key while running: reported, the jobs in force stay, nothing is written.
    let typo = "{\"jobs\": [{\"id\": \"cron_good\", \"agent\": \"a\",\n  \"schedule\": \"0 9 * * *\", \"mesage\": \"x\"}]}";
    mesh.write_config("cron.json", typo);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let op = mesh.operator();
    op.get("/mesh/health").await.expect(200);
    assert!(
        mesh.log().contains("unknown field `mesage`"),
        "{}",
        mesh.log()
    );
    assert_eq!(
        std::fs::read_to_string(mesh.config_dir().join("cron.json")).unwrap(),
        typo,
        "not written over"
    );
    assert_eq!(op.get("/mesh/cron").await.expect(200)["count"], 4);
    let e = op
        .post(
            "/mesh/cron",
            &json!({"agent": "a", "schedule": "every 1h", "message": "x"}),
        )
        .await
        .expect(409);
    assert!(e["detail"].as_str().unwrap().contains("cron.json"), "{e}");
    let e = refused(&mesh.cli(&["cron", "list"]));
    assert!(e.contains("cron.json:2:") && e.contains("mesage"), "{e}");
    // Fixed: read again.
    mesh.write_config("cron.json", &json!({"jobs": [good]}).to_string());
    let deadline = Instant::now() + Duration::from_secs(30);
    while op.get("/mesh/cron").await.expect(200)["count"] != 1 {
        assert!(Instant::now() < deadline, "{}", mesh.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Malformed expressions through the CLI.
    for schedule in ["every 0s", "* * *", "every 5 fortnights", "0 9 * * 8"] {
        let e = refused(&mesh.cli(&[
            "cron",
            "add",
            "x",
            "--agent",
            "a",
            "--schedule",
            schedule,
            "--message",
            "m",
        ]));
        assert!(e.contains("is not a schedule"), "{schedule}: {e}");
    }
    assert_eq!(op.get("/mesh/cron").await.expect(200)["count"], 1);
}

#[tokio::test]
async fn an_agent_schedules_itself_with_its_tools() {
    let mock = MockLlm::start().await;
    let mesh = agent_mesh(
        &mock,
        "agents:\n  b:\n    role: planner\n",
        json!({"b": {"can_manage_cron": true}}),
    )
    .await;
    mesh.wait_agent("b").await;
    mock.push_for(
        MODEL_NAME,
        Turn::tool_call(
            "set_cron",
            json!({"schedule": "0 9 * * 1-5", "message": "Write the daily report",
                   "timezone": "America/New_York", "name": "report"}),
        ),
    );
    mock.push_for(
        MODEL_NAME,
        Turn::tool_call(
            "set_heartbeat",
            json!({"schedule": "every 1h", "probes": ["signals", "tasks"]}),
        ),
    );
    mock.push_for(MODEL_NAME, Turn::tool_call("list_cron", json!({})));
    mock.push_for(
        MODEL_NAME,
        Turn::tool_call("remove_cron", json!({"id": "report"})),
    );
    mock.push_for(MODEL_NAME, Turn::text("Scheduled."));
    let reply = mesh.chat("b", "Plan your week.").await;
    let out = super::outputs(&reply);
    assert!(
        out[0].contains("\"scheduled\":true") && out[0].contains("next_run"),
        "{out:?}"
    );
    assert!(
        out[1].contains("\"heartbeat\":true") && out[1].contains("every 1h"),
        "{out:?}"
    );
    assert!(
        out[2].contains("\"count\":2") && out[2].contains("America/New_York"),
        "{out:?}"
    );
    assert!(out[3].contains("\"removed\":true"), "{out:?}");
    let beat = job(&mesh, "heartbeat_b");
    assert_eq!(
        (
            beat["schedule"].as_str(),
            beat["probes"].clone(),
            beat["created_by"].as_str()
        ),
        (Some("every 1h"), json!(["signals", "tasks"]), Some("b")),
        "{beat}"
    );
    assert_eq!(job(&mesh, "report"), Value::Null, "removed");
}
