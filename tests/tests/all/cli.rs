//! The `openlegion` command line against a real mesh: start -d, status, bb, agent, reload,
//! stop.

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use openlegion_tests::cli;

/// Whether `pid` is a live process. An exited daemon may linger as a zombie until its
/// adoptive parent reaps it; that is not a process left running.
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit(')')
            .next()
            .is_some_and(|rest| !rest.trim_start().starts_with('Z'))
    })
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn config_dir(root: &Path) -> std::path::PathBuf {
    let config = root.join("config");
    std::fs::create_dir(&config).unwrap();
    std::fs::write(config.join("mesh.yaml"), "mesh:\n  port: 0\n").unwrap();
    std::fs::write(
        config.join("permissions.json"),
        r#"{"permissions": {"default": {"blackboard_read": ["*"], "blackboard_write": ["*"]}}}"#,
    )
    .unwrap();
    config
}

#[test]
fn start_detached_then_drive_and_stop() {
    let root = tempfile::tempdir().unwrap();
    let config = config_dir(root.path());
    let started = ok(&cli(&config, &["start", "-d"]));
    assert!(started.contains("OpenLegion mesh started"), "{started}");
    let state = root.path().join(".openlegion");
    let pid: i32 = std::fs::read_to_string(state.join("mesh.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();

    let again = cli(&config, &["start", "-d"]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already running"));

    let status = ok(&cli(&config, &["status"]));
    assert!(status.contains(&format!("pid {pid}")), "{status}");
    assert!(status.contains("lanes: all idle"), "{status}");

    ok(&cli(
        &config,
        &[
            "bb",
            "put",
            "context/plan",
            r#"{"step": 1}"#,
            "--ttl",
            "600",
        ],
    ));
    let got: serde_json::Value =
        serde_json::from_str(&ok(&cli(&config, &["bb", "get", "context/plan"]))).unwrap();
    assert_eq!(
        (
            got["value"]["step"].as_u64(),
            got["ttl"].as_u64(),
            got["written_by"].as_str()
        ),
        (Some(1), Some(600), Some("operator"))
    );
    let listed: serde_json::Value =
        serde_json::from_str(&ok(&cli(&config, &["bb", "list", "context/"]))).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let bad = cli(&config, &["bb", "put", "context/x", "[1]"]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("must be a JSON object"));
    ok(&cli(&config, &["bb", "rm", "context/plan"]));
    let gone = cli(&config, &["bb", "get", "context/plan"]);
    assert_eq!(gone.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&gone.stderr).contains("Key not found: context/plan (HTTP 404)")
    );

    ok(&cli(
        &config,
        &["agent", "add", "scout", "--role", "research"],
    ));
    assert!(
        std::fs::read_to_string(config.join("agents.yaml"))
            .unwrap()
            .contains("scout")
    );
    assert!(ok(&cli(&config, &["agent", "list"])).contains("scout"));
    let token = ok(&cli(&config, &["agent", "token", "scout"]));
    assert!(token.trim().starts_with("olt_"), "{token}");
    let dup = cli(&config, &["agent", "add", "scout"]);
    assert!(String::from_utf8_lossy(&dup.stderr).contains("already exists"));
    assert!(ok(&cli(&config, &["reload"])).contains("1 permission entries"));
    let unconfirmed = cli(&config, &["agent", "remove", "scout"]);
    assert!(
        String::from_utf8_lossy(&unconfirmed.stderr).contains("needs --yes"),
        "{unconfirmed:?}"
    );
    ok(&cli(&config, &["agent", "remove", "scout", "--yes"]));
    assert!(!ok(&cli(&config, &["agent", "list"])).contains("scout"));

    let stopped = ok(&cli(&config, &["stop"]));
    assert!(
        stopped.contains(&format!("mesh stopped (pid {pid})")),
        "{stopped}"
    );
    assert!(!alive(pid), "no process left behind");
    for file in ["mesh.pid", "mesh.addr", "operator.token"] {
        assert!(!state.join(file).exists(), "{file} left behind");
    }
    let log = std::fs::read_to_string(state.join("mesh.log")).unwrap();
    assert!(
        log.contains("SIGTERM: draining") && log.contains("mesh stopped"),
        "{log}"
    );
    let status = cli(&config, &["status"]);
    assert_eq!(status.status.code(), Some(1));
    assert!(ok(&cli(&config, &["stop"])).contains("not running"));
    // Agent management works with the mesh stopped, too.
    ok(&cli(&config, &["agent", "add", "later"]));
    assert!(ok(&cli(&config, &["agent", "list"])).contains("later"));
}

#[test]
fn start_detached_reports_a_broken_config_in_the_terminal() {
    let root = tempfile::tempdir().unwrap();
    let config = config_dir(root.path());
    std::fs::write(config.join("mesh.yaml"), "mesh:\n  port: [1]\n").unwrap();
    let out = cli(&config, &["start", "-d"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("mesh.yaml:2:"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_port_in_use_is_reported_from_the_child() {
    let root = tempfile::tempdir().unwrap();
    let config = config_dir(root.path());
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    std::fs::write(config.join("mesh.yaml"), format!("mesh:\n  port: {port}\n")).unwrap();
    let out = cli(&config, &["start", "-d"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("exited during start-up")
            && err.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{err}"
    );
    std::thread::sleep(Duration::from_millis(50));
}

#[tokio::test]
async fn chat_and_the_start_repl_talk_to_agents() {
    use std::io::Write;
    use std::process::{Command, Stdio};

    use openlegion_mock_llm::{MockLlm, Turn};
    use openlegion_tests::{MODEL_NAME, agent_mesh, binary};

    let mock = MockLlm::start().await;
    let mesh = agent_mesh(
        &mock,
        "agents:\n  a:\n    role: helper\n",
        serde_json::json!({}),
    )
    .await;
    mock.push_for(
        MODEL_NAME,
        Turn::tool_call("list_files", serde_json::json!({})),
    );
    mock.push_for(MODEL_NAME, Turn::text("There is nothing here yet."));
    let config = mesh.config_dir();
    let out = tokio::task::spawn_blocking(move || {
        let mut child = Command::new(binary("openlegion-mesh", "openlegion"))
            .arg("--config")
            .arg(&config)
            .args(["chat", "a"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"what is here?\n/reset\n/quit\n")
            .unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    let text = ok(&out);
    assert!(
        text.contains("⚙ list_files")
            && text.contains("There is nothing here yet.")
            && text.contains("conversation cleared"),
        "{text}"
    );
    drop(mesh);

    // `start --repl`: the mesh, its agents and the multi-agent REPL in one process.
    let root = tempfile::tempdir().unwrap();
    let config = config_dir(root.path());
    std::fs::write(
        config.join("mesh.yaml"),
        format!(
            "mesh:\n  port: 0\nllm:\n  default_model: openai/mock\nruntime:\n  isolation: process\n  agent_binary: {}\n",
            binary("openlegion-agent", "openlegion-agent").display()
        ),
    )
    .unwrap();
    std::fs::write(
        config.join("agents.yaml"),
        "agents:\n  scout:\n    role: research\n",
    )
    .unwrap();
    std::fs::write(
        config.join("permissions.json"),
        r#"{"permissions": {"default": {"allowed_apis": ["llm"]}}}"#,
    )
    .unwrap();
    mock.push_for(MODEL_NAME, Turn::text("Scouting now."));
    let base = mock.openai_base();
    let mut child = Command::new(binary("openlegion-mesh", "openlegion"))
        .arg("--config")
        .arg(&config)
        .args(["start", "--repl"])
        .env("OPENLEGION_CRED_OPENAI_API_BASE", base)
        .env("OPENLEGION_CRED_OPENAI_API_KEY", "sk-test-repl-000000000")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // Talk once the agent answers (its first start compiles its built-in skills).
    let state = root.path().join(".openlegion");
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        assert!(std::time::Instant::now() < deadline, "scout never answered");
        let addr = std::fs::read_to_string(state.join("mesh.addr")).ok();
        let token = std::fs::read_to_string(state.join("operator.token")).ok();
        if let (Some(addr), Some(token)) = (addr, token) {
            let status = openlegion_tests::Client::new(addr.trim(), Some(token.trim()))
                .get("/mesh/agents/scout/api/status")
                .await;
            if status.status == 200 {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let out = tokio::task::spawn_blocking(move || {
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(b"/agents\n@scout go find leads\n/quit\n")
            .unwrap();
        drop(stdin);
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    let text = ok(&out);
    assert!(
        text.contains("OpenLegion REPL")
            && text.contains("scout")
            && text.contains("Scouting now."),
        "{text}"
    );
    // Leaving the REPL stopped the mesh and its agents.
    let log = std::fs::read_to_string(root.path().join(".openlegion/mesh.log")).unwrap();
    assert!(
        log.contains("agent stopped") && log.contains("mesh stopped"),
        "{log}"
    );
}
