use std::path::Path;

use super::*;
use crate::config::Config;

#[test]
fn every_builtin_template_loads_and_names_its_team() {
    for name in builtin_names() {
        let t = load(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(t.name, name);
        assert!(!t.description.is_empty(), "{name}");
    }
    let sales = load("sales").unwrap();
    let ids: Vec<&str> = sales.agents.keys().map(AgentId::as_str).collect();
    assert_eq!(ids, ["outreach", "qualifier", "researcher"]);
}

#[test]
fn an_unknown_template_lists_the_real_ones() {
    let e = load("salse").unwrap_err().to_string();
    for part in ["salse", "starter", "sales", "devteam", "content"] {
        assert!(e.contains(part), "{part} missing from {e}");
    }
}

#[test]
fn loading_is_strict_with_file_line_and_field() {
    let path = Path::new("templates/mine.yaml");
    let e = parse(
        path,
        "name: mine\nagents:\n  a:\n    role: x\n    permissions:\n      can_mesage: [b]\n",
    )
    .unwrap_err()
    .to_string();
    for part in [
        "templates/mine.yaml:6:",
        "agents.a.permissions",
        "can_mesage",
    ] {
        assert!(e.contains(part), "{part} missing from {e}");
    }
    let e = parse(path, "name: mine\nagents:\n  a:\n    rol: x\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains(":4:") && e.contains("rol"), "{e}");
    let e = parse(path, "name: mine\nagents: {}\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("needs an agent"), "{e}");
    let e = parse(
        path,
        "name: mine\nagents:\n  a: {role: x}\nworkflows:\n  ../escape: {steps: []}\n",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("workflows.../escape"), "{e}");
}

fn config_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("config")).unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join("config").join(name), text).unwrap();
    }
    dir
}

#[test]
fn applying_writes_agents_and_their_permissions_into_a_config_that_loads() {
    let dir = config_dir(&[]);
    let config = dir.path().join("config");
    let applied = apply(&load("sales").unwrap(), &config, &mut |_| {
        panic!("nothing exists")
    })
    .unwrap();
    assert_eq!(applied.agents.len(), 3);
    let loaded = Config::load(&config).unwrap();
    let researcher = &loaded.agents.agents[&AgentId::parse("researcher").unwrap()];
    assert_eq!(researcher.role, "research");
    assert_eq!(
        researcher.model, None,
        "{{default_model}} leaves it to llm.default_model"
    );
    assert!(
        researcher
            .system_prompt
            .as_deref()
            .unwrap()
            .contains("research")
    );
    let perms = &loaded.permissions.unwrap().permissions["researcher"];
    assert_eq!(perms.can_subscribe, ["new_lead"]);
    assert_eq!(perms.blackboard_write, ["context/prospect_*"]);
    assert_eq!(perms.allowed_apis, ["llm"], "every agent may think");
    let text = std::fs::read_to_string(config.join("permissions.json")).unwrap();
    assert!(
        !text.contains("can_use_wallet"),
        "only what is granted: {text}"
    );
}

#[test]
fn what_exists_stays_unless_the_caller_says_replace() {
    let dir = config_dir(&[
        (
            "agents.yaml",
            "agents:\n  researcher:\n    role: my own researcher\n  mine:\n    role: x\n",
        ),
        (
            "permissions.json",
            r#"{"permissions": {"default": {"allowed_apis": ["llm"]}, "researcher": {"can_message": ["mine"]}}, "fleet_skills": []}"#,
        ),
    ]);
    let config = dir.path().join("config");
    let mut asked = Vec::new();
    let applied = apply(&load("sales").unwrap(), &config, &mut |e| {
        asked.push(format!("{e:?}"));
        false
    })
    .unwrap();
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!(applied.kept, [AgentId::parse("researcher").unwrap()]);
    let loaded = Config::load(&config).unwrap();
    let agents = &loaded.agents.agents;
    assert_eq!(
        agents[&AgentId::parse("researcher").unwrap()].role,
        "my own researcher"
    );
    assert!(agents.contains_key(&AgentId::parse("mine").unwrap()));
    assert!(agents.contains_key(&AgentId::parse("qualifier").unwrap()));
    let perms = loaded.permissions.unwrap().permissions;
    assert_eq!(perms["researcher"].can_message, ["mine"]);
    assert!(perms.contains_key("default") && perms.contains_key("outreach"));

    apply(&load("sales").unwrap(), &config, &mut |_| true).unwrap();
    let loaded = Config::load(&config).unwrap();
    assert_eq!(
        loaded.agents.agents[&AgentId::parse("researcher").unwrap()].role,
        "research"
    );
}

#[test]
fn workflows_are_written_one_file_each() {
    let dir = config_dir(&[]);
    let config = dir.path().join("config");
    let t = parse(
        Path::new("t.yaml"),
        "name: t\nagents:\n  a: {role: x}\nworkflows:\n  pipeline:\n    name: pipeline\n    trigger: new_lead\n    steps:\n      - {id: one, agent: a, task_type: work}\n",
    )
    .unwrap();
    let applied = apply(&t, &config, &mut |_| false).unwrap();
    let path = config.join("workflows/pipeline.yaml");
    assert_eq!(applied.workflows, std::slice::from_ref(&path));
    let back: serde_json::Value =
        openlegion_protocol::strict_yaml::from_str(&std::fs::read_to_string(&path).unwrap())
            .unwrap();
    assert_eq!(back["steps"][0]["agent"], "a");
    let again = apply(&t, &config, &mut |_| false).unwrap();
    assert_eq!(again.kept_workflows, [path]);
}

#[test]
fn a_broken_permissions_file_is_reported_not_rewritten() {
    let dir = config_dir(&[(
        "permissions.json",
        "{\"permissions\": {\"a\": {\"can_mesage\": []}}}",
    )]);
    let config = dir.path().join("config");
    let e = apply(&load("starter").unwrap(), &config, &mut |_| false)
        .unwrap_err()
        .to_string();
    assert!(e.contains("can_mesage"), "{e}");
    assert!(!config.join("agents.yaml").exists());
}
