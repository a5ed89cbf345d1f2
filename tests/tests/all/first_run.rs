//! The first hour of a new user, in pseudo-terminals: `openlegion setup` unattended and as
//! the interactive wizard (keys typed without echo), to a configuration that `start` runs;
//! `start` announcing each agent as it comes up; and the REPL's commands, line editing,
//! completion and history across sessions.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use openlegion_mock_llm::{MockLlm, Turn};
use openlegion_tests::{MODEL_NAME, binary, cli, local_models_dir};
use rexpect::session::PtySession;

/// Every wait of a pseudo-terminal test: agents start, compile their skills, answer.
const WAIT_MS: u64 = 240_000;

/// Down-arrow, as a terminal sends it.
const DOWN: &str = "\x1b[B";
/// Up-arrow.
const UP: &str = "\x1b[A";

fn ok(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `openlegion ARGS` in a pseudo-terminal, with `env`.
fn pty(config: &Path, args: &[&str], env: &[(&str, &str)]) -> PtySession {
    let mut command = Command::new(binary("openlegion-mesh", "openlegion"));
    command.arg("--config").arg(config).args(args);
    for (k, v) in env {
        command.env(k, v);
    }
    // A terminal wide enough that prompts are not wrapped.
    command.env("COLUMNS", "200").env("TERM", "xterm");
    rexpect::session::spawn_with_options(
        command,
        rexpect::reader::Options::new()
            .timeout_ms(Some(WAIT_MS))
            .strip_ansi_escape_codes(true),
    )
    .expect("spawn in a pseudo-terminal")
}

/// Waits for `expect`, then types `send` once the prompt reads keys: dialoguer switches the
/// terminal to raw mode after drawing its prompt, flushing what was typed before.
fn answer(p: &mut PtySession, expect: &str, send: &str) -> String {
    let before = p
        .exp_string(expect)
        .unwrap_or_else(|e| panic!("{expect}: {e}"));
    std::thread::sleep(Duration::from_millis(500));
    p.send(send).unwrap();
    p.flush().unwrap();
    before
}

#[test]
fn setup_yes_sales_local_writes_a_config_that_start_runs() {
    // The agent binary beside `openlegion`, which the written config relies on.
    binary("openlegion-agent", "openlegion-agent");
    let models = local_models_dir();
    let root = tempfile::tempdir().unwrap();
    let config = root.path().join("config");
    let out = Command::new(binary("openlegion-mesh", "openlegion"))
        .arg("--config")
        .arg(&config)
        .args([
            "setup",
            "--yes",
            "--template",
            "sales",
            "--provider",
            "local",
            "--isolation",
            "process",
            "--port",
            "0",
            "--description",
            "Find and qualify leads for a bakery supplier.",
        ])
        .env("OPENLEGION_MODELS_DIR", &models)
        .output()
        .unwrap();
    let text = ok(&out);
    assert!(text.contains("ready"), "{text}");
    let mesh_yaml = std::fs::read_to_string(config.join("mesh.yaml")).unwrap();
    for part in [
        "default_model: local/smollm2-135m-instruct",
        "embedding_model: local/all-minilm-l6-v2",
        "isolation: process",
        "port: 0",
    ] {
        assert!(
            mesh_yaml.contains(part),
            "{part} missing from:\n{mesh_yaml}"
        );
    }
    let loaded = openlegion_mesh::config::Config::load(&config).unwrap();
    let ids: Vec<&str> = loaded.agents.agents.keys().map(|a| a.as_str()).collect();
    assert_eq!(ids, ["outreach", "qualifier", "researcher"]);
    let perms = loaded.permissions.unwrap().permissions;
    assert_eq!(perms["researcher"].can_subscribe, ["new_lead"]);
    assert_eq!(perms["qualifier"].allowed_apis, ["llm"]);
    let project = std::fs::read_to_string(root.path().join("PROJECT.md")).unwrap();
    assert!(project.contains("bakery supplier"), "{project}");
    assert!(
        !root.path().join(".env").exists(),
        "the local model needs no key"
    );

    // The configuration runs: start announces each agent as it becomes ready.
    let started = ok(&cli(&config, &["start", "-d"]));
    for agent in ["researcher", "qualifier", "outreach"] {
        assert!(started.contains(&format!("✓ {agent} ready")), "{started}");
    }
    ok(&cli(&config, &["stop"]));

    // Run again, it changes nothing: every answer is what is already there.
    let before = std::fs::read_to_string(config.join("agents.yaml")).unwrap();
    let again = ok(&Command::new(binary("openlegion-mesh", "openlegion"))
        .arg("--config")
        .arg(&config)
        .args(["setup", "--yes", "--template", "sales", "--no-build"])
        .output()
        .unwrap());
    assert!(again.contains("exists; kept"), "{again}");
    assert_eq!(
        std::fs::read_to_string(config.join("agents.yaml")).unwrap(),
        before
    );
}

#[tokio::test]
async fn the_wizard_in_a_terminal_then_start_and_chat() {
    binary("openlegion-agent", "openlegion-agent");
    let mock = MockLlm::start().await;
    let root = tempfile::tempdir().unwrap();
    let config = root.path().join("config");
    let key = "sk-wizard-secret-0123456789";
    let base = mock.anthropic_base();
    let config_for_pty = config.clone();
    let transcript = tokio::task::spawn_blocking(move || {
        let config = config_for_pty;
        let mut p = pty(
            &config,
            &[
                "setup",
                "--isolation",
                "process",
                "--port",
                "0",
                "--api-base",
                &base,
            ],
            &[],
        );
        let mut seen = String::new();
        let mut step = |p: &mut PtySession, expect: &str, send: &str| {
            seen.push_str(&answer(p, expect, send));
            seen.push_str(expect);
        };
        // OpenAI, Anthropic, …: the second.
        step(&mut p, "Which LLM provider", &format!("{DOWN}\r"));
        step(&mut p, "Default model", "anthropic/mock\r");
        step(&mut p, "API key", &format!("{key}\r"));
        step(&mut p, "Describe the project", "A newsroom of one.\r");
        // starter (one assistant) is the first: Enter.
        step(&mut p, "Which team", "\r");
        step(&mut p, "Write these changes?", "y");
        seen.push_str(&p.exp_string("ready: start the mesh").expect("the end"));
        seen.push_str(&p.exp_eof().unwrap_or_default());
        seen
    })
    .await
    .unwrap();
    assert!(
        !transcript.contains(key),
        "the key was echoed:\n{transcript}"
    );
    let dotenv = root.path().join(".env");
    let env_text = std::fs::read_to_string(&dotenv).unwrap();
    assert!(
        env_text.contains(&format!("OPENLEGION_CRED_ANTHROPIC_API_KEY={key}")),
        "{env_text}"
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&dotenv).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let loaded = openlegion_mesh::config::Config::load(&config).unwrap();
    assert_eq!(
        loaded.mesh.llm.default_model.as_deref(),
        Some("anthropic/mock")
    );
    assert!(
        std::fs::read_to_string(root.path().join("PROJECT.md"))
            .unwrap()
            .contains("A newsroom of one.")
    );
    let ids: Vec<&str> = loaded.agents.agents.keys().map(|a| a.as_str()).collect();
    assert_eq!(ids, ["assistant"]);

    // The configuration runs, with the key from .env: the assistant answers through the
    // mock's Anthropic API.
    let started = ok(&cli(&config, &["start", "-d"]));
    assert!(started.contains("✓ assistant ready"), "{started}");
    mock.push_for(MODEL_NAME, Turn::text("Backlog groomed."));
    let state = root.path().join(".openlegion");
    let addr = std::fs::read_to_string(state.join("mesh.addr")).unwrap();
    let token = std::fs::read_to_string(state.join("operator.token")).unwrap();
    let op = openlegion_tests::Client::new(addr.trim(), Some(token.trim()));
    let reply = op
        .post(
            "/mesh/agents/assistant/api/chat",
            &serde_json::json!({"message": "status?"}),
        )
        .await
        .expect(200);
    assert_eq!(reply["response"], "Backlog groomed.");
    let sent = &mock.requests_for(MODEL_NAME)[0];
    assert_eq!(sent.header("x-api-key"), Some(key));
    ok(&cli(&config, &["stop"]));

    // Again, on the configuration it wrote: Enter everywhere keeps everything.
    let before: Vec<String> = [
        "config/mesh.yaml",
        "config/agents.yaml",
        ".env",
        "PROJECT.md",
    ]
    .iter()
    .map(|f| std::fs::read_to_string(root.path().join(f)).unwrap())
    .collect();
    let config_for_pty = config.clone();
    let rerun = tokio::task::spawn_blocking(move || {
        let mut p = pty(&config_for_pty, &["setup", "--no-build"], &[]);
        let mut seen = String::new();
        for (expect, send) in [
            ("Which LLM provider", "\r"),
            ("Default model", "\r"),
            ("exists. Replace it?", "\r"),
            ("exists. Replace it?", "\r"),
            ("Which team", "\r"),
            ("Where do agents run", "\r"),
        ] {
            seen.push_str(&answer(&mut p, expect, send));
        }
        seen.push_str(&p.exp_eof().unwrap_or_default());
        seen
    })
    .await
    .unwrap();
    assert!(rerun.contains("nothing to change"), "{rerun}");
    let after: Vec<String> = [
        "config/mesh.yaml",
        "config/agents.yaml",
        ".env",
        "PROJECT.md",
    ]
    .iter()
    .map(|f| std::fs::read_to_string(root.path().join(f)).unwrap())
    .collect();
    assert_eq!(before, after);
}

#[tokio::test]
async fn the_repl_in_a_terminal() {
    let mock = MockLlm::start().await;
    let root = tempfile::tempdir().unwrap();
    let config = root.path().join("config");
    std::fs::create_dir(&config).unwrap();
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
        "agents:\n  alpha:\n    role: writer\n  beta:\n    role: editor\n",
    )
    .unwrap();
    std::fs::write(
        config.join("permissions.json"),
        r#"{"permissions": {"default": {"allowed_apis": ["llm"]}}}"#,
    )
    .unwrap();
    for text in ["Alpha here.", "pong", "pong"] {
        mock.push_for(MODEL_NAME, Turn::text(text));
    }
    let base = mock.openai_base();
    let env = [
        ("OPENLEGION_CRED_OPENAI_API_BASE", base.as_str()),
        ("OPENLEGION_CRED_OPENAI_API_KEY", "sk-test-repl-pty-0000"),
    ];
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let config_for_pty = config.clone();
    let env_for_pty = env.clone();
    tokio::task::spawn_blocking(move || {
        let env: Vec<(&str, &str)> = env_for_pty
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let mut p = pty(&config_for_pty, &["start"], &env);
        let before = p.exp_string("alpha> ").unwrap();
        assert!(
            before.contains("alpha ready, writer") && before.contains("beta ready, editor"),
            "{before}"
        );
        p.send_line("/help").unwrap();
        p.exp_string("/broadcast MESSAGE").unwrap();
        p.exp_string("alpha> ").unwrap();
        p.send_line("hello").unwrap();
        p.exp_string("Alpha here.").unwrap();
        p.exp_string("alpha> ").unwrap();
        // Tab completes the command and the agent's name.
        p.send("/us\tbe\t\r").unwrap();
        p.flush().unwrap();
        p.exp_string("beta> ").unwrap();
        p.send_line("/broadcast ping").unwrap();
        p.exp_string("] pong").unwrap();
        p.exp_string("] pong").unwrap();
        p.exp_string("beta> ").unwrap();
        p.send_line("/costs").unwrap();
        p.exp_string("LLM costs, today").unwrap();
        p.exp_string("total: $").unwrap();
        p.send_line("/status").unwrap();
        p.exp_string("mesh pid").unwrap();
        p.send_line("/reset").unwrap();
        p.exp_string("conversation cleared").unwrap();
        p.send_line("/add gamma reviewer").unwrap();
        p.exp_string("gamma ready").unwrap();
        p.send_line("/agents").unwrap();
        p.exp_string("gamma").unwrap();
        p.exp_string("beta> ").unwrap();
        p.send_line("/quit").unwrap();
        p.exp_eof().unwrap();

        // History across sessions: Up brings back the last line of the previous one.
        let mut p = pty(&config_for_pty, &["start"], &env);
        let before = p.exp_string("alpha> ").unwrap();
        assert!(before.contains("gamma ready"), "{before}");
        p.send(UP).unwrap();
        p.send("\r").unwrap();
        p.flush().unwrap();
        p.exp_eof().unwrap();
    })
    .await
    .unwrap();
    let agents = std::fs::read_to_string(config.join("agents.yaml")).unwrap();
    assert!(
        agents.contains("gamma") && agents.contains("reviewer"),
        "{agents}"
    );
    let history = std::fs::read_to_string(root.path().join(".openlegion/repl_history")).unwrap();
    for line in ["/broadcast ping", "/add gamma reviewer", "/quit"] {
        assert!(history.contains(line), "{line} missing from {history}");
    }
}

#[test]
fn doctor_says_what_each_missing_piece_disables_and_completions_print() {
    binary("openlegion-agent", "openlegion-agent");
    let root = tempfile::tempdir().unwrap();
    let config = root.path().join("config");
    std::fs::create_dir(&config).unwrap();
    std::fs::write(config.join("mesh.yaml"), "runtime:\n  isolation: process\n").unwrap();
    // No Chromium on this PATH, and no model in this models directory.
    let out = Command::new(binary("openlegion-mesh", "openlegion"))
        .arg("--config")
        .arg(&config)
        .arg("doctor")
        .env("PATH", root.path())
        .env("OPENLEGION_MODELS_DIR", root.path().join("models"))
        .output()
        .unwrap();
    let text = ok(&out);
    for part in [
        "ok       agent binary",
        "missing  Chromium",
        "disables: browser automation",
        "missing  local embedding model",
        "missing  local chat model",
        "KVM (/dev/kvm)",
        "microVM (QEMU)",
        "Docker engine",
        "gVisor (runsc)",
        "disk space",
        "can run here",
    ] {
        assert!(text.contains(part), "{part} missing from:\n{text}");
    }
    // An agent that needs gVisor on a machine without it: doctor says so and fails.
    std::fs::write(
        config.join("agents.yaml"),
        "agents:\n  a:\n    isolation: gvisor\n",
    )
    .unwrap();
    let gvisor = Command::new(binary("openlegion-mesh", "openlegion"))
        .arg("--config")
        .arg(&config)
        .arg("doctor")
        .env(
            "DOCKER_HOST",
            format!("unix://{}/none.sock", root.path().display()),
        )
        .output()
        .unwrap();
    assert_eq!(gvisor.status.code(), Some(1), "{gvisor:?}");
    assert!(String::from_utf8_lossy(&gvisor.stdout).contains("isolation gvisor"));

    let script = ok(&cli(&config, &["completions", "bash"]));
    assert!(
        script.contains("_openlegion") && script.contains("setup") && script.contains("doctor"),
        "{script}"
    );
}

#[test]
fn agent_add_asks_what_is_missing_and_remove_confirms() {
    let root = tempfile::tempdir().unwrap();
    let config = root.path().join("config");
    std::fs::create_dir(&config).unwrap();
    std::fs::write(
        config.join("mesh.yaml"),
        "llm:\n  default_model: openai/gpt-4o-mini\n",
    )
    .unwrap();
    let mut p = pty(&config, &["agent", "add"], &[]);
    answer(&mut p, "Name", "scout\r");
    answer(&mut p, "Role", "research\r");
    answer(&mut p, "Model", "anthropic/claude-haiku-4-5\r");
    p.exp_string("added agent scout").unwrap();
    p.exp_eof().unwrap();
    let agents = openlegion_mesh::config::load_agents(&config.join("agents.yaml")).unwrap();
    let scout = agents.agents.values().next().unwrap();
    assert_eq!(scout.role, "research");
    assert_eq!(scout.model.as_deref(), Some("anthropic/claude-haiku-4-5"));

    // Remove asks first; "no" keeps it.
    let mut p = pty(&config, &["agent", "remove", "scout"], &[]);
    answer(&mut p, "Remove agent scout?", "n");
    p.exp_string("kept agent scout").unwrap();
    p.exp_eof().unwrap();
    let mut p = pty(&config, &["agent", "remove", "scout"], &[]);
    answer(&mut p, "Remove agent scout?", "y");
    p.exp_string("removed agent scout").unwrap();
    p.exp_eof().unwrap();
    assert!(
        openlegion_mesh::config::load_agents(&config.join("agents.yaml"))
            .unwrap()
            .agents
            .is_empty()
    );
}
