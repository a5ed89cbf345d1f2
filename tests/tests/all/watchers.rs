//! File watchers: a real mesh and a real agent process, files written into the agent's data
//! directory, turns counted at the scripted mock LLM. A file fires once, when complete;
//! files there before the first scan and files already handled never fire, not even after
//! a restart; a hostile watchers.yaml is refused with file, line and field.

use std::io::Write;
use std::time::{Duration, Instant};

use openlegion_mock_llm::{MockLlm, Turn};
use openlegion_tests::{MODEL_NAME, MeshProcess, agent_mesh, start_refuses};
use serde_json::{Value, json};

const WATCHERS: &str = "watchers:
  - path: /data/inbox
    pattern: \"*.csv\"
    agent: a
    message: \"New prospect list uploaded: {filename} ({path}). Begin research.\"
    poll_seconds: 2
";

/// The mesh's watchers, as `GET /mesh/watchers` shows them.
async fn watchers(mesh: &MeshProcess) -> Vec<Value> {
    let list = mesh.operator().get("/mesh/watchers").await.expect(200);
    list.as_array().unwrap().clone()
}

/// Waits until every watcher has completed a poll after now (the first one is the scan).
async fn polled(mesh: &MeshProcess) {
    let before: Vec<Value> = watchers(mesh)
        .await
        .iter()
        .map(|w| w["last_poll_at"].clone())
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let now = watchers(mesh).await;
        if !now.is_empty()
            && now.iter().zip(&before).all(|(w, b)| {
                w["scanned"] == json!(true)
                    && !w["last_poll_at"].is_null()
                    && w["last_poll_at"] != *b
            })
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the watchers did not poll: {now:?}\n{}",
            mesh.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the mock LLM has had `n` requests.
async fn llm_requests(mock: &MockLlm, mesh: &MeshProcess, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let prompts: Vec<String> = mock
            .requests_for(MODEL_NAME)
            .iter()
            .map(|r| r.last_user_text())
            .collect();
        if prompts.len() >= n {
            return prompts;
        }
        assert!(
            Instant::now() < deadline,
            "{n} LLM requests expected, {} came: {prompts:?}\n{}",
            prompts.len(),
            mesh.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn ok(mesh: &MeshProcess, args: &[&str]) -> String {
    let out = mesh.cli(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn a_csv_dropped_into_a_watched_directory_reaches_its_agent_once_and_not_again_after_a_restart()
 {
    let mock = MockLlm::start().await;
    let mut mesh = agent_mesh(&mock, "agents:\n  a:\n    role: researcher\n", json!({})).await;
    let inbox = mesh.agent_data("a").join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    std::fs::write(inbox.join("old.csv"), "name\nthere before the watcher\n").unwrap();

    // Added to the running mesh: `openlegion reload` reads watchers.yaml.
    mesh.write_config("watchers.yaml", WATCHERS);
    ok(&mesh, &["reload"]);
    polled(&mesh).await;
    let w = &watchers(&mesh).await[0];
    assert_eq!(
        (w["agent"].clone(), w["path"].clone(), w["pattern"].clone()),
        (json!("a"), json!("inbox"), json!("*.csv")),
        "{w}"
    );
    assert_eq!(w["files_seen"], 1, "the first scan records old.csv: {w}");

    // Written slowly, over several polls: nothing fires until it is complete.
    mock.push_for(MODEL_NAME, Turn::text("researching leads.csv"));
    std::fs::write(inbox.join("notes.txt"), "not a csv").unwrap();
    let mut file = std::fs::File::create(inbox.join("leads.csv")).unwrap();
    // A line every 200 ms for 5 s: each poll (every 2 s) sees it grown.
    for i in 0..25 {
        writeln!(file, "lead-{i},lead{i}@example.com").unwrap();
        file.flush().unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(
            mock.requests_for(MODEL_NAME).is_empty(),
            "fired while being written (after {i} lines)"
        );
    }
    drop(file);
    let prompts = llm_requests(&mock, &mesh, 1).await;
    assert!(
        prompts[0].contains("[From watcher:a:inbox:*.csv]")
            && prompts[0].contains("New prospect list uploaded: leads.csv (inbox/leads.csv)."),
        "{}",
        prompts[0]
    );
    // Several more polls: still once.
    for _ in 0..3 {
        polled(&mesh).await;
    }
    assert_eq!(mock.requests_for(MODEL_NAME).len(), 1);
    assert_eq!(watchers(&mesh).await[0]["fired"], 1);
    let metrics = reqwest::get(format!("{}/metrics", mesh.url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .contains("openlegion_watcher_fires_total{agent=\"a\",watcher=\"a:inbox:*.csv\"} 1\n"),
        "{metrics}"
    );

    // A restart fires nothing again: the seen state is in the mesh's database.
    assert!(mesh.terminate().success());
    mesh.restart().await;
    mesh.wait_agent("a").await;
    for _ in 0..3 {
        polled(&mesh).await;
    }
    assert_eq!(
        mock.requests_for(MODEL_NAME).len(),
        1,
        "old.csv and leads.csv fire no turn after the restart"
    );
    // …and the watcher still works.
    mock.push_for(MODEL_NAME, Turn::text("on it"));
    std::fs::write(inbox.join("more.csv"), "x\n").unwrap();
    let prompts = llm_requests(&mock, &mesh, 2).await;
    assert!(prompts[1].contains("more.csv"), "{}", prompts[1]);
    for _ in 0..2 {
        polled(&mesh).await;
    }
    assert_eq!(mock.requests_for(MODEL_NAME).len(), 2);
}

#[tokio::test]
async fn a_hostile_watchers_yaml_is_refused_on_reload_and_the_watchers_in_force_stay() {
    let mock = MockLlm::start().await;
    let mesh = agent_mesh(&mock, "agents:\n  a:\n    role: a\n", json!({})).await;
    mesh.write_config("watchers.yaml", WATCHERS);
    ok(&mesh, &["reload"]);
    polled(&mesh).await;

    for (yaml, says) in [
        (
            "watchers:\n  - path: /etc\n    agent: a\n",
            [
                "watchers.yaml:2:",
                "watchers[0].path: \"/etc\" is outside the agent's data directory",
            ],
        ),
        (
            "watchers:\n  - path: inbox\n    agent: a\n  - path: inbox/../../..\n    agent: a\n",
            ["watchers.yaml:4:", "watchers[1].path"],
        ),
        (
            "watchers:\n  - path: inbox\n    agent: a\n    recursive: true\n",
            [
                "watchers.yaml:4:",
                "watchers[0].recursive: unknown field `recursive`",
            ],
        ),
        (
            "watchers:\n  - path: inbox\n    agent: a\n    poll_seconds: [1]\n",
            ["watchers.yaml:4:", "watchers[0].poll_seconds"],
        ),
        (
            "watchers: {path: inbox}\n",
            ["watchers.yaml:1:", "watchers"],
        ),
    ] {
        mesh.write_config("watchers.yaml", yaml);
        let out = mesh.cli(&["reload"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{yaml} was accepted");
        for says in says {
            assert!(err.contains(says), "{yaml}: {err}");
        }
        mesh.operator().get("/mesh/status").await.expect(200);
        let w = watchers(&mesh).await;
        assert_eq!(
            (w.len(), w[0]["path"].clone()),
            (1, json!("inbox")),
            "{w:?}"
        );
    }

    // The agent's listing is confined too, whoever asks.
    let outside = mesh
        .operator()
        .get("/mesh/agents/a/api/files?dir=../..")
        .await;
    assert_eq!(outside.status, 400, "{}", outside.body);
}

#[test]
fn a_malformed_watchers_yaml_stops_the_start_naming_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::create_dir(&config).unwrap();
    std::fs::write(config.join("mesh.yaml"), "mesh:\n  port: 0\n").unwrap();
    std::fs::write(
        config.join("watchers.yaml"),
        "watchers:\n  - path: inbox\n    agent: a\n  - path: /var/spool\n    agent: b\n",
    )
    .unwrap();
    let err = start_refuses(&config);
    assert!(
        err.contains("watchers.yaml:4:") && err.contains("watchers[1].path"),
        "{err}"
    );
}
