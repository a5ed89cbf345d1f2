//! The acceptance cases of the Python original's test_mesh / test_permissions suites.

use serde_json::json;

use super::*;

fn matrix(permissions: serde_json::Value) -> PermissionMatrix {
    let file: PermissionsFile =
        serde_json::from_value(json!({ "permissions": permissions })).unwrap();
    PermissionMatrix::from_file(&file)
}

#[test]
fn case_1_2_blackboard_globs() {
    let m = matrix(json!({
        "research": {"blackboard_read": ["context/*", "tasks/*"], "blackboard_write": ["context/research_*"]}
    }));
    assert!(m.can_read("research", "context/prospect_1"));
    assert!(m.can_read("research", "tasks/active"));
    assert!(!m.can_read("research", "signals/alert"));
    assert!(m.can_write("research", "context/research_data"));
    assert!(!m.can_write("research", "context/qualify_data"));
}

#[test]
fn case_3_messaging_is_exact() {
    let m = matrix(json!({"research": {"can_message": ["mesh"]}}));
    assert!(m.can_message("research", "mesh"));
    assert!(!m.can_message("research", "qualify"));
    assert!(
        !m.can_message("unknown", "mesh"),
        "no entry and no default: deny"
    );
}

#[test]
fn case_4_mesh_is_trusted() {
    let m = PermissionMatrix::deny_all();
    assert!(m.can_message("mesh", "research"));
    assert!(m.can_read("mesh", "anything"));
    assert!(m.can_write("mesh", "anything"));
}

#[test]
fn case_5_message_wildcard() {
    let m = matrix(json!({"ceo": {"can_message": ["*"]}, "worker": {"can_message": ["mesh"]}}));
    for to in ["worker", "engineer", "anyone"] {
        assert!(m.can_message("ceo", to));
    }
    assert!(!m.can_message("worker", "ceo"));
}

#[test]
fn case_6_topics_are_exact() {
    let m = matrix(
        json!({"research": {"can_publish": ["research_complete"], "can_subscribe": ["new_*"]}}),
    );
    assert!(m.can_publish("research", "research_complete"));
    assert!(!m.can_publish("research", "other_topic"));
    assert!(m.can_subscribe("research", "new_*"), "the literal name");
    assert!(
        !m.can_subscribe("research", "new_lead"),
        "no glob for topics"
    );
}

#[test]
fn case_7_apis_are_exact() {
    let m = matrix(json!({"research": {"allowed_apis": ["anthropic", "brave_search", "*"]}}));
    assert!(m.can_use_api("research", "anthropic"));
    assert!(
        !m.can_use_api("research", "hunter"),
        "'*' is not a wildcard for apis"
    );
}

#[test]
fn case_8_star_crosses_slash() {
    let m = matrix(json!({"a": {"blackboard_read": ["teams/sales/*"]}}));
    assert!(m.can_read("a", "teams/sales/a/b"));
    assert!(!m.can_read("a", "teams/salesx"));
}

#[test]
fn default_entry_applies_to_unlisted_agents_only() {
    let m = matrix(json!({
        "default": {"blackboard_read": ["context/*"], "allowed_apis": ["llm"]},
        "special": {"blackboard_read": ["secret/*"]}
    }));
    assert!(m.can_read("newcomer", "context/x"));
    assert!(m.can_use_api("newcomer", "llm"));
    assert!(
        !m.can_read("special", "context/x"),
        "own entry replaces the default"
    );
    assert!(m.can_read("special", "secret/x"));
    assert_eq!(m.resolve("newcomer").agent_id, "newcomer");
    assert_eq!(m.resolve("newcomer").allowed_apis, ["llm"]);
}

#[test]
fn case_12_deny_all() {
    let m = PermissionMatrix::deny_all();
    assert!(!m.can_read("a", "x"));
    assert!(!m.can_message("a", "b"));
    assert!(!m.can_publish("a", "t"));
    assert!(!m.can_use_api("a", "llm"));
}

#[test]
fn fnmatch_details() {
    for (pattern, text, expected) in [
        ("tasks/?", "tasks/a", true),
        ("tasks/?", "tasks/ab", false),
        ("tasks/[ab]*", "tasks/b1", true),
        ("tasks/[!ab]*", "tasks/b1", false),
        ("tasks/[!ab]*", "tasks/c1", true),
        ("Context/*", "context/x", false),
        ("a/**/b", "a/x/y/b", true),
        ("weird[", "weird[", true),
        ("weird[", "weirdx", false),
        ("*", "anything/at/all", true),
    ] {
        assert_eq!(
            Glob::new(pattern).matches(text),
            expected,
            "{pattern} vs {text}"
        );
    }
}
