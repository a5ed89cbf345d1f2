use std::path::Path;

use super::*;

fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

fn load_err(files: &[(&str, &str)]) -> String {
    let dir = dir_with(files);
    Config::load(dir.path()).unwrap_err().to_string()
}

#[test]
fn empty_directory_gives_defaults() {
    let dir = dir_with(&[]);
    let config = Config::load(dir.path()).unwrap();
    assert_eq!(config.mesh.mesh.port, 8420);
    assert_eq!(config.mesh.mesh.host.to_string(), "127.0.0.1");
    assert!(config.agents.agents.is_empty());
    assert!(config.permissions.is_none());
    assert_eq!(
        config.state_dir(),
        dir.path().parent().unwrap().join(".openlegion")
    );
}

#[test]
fn reads_the_originals_shapes() {
    let dir = dir_with(&[
        (
            "mesh.yaml",
            "mesh:\n  host: 0.0.0.0\n  port: 9000\nllm:\n  default_model: openai/gpt-4o-mini\n  embedding_model: text-embedding-3-small\n  max_tokens: 4096\n  temperature: 0.7\n  failover:\n    openai/gpt-4o: [anthropic/claude-sonnet-4-5]\nchannels:\n  telegram:\n    enabled: false\ncollaboration: true\n",
        ),
        (
            "agents.yaml",
            "agents:\n  researcher:\n    role: research\n    model: openai/gpt-4o-mini\n    system_prompt: You are a researcher.\n    resources: {memory_limit: 512m, cpu_limit: 0.5}\n    budget: {daily_usd: 5.00, monthly_usd: 100.00}\n    thinking: off\n",
        ),
        (
            "permissions.json",
            r#"{"permissions": {"default": {"can_message": ["orchestrator"], "blackboard_read": ["context/*"], "allowed_apis": ["llm"]}}, "fleet_skills": []}"#,
        ),
    ]);
    let config = Config::load(dir.path()).unwrap();
    assert_eq!(config.mesh.mesh.port, 9000);
    assert_eq!(
        config.mesh.llm.failover["openai/gpt-4o"],
        ["anthropic/claude-sonnet-4-5"]
    );
    let researcher = config.agents.agents.values().next().unwrap();
    assert_eq!(researcher.budget.as_ref().unwrap().daily_usd, Some(5.0));
    assert_eq!(researcher.thinking, Some(Thinking::Off));
    assert_eq!(
        config.permissions.unwrap().permissions["default"].allowed_apis,
        ["llm"]
    );
}

#[test]
fn unknown_agent_field_names_file_line_and_field() {
    let err = load_err(&[(
        "agents.yaml",
        "agents:\n  researcher:\n    role: research\n    resoures: {}\n",
    )]);
    assert!(err.contains("agents.yaml:4:"), "{err}");
    assert!(err.contains("agents.researcher"), "{err}");
    assert!(err.contains("resoures"), "{err}");
}

#[test]
fn wrong_type_names_the_field() {
    let err = load_err(&[("mesh.yaml", "mesh:\n  port: lots\n")]);
    assert!(err.contains("mesh.yaml:2:"), "{err}");
    assert!(err.contains("mesh.port"), "{err}");
}

#[test]
fn yes_is_not_a_boolean() {
    let err = load_err(&[("mesh.yaml", "channels:\n  telegram:\n    enabled: yes\n")]);
    assert!(err.contains("channels.telegram.enabled"), "{err}");
}

#[test]
fn billion_laughs_is_refused_quickly() {
    let mut yaml = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    for (i, name) in ["b", "c", "d", "e", "f", "g", "h", "i"].iter().enumerate() {
        let prev = ["a", "b", "c", "d", "e", "f", "g", "h"][i];
        yaml.push_str(&format!("{name}: &{name} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"));
    }
    let started = std::time::Instant::now();
    let err = load_err(&[("agents.yaml", &yaml)]);
    assert!(err.contains("agents.yaml"), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn reserved_and_invalid_agent_names() {
    let err = load_err(&[("agents.yaml", "agents:\n  operator:\n    role: x\n")]);
    assert!(
        err.contains("agents.operator") && err.contains("reserved"),
        "{err}"
    );
    let err = load_err(&[("agents.yaml", "agents:\n  bad name:\n    role: x\n")]);
    assert!(err.contains("invalid agent id"), "{err}");
}

#[test]
fn only_the_local_embedding_model_the_mesh_has() {
    let dir = dir_with(&[(
        "mesh.yaml",
        "llm:\n  embedding_model: local/all-minilm-l6-v2\n",
    )]);
    assert!(Config::load(dir.path()).is_ok());
    let err = load_err(&[("mesh.yaml", "llm:\n  embedding_model: local/bge-small\n")]);
    assert!(
        err.contains("mesh.yaml")
            && err.contains("llm.embedding_model")
            && err.contains("the mesh runs one local embedding model, local/all-minilm-l6-v2, not local/bge-small"),
        "{err}"
    );
}

#[test]
fn memory_limit_of_lots() {
    let err = load_err(&[(
        "agents.yaml",
        "agents:\n  a:\n    resources: {memory_limit: lots}\n",
    )]);
    assert!(
        err.contains("agents.a.resources.memory_limit") && err.contains("lots"),
        "{err}"
    );
}

#[test]
fn context_window_too_small_or_not_a_number() {
    let err = load_err(&[("agents.yaml", "agents:\n  a:\n    context_window: 10\n")]);
    assert!(
        err.contains("agents.a.context_window") && err.contains("10 is not a window"),
        "{err}"
    );
    let err = load_err(&[("agents.yaml", "agents:\n  a:\n    context_window: big\n")]);
    assert!(
        err.contains("context_window") && err.contains("agents.yaml"),
        "{err}"
    );
}

#[test]
fn permissions_syntax_error_has_line_and_column() {
    let err = load_err(&[(
        "permissions.json",
        "{\"permissions\": {\"default\": {\"can_message\": [\"a\",]}}}",
    )]);
    assert!(err.contains("permissions.json:1:"), "{err}");
    let err = load_err(&[(
        "permissions.json",
        "{\"permissions\": {\"a\": {\"blackboard_raed\": []}}}",
    )]);
    assert!(
        err.contains("permissions.a") && err.contains("blackboard_raed"),
        "{err}"
    );
}

#[test]
fn agents_file_round_trips_through_save() {
    let dir = dir_with(&[(
        "agents.yaml",
        "agents:\n  a:\n    role: r\n    budget: {daily_usd: 1.5}\n",
    )]);
    let path = dir.path().join("agents.yaml");
    let file = load_agents(&path).unwrap();
    save_agents(&path, &file).unwrap();
    assert_eq!(load_agents(&path).unwrap().agents, file.agents);
    assert!(
        !Path::new(
            &dir.path()
                .join(format!(".agents.yaml.{}.tmp", std::process::id()))
        )
        .exists()
    );
}

#[test]
fn the_example_configuration_in_the_repository_loads() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config");
    let config = Config::load(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    // The quick start runs with only Rust installed.
    assert_eq!(config.mesh.runtime.isolation, Some(Isolation::Process));
    assert!(!config.agents.agents.is_empty());
}

#[test]
fn state_dir_is_where_the_mesh_keeps_its_state() {
    let dir = dir_with(&[("mesh.yaml", "mesh:\n  state_dir: run/state\n")]);
    let config = Config::load(dir.path()).unwrap();
    let base = dir.path().parent().unwrap();
    assert_eq!(config.state_dir(), base.join("run/state"));
    let absolute = dir_with(&[("mesh.yaml", "mesh:\n  state_dir: /var/lib/openlegion\n")]);
    assert_eq!(
        Config::load(absolute.path()).unwrap().state_dir(),
        std::path::Path::new("/var/lib/openlegion")
    );
}

#[test]
fn channel_sections_are_checked_field_by_field() {
    for (yaml, field, says) in [
        (
            "channels:\n  slack:\n    enabled: true\n",
            "channels.slack.enabled",
            "no slack channel",
        ),
        (
            "channels:\n  telegram:\n    enabled: true\n    api_base: ftp://x\n",
            "channels.telegram.api_base",
            "not a https or http URL",
        ),
        (
            "channels:\n  telegram:\n    gateway_url: wss://gateway.discord.gg\n",
            "channels.telegram.gateway_url",
            "only the discord channel",
        ),
        (
            "channels:\n  discord:\n    gateway_url: https://x\n",
            "channels.discord.gateway_url",
            "not a wss or ws URL",
        ),
        (
            "channels:\n  discord:\n    default_agent: \"no spaces\"\n",
            "channels.discord.default_agent",
            "",
        ),
        (
            "channels:\n  telegram:\n    max_attachment_mb: 500\n",
            "channels.telegram.max_attachment_mb",
            "1 to 50 MiB",
        ),
        (
            "channels:\n  telegram:\n    token: \"123:abc\"\n",
            "channels.telegram.token",
            "OPENLEGION_CRED_TELEGRAM_BOT_TOKEN",
        ),
    ] {
        let err = load_err(&[("mesh.yaml", yaml)]);
        assert!(err.contains(field) && err.contains(says), "{yaml}: {err}");
    }
    let dir = dir_with(&[(
        "mesh.yaml",
        "channels:\n  slack:\n    enabled: false\n  telegram:\n    enabled: true\n    api_base: http://127.0.0.1:9\n",
    )]);
    assert!(
        Config::load(dir.path()).is_ok(),
        "a disabled slack section is accepted"
    );
}

#[test]
fn microvm_kernel_accel_and_disk_size_are_read_and_checked() {
    let dir = dir_with(&[(
        "mesh.yaml",
        "runtime:\n  microvm:\n    kernel: /opt/linux\n    accel: tcg\n    disk_size: 4g\n",
    )]);
    let microvm = Config::load(dir.path()).unwrap().mesh.runtime.microvm;
    assert_eq!(
        microvm.kernel.as_deref(),
        Some(std::path::Path::new("/opt/linux"))
    );
    assert_eq!(microvm.accel, Some(MicrovmAccel::Tcg));
    assert_eq!(microvm.disk_size.as_deref(), Some("4g"));
    let err = load_err(&[("mesh.yaml", "runtime:\n  microvm:\n    disk_size: lots\n")]);
    assert!(err.contains("runtime.microvm.disk_size"), "{err}");
    let err = load_err(&[("mesh.yaml", "runtime:\n  microvm:\n    accel: hvf\n")]);
    assert!(err.contains("accel"), "{err}");
}
