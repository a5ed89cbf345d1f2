//! Every key the config files accept, and what becomes of it: shown at work by a named
//! test, refused when read (with file, line, key and "not supported"), or accepted while
//! the issue that makes it real is being built. The list is checked against the parsers
//! themselves, so a key added to a config struct without a row here fails this test.
//!
//! The files with a loader of their own (cron.json, watchers.yaml, config/workflows/) are
//! refused whole on any key they do not use, and their tests show each key at work.

use std::collections::BTreeSet;
use std::path::Path;

use serde::de::DeserializeOwned;

use super::*;
use crate::webhooks::config::{Hook, WebhooksFile};

/// What happens to a key.
#[derive(Debug, Clone, Copy)]
enum Fate {
    /// It does what it says: `(file, test fn)` shows it (the file mentions the key).
    Shown(&'static str, &'static str),
    /// A section holding other keys (its keys have rows of their own).
    Section,
    /// Refused when read: the row's example sets it (the whole file's text).
    Refused(&'static str),
}

use Fate::{Refused, Section, Shown};

const E2E_CONFIG: &str = "tests/tests/all/config_keys.rs";
const PROXY: &str = "tests/tests/all/llm_proxy.rs";
const CONTAINERS: &str = "tests/tests/all/containers.rs";
const AUTHORING: &str = "tests/tests/all/authoring.rs";
const ENV: &str = "host/src/fleet/configured.rs";
const ENV_TEST: &str = "agents_yaml_and_llm_keys_become_the_agents_variables";
const ACL: &str = "tests/tests/all/acl.rs";
const HOOKS: &str = "tests/tests/all/webhooks.rs";
const MICROVM_KEYS: (&str, &str) = (
    "host/src/config/tests.rs",
    "microvm_kernel_accel_and_disk_size_are_read_and_checked",
);
const CHANNELS: &str = "tests/tests/all/channels.rs";
const ADMITTED: (&str, &str) = (
    "host/src/channels/conversation.rs",
    "allowed_users_chats_and_guilds_admit_only_what_they_list",
);
const BROWSER: &str = "tests/tests/all/browser.rs";
const BROWSER_KEYS: (&str, &str) = (
    "host/src/browse.rs",
    "browser_section_keys_become_the_settings",
);
const SEARCH: &str = "tests/tests/all/search.rs";
const SPAWN: &str = "tests/tests/all/spawn.rs";
const SPAWN_KEYS: (&str, &str) = (
    "host/src/spawn/mod.rs",
    "spawn_section_keys_set_ttl_and_budget",
);
const HEARTBEATS: &str = "tests/tests/all/heartbeats.rs";
const RATE_LIMITS: &str = "tests/tests/all/rate_limits.rs";
const LIMITS_UNIT: &str = "host/src/limits/mod.rs";
const HEARTBEAT_YAML: &str = "host/src/config/heartbeat.rs";

/// (file, key with `*` for a name the user chooses, fate).
#[rustfmt::skip]
const KEYS: &[(&str, &str, Fate)] = &[
    // mesh.yaml
    ("mesh.yaml", "mesh", Section),
    ("mesh.yaml", "mesh.host", Shown(E2E_CONFIG, "mesh_host_and_port_are_where_the_mesh_listens")),
    ("mesh.yaml", "mesh.port", Shown(E2E_CONFIG, "mesh_host_and_port_are_where_the_mesh_listens")),
    ("mesh.yaml", "mesh.state_dir", Shown("host/src/config/tests.rs", "state_dir_is_where_the_mesh_keeps_its_state")),
    ("mesh.yaml", "mesh.inbox_max", Shown("tests/tests/all/routing.rs", "a_full_inbox_refuses_and_keeps_what_it_has")),
    ("mesh.yaml", "mesh.max_body_mb", Shown(E2E_CONFIG, "max_body_mb_bounds_request_bodies")),
    ("mesh.yaml", "llm", Section),
    ("mesh.yaml", "llm.default_model", Shown("tests/tests/all/cli.rs", "chat_and_the_start_repl_talk_to_agents")),
    ("mesh.yaml", "llm.utility_model", Shown(E2E_CONFIG, "llm_temperature_utility_model_and_default_budget")),
    ("mesh.yaml", "llm.embedding_model", Shown(PROXY, "embeddings_go_through_the_proxy")),
    ("mesh.yaml", "llm.max_tokens", Shown(ENV, ENV_TEST)),
    ("mesh.yaml", "llm.temperature", Shown(E2E_CONFIG, "llm_temperature_utility_model_and_default_budget")),
    ("mesh.yaml", "llm.failover", Shown(PROXY, "a_503_primary_falls_over_to_the_secondary")),
    ("mesh.yaml", "llm.prices", Section),
    ("mesh.yaml", "llm.prices.*.input_per_mtok", Shown(PROXY, "budget_boundary_is_exact")),
    ("mesh.yaml", "llm.prices.*.output_per_mtok", Shown(PROXY, "budget_boundary_is_exact")),
    ("mesh.yaml", "llm.default_budget", Section),
    ("mesh.yaml", "llm.default_budget.daily_usd", Shown(E2E_CONFIG, "llm_temperature_utility_model_and_default_budget")),
    ("mesh.yaml", "llm.default_budget.monthly_usd", Shown(E2E_CONFIG, "llm_temperature_utility_model_and_default_budget")),
    ("mesh.yaml", "llm.timeout_seconds", Shown(ENV, ENV_TEST)),
    ("mesh.yaml", "llm.local_models", Shown("host/src/local_llm/mod.rs", "llm_local_models_name_more_gguf_files")),
    ("mesh.yaml", "channels", Section),
    ("mesh.yaml", "channels.*.enabled", Shown(CHANNELS, "an_enabled_channel_without_its_token_stops_the_start")),
    ("mesh.yaml", "channels.*.default_agent", Shown(CHANNELS, "telegram_pairing_routing_and_commands")),
    ("mesh.yaml", "channels.*.allowed_users", Shown(ADMITTED.0, ADMITTED.1)),
    ("mesh.yaml", "channels.*.allowed_chats", Shown(ADMITTED.0, ADMITTED.1)),
    ("mesh.yaml", "channels.*.allowed_guilds", Shown(ADMITTED.0, ADMITTED.1)),
    ("mesh.yaml", "channels.*.edit_interval_ms", Shown(CHANNELS, "telegram_long_answers_are_split_and_a_429_is_waited_out")),
    ("mesh.yaml", "channels.*.max_attachment_mb", Shown(CHANNELS, "telegram_attachments_land_in_the_agents_inbox_under_the_limit")),
    ("mesh.yaml", "channels.*.api_base", Shown(CHANNELS, "telegram_pairing_routing_and_commands")),
    ("mesh.yaml", "channels.*.gateway_url", Shown(CHANNELS, "discord_pairs_chats_splits_waits_out_429_and_resumes_the_gateway")),
    // Accepted only to refuse a token in mesh.yaml with the variable it belongs in.
    ("mesh.yaml", "channels.*.token", Shown("host/src/config/tests.rs", "channel_sections_are_checked_field_by_field")),
    ("mesh.yaml", "collaboration", Shown(E2E_CONFIG, "collaboration_false_stops_agents_messaging_each_other")),
    ("mesh.yaml", "http", Section),
    ("mesh.yaml", "http.allowed_domains", Shown("host/src/fetch.rs", "http_section_keys_take_effect")),
    ("mesh.yaml", "http.allow_private", Shown("host/src/fetch.rs", "http_section_keys_take_effect")),
    ("mesh.yaml", "http.max_body_kb", Shown("host/src/fetch.rs", "http_section_keys_take_effect")),
    ("mesh.yaml", "http.allow_private_hosts", Shown("host/src/fetch.rs", "listed_private_hosts_are_exempt_and_no_others")),
    ("mesh.yaml", "browser", Section),
    ("mesh.yaml", "browser.executable", Shown(BROWSER_KEYS.0, BROWSER_KEYS.1)),
    ("mesh.yaml", "browser.max_tabs", Shown(BROWSER_KEYS.0, BROWSER_KEYS.1)),
    ("mesh.yaml", "browser.idle_timeout_seconds", Shown(BROWSER_KEYS.0, BROWSER_KEYS.1)),
    ("mesh.yaml", "browser.navigation_timeout_ms", Shown(BROWSER_KEYS.0, BROWSER_KEYS.1)),
    ("mesh.yaml", "browser.action_timeout_ms", Shown(BROWSER_KEYS.0, BROWSER_KEYS.1)),
    ("mesh.yaml", "search", Section),
    ("mesh.yaml", "search.provider", Shown(SEARCH, "web_search_uses_brave_with_the_key_from_the_vault")),
    ("mesh.yaml", "search.base_url", Shown(SEARCH, "web_search_reads_a_duckduckgo_results_page_through_the_mesh")),
    ("mesh.yaml", "search.timeout_ms", Shown("host/src/search/mod.rs", "a_silent_provider_fails_the_search_after_timeout_ms")),
    ("mesh.yaml", "spawn", Section),
    ("mesh.yaml", "spawn.max_children", Shown(SPAWN, "spawning_is_refused_without_permission_over_the_limits_and_the_budget")),
    ("mesh.yaml", "spawn.max_depth", Shown(SPAWN, "spawning_is_refused_without_permission_over_the_limits_and_the_budget")),
    ("mesh.yaml", "spawn.max_ttl_seconds", Shown(SPAWN_KEYS.0, SPAWN_KEYS.1)),
    ("mesh.yaml", "spawn.default_ttl_seconds", Shown(SPAWN_KEYS.0, SPAWN_KEYS.1)),
    ("mesh.yaml", "spawn.default_budget_usd", Shown(SPAWN_KEYS.0, SPAWN_KEYS.1)),
    ("mesh.yaml", "rate_limits", Section),
    ("mesh.yaml", "rate_limits.blackboard_writes_per_minute", Shown(RATE_LIMITS, "an_agent_over_its_limits_gets_429_with_retry_after_and_others_do_not")),
    ("mesh.yaml", "rate_limits.messages_per_minute", Shown(RATE_LIMITS, "an_agent_over_its_limits_gets_429_with_retry_after_and_others_do_not")),
    ("mesh.yaml", "rate_limits.publishes_per_minute", Shown(RATE_LIMITS, "an_agent_over_its_limits_gets_429_with_retry_after_and_others_do_not")),
    ("mesh.yaml", "rate_limits.llm_calls_per_minute", Shown(RATE_LIMITS, "an_agent_over_its_limits_gets_429_with_retry_after_and_others_do_not")),
    ("mesh.yaml", "runtime", Section),
    ("mesh.yaml", "runtime.isolation", Shown(CONTAINERS, "a_missing_agent_binary_is_named_and_the_mesh_stays_up")),
    ("mesh.yaml", "runtime.agent_binary", Shown(CONTAINERS, "a_missing_agent_binary_is_named_and_the_mesh_stays_up")),
    ("mesh.yaml", "runtime.allow_exec", Shown(AUTHORING, "capabilities_the_agent_lacks_are_clipped_and_reported")),
    ("mesh.yaml", "runtime.allow_skill_compile", Shown(AUTHORING, "mesh_of")),
    ("mesh.yaml", "runtime.health_interval_ms", Shown(CONTAINERS, "permissions")),
    ("mesh.yaml", "runtime.restart_backoff_ms", Shown(CONTAINERS, "permissions")),
    ("mesh.yaml", "runtime.image", Shown(CONTAINERS, "an_agent_on_the_full_image_has_a_shell_python_node_and_the_compilers")),
    ("mesh.yaml", "runtime.microvm", Section),
    ("mesh.yaml", "runtime.microvm.kernel", Shown(MICROVM_KEYS.0, MICROVM_KEYS.1)),
    ("mesh.yaml", "runtime.microvm.accel", Shown("host/src/runtime/microvm/qemu.rs", "emulation_gets_the_host_tsc_and_kvm_the_host_cpu")),
    ("mesh.yaml", "runtime.microvm.disk_size", Shown(MICROVM_KEYS.0, MICROVM_KEYS.1)),
    ("mesh.yaml", "runtime.labels", Shown("host/src/runtime/docker/mod.rs", "labels")),
    // agents.yaml
    ("agents.yaml", "agents", Section),
    ("agents.yaml", "agents.*.role", Shown("tests/tests/all/cli.rs", "chat_and_the_start_repl_talk_to_agents")),
    ("agents.yaml", "agents.*.model", Shown(PROXY, "mesh_with")),
    ("agents.yaml", "agents.*.allowed_models", Shown(PROXY, "mesh_with")),
    ("agents.yaml", "agents.*.skills_dir", Refused("agents:\n  a:\n    skills_dir: ./skills/research\n")),
    ("agents.yaml", "agents.*.tools_dir", Refused("agents:\n  a:\n    tools_dir: ./tools\n")),
    ("agents.yaml", "agents.*.system_prompt", Shown(ENV, ENV_TEST)),
    ("agents.yaml", "agents.*.instructions", Shown(ENV, ENV_TEST)),
    ("agents.yaml", "agents.*.initial_instructions", Shown(ENV, ENV_TEST)),
    ("agents.yaml", "agents.*.soul", Shown(ENV, ENV_TEST)),
    ("agents.yaml", "agents.*.initial_soul", Shown(ENV, ENV_TEST)),
    ("agents.yaml", "agents.*.heartbeat", Shown(HEARTBEATS, "an_idle_heartbeat_costs_no_llm_request_and_a_signal_costs_exactly_one_turn")),
    ("agents.yaml", "agents.*.heartbeat.schedule", Shown(HEARTBEAT_YAML, "a_map_the_originals_text_or_a_boolean")),
    ("agents.yaml", "agents.*.heartbeat.timezone", Shown(HEARTBEAT_YAML, "a_map_the_originals_text_or_a_boolean")),
    ("agents.yaml", "agents.*.heartbeat.probes", Shown(HEARTBEATS, "a_custom_probe_skill_drives_a_turn_with_the_heartbeat_rules")),
    ("agents.yaml", "agents.*.heartbeat.rules", Shown(HEARTBEATS, "a_custom_probe_skill_drives_a_turn_with_the_heartbeat_rules")),
    ("agents.yaml", "agents.*.heartbeat.enabled", Shown(HEARTBEAT_YAML, "a_map_the_originals_text_or_a_boolean")),
    ("agents.yaml", "agents.*.initial_heartbeat", Shown(ENV, ENV_TEST)),
    ("agents.yaml", "agents.*.initial_interface", Refused("agents:\n  a:\n    initial_interface: Takes leads.\n")),
    ("agents.yaml", "agents.*.thinking", Refused("agents:\n  a:\n    thinking: high\n")),
    ("agents.yaml", "agents.*.status", Refused("agents:\n  a:\n    status: archived\n")),
    ("agents.yaml", "agents.*.resources", Section),
    ("agents.yaml", "agents.*.resources.memory_limit", Shown(CONTAINERS, "agents_in_docker_containers_chat_and_are_locked_down")),
    ("agents.yaml", "agents.*.resources.cpu_limit", Shown(CONTAINERS, "agents_in_docker_containers_chat_and_are_locked_down")),
    ("agents.yaml", "agents.*.budget", Section),
    ("agents.yaml", "agents.*.budget.daily_usd", Shown(PROXY, "budget_boundary_is_exact")),
    ("agents.yaml", "agents.*.budget.monthly_usd", Shown(PROXY, "budget_boundary_is_exact")),
    ("agents.yaml", "agents.*.rate_limits", Section),
    ("agents.yaml", "agents.*.rate_limits.blackboard_writes_per_minute", Shown(RATE_LIMITS, "an_agents_own_rate_limits_override_the_meshs_and_follow_a_reload")),
    ("agents.yaml", "agents.*.rate_limits.messages_per_minute", Shown(RATE_LIMITS, "an_agents_own_rate_limits_override_the_meshs_and_follow_a_reload")),
    ("agents.yaml", "agents.*.rate_limits.publishes_per_minute", Shown(LIMITS_UNIT, "an_agents_own_limits_override_the_meshs_key_by_key")),
    ("agents.yaml", "agents.*.rate_limits.llm_calls_per_minute", Shown(LIMITS_UNIT, "an_agents_own_limits_override_the_meshs_key_by_key")),
    ("agents.yaml", "agents.*.capabilities", Shown(E2E_CONFIG, "configured_capabilities_are_advertised_with_the_registered_ones")),
    ("agents.yaml", "agents.*.preferred_inputs", Refused("agents:\n  a:\n    preferred_inputs: [csv]\n")),
    ("agents.yaml", "agents.*.expected_outputs", Refused("agents:\n  a:\n    expected_outputs: [report]\n")),
    ("agents.yaml", "agents.*.escalation_to", Refused("agents:\n  a:\n    escalation_to: boss\n")),
    ("agents.yaml", "agents.*.forbidden", Refused("agents:\n  a:\n    forbidden: [email]\n")),
    ("agents.yaml", "agents.*.max_iterations", Shown(ENV, ENV_TEST)),
    ("agents.yaml", "agents.*.context_window", Shown(ENV, ENV_TEST)),
    ("agents.yaml", "agents.*.isolation", Shown(CONTAINERS, "a_missing_agent_binary_is_named_and_the_mesh_stays_up")),
    ("agents.yaml", "agents.*.image", Shown(CONTAINERS, "an_agent_on_the_full_image_has_a_shell_python_node_and_the_compilers")),
    ("agents.yaml", "agents.*.lanes", Section),
    ("agents.yaml", "agents.*.lanes.concurrency", Shown(AUTHORING, "a_new_version_replaces_a_skill_while_a_call_of_the_old_one_is_in_flight")),
    ("agents.yaml", "agents.*.lanes.max", Shown("tests/tests/all/lanes.rs", "a_full_lane_refuses_with_429_and_counts_the_refusal")),
    ("agents.yaml", "agents.*.on_message", Shown("tests/tests/all/reactions.rs", "on_message_log_delivers_without_a_turn")),
    ("agents.yaml", "agents.*.on_event", Shown("host/src/mesh/turns.rs", "log_reactions_start_no_turn")),
    // permissions.json
    ("permissions.json", "permissions", Section),
    ("permissions.json", "permissions.*.agent_id", Refused(r#"{"permissions": {"a": {"agent_id": "b"}}}"#)),
    ("permissions.json", "permissions.*.can_message", Shown(ACL, "cases_3_5_messaging_exact_or_star")),
    ("permissions.json", "permissions.*.can_publish", Shown(ACL, "case_6_topics_are_exact")),
    ("permissions.json", "permissions.*.can_subscribe", Shown("tests/tests/all/pubsub.rs", "publish_reaches_every_subscriber_as_an_event_message")),
    ("permissions.json", "permissions.*.blackboard_read", Shown(ACL, "cases_1_2_8_blackboard_globs_over_http")),
    ("permissions.json", "permissions.*.blackboard_write", Shown(ACL, "cases_1_2_8_blackboard_globs_over_http")),
    ("permissions.json", "permissions.*.allowed_apis", Shown(PROXY, "mesh_with")),
    ("permissions.json", "permissions.*.allowed_credentials", Refused(r#"{"permissions": {"a": {"allowed_credentials": ["*"]}}}"#)),
    ("permissions.json", "permissions.*.allowed_skills", Refused(r#"{"permissions": {"a": {"allowed_skills": ["web"]}}}"#)),
    ("permissions.json", "permissions.*.can_use_browser", Shown(BROWSER, "browsing_needs_can_use_browser_and_browser_actions_narrow_it")),
    ("permissions.json", "permissions.*.browser_actions", Shown(BROWSER, "browsing_needs_can_use_browser_and_browser_actions_narrow_it")),
    ("permissions.json", "permissions.*.can_read_history", Shown("tests/tests/all/team.rs", "history_is_read_where_permitted_and_credentials_are_redacted")),
    ("permissions.json", "permissions.*.can_use_internet", Shown("tests/tests/all/skills.rs", "http_goes_through_the_mesh_and_needs_the_internet_permission")),
    ("permissions.json", "permissions.*.can_spawn", Shown(SPAWN, "spawning_is_refused_without_permission_over_the_limits_and_the_budget")),
    ("permissions.json", "permissions.*.can_manage_cron", Shown("tests/tests/all/cron.rs", "agents_manage_only_their_own_jobs_and_only_with_can_manage_cron")),
    ("permissions.json", "permissions.*.can_manage_fleet", Refused(r#"{"permissions": {"a": {"can_manage_fleet": true}}}"#)),
    ("permissions.json", "permissions.*.can_manage_teams", Refused(r#"{"permissions": {"a": {"can_manage_teams": true}}}"#)),
    ("permissions.json", "permissions.*.can_edit_agent_config", Refused(r#"{"permissions": {"a": {"can_edit_agent_config": true}}}"#)),
    ("permissions.json", "permissions.*.can_view_fleet_metrics", Refused(r#"{"permissions": {"a": {"can_view_fleet_metrics": true}}}"#)),
    ("permissions.json", "permissions.*.can_route_tasks", Refused(r#"{"permissions": {"a": {"can_route_tasks": true}}}"#)),
    ("permissions.json", "permissions.*.can_request_user_credentials", Refused(r#"{"permissions": {"a": {"can_request_user_credentials": true}}}"#)),
    ("permissions.json", "permissions.*.can_use_wallet", Refused(r#"{"permissions": {"a": {"can_use_wallet": true}}}"#)),
    ("permissions.json", "permissions.*.wallet_allowed_chains", Refused(r#"{"permissions": {"a": {"wallet_allowed_chains": ["eth"]}}}"#)),
    ("permissions.json", "permissions.*.wallet_spend_limit_per_tx_usd", Refused(r#"{"permissions": {"a": {"wallet_spend_limit_per_tx_usd": 5}}}"#)),
    ("permissions.json", "permissions.*.wallet_spend_limit_daily_usd", Refused(r#"{"permissions": {"a": {"wallet_spend_limit_daily_usd": 5}}}"#)),
    ("permissions.json", "permissions.*.wallet_rate_limit_per_hour", Refused(r#"{"permissions": {"a": {"wallet_rate_limit_per_hour": 5}}}"#)),
    ("permissions.json", "permissions.*.wallet_allowed_contracts", Refused(r#"{"permissions": {"a": {"wallet_allowed_contracts": ["0x1"]}}}"#)),
    ("permissions.json", "fleet_skills", Refused(r#"{"permissions": {}, "fleet_skills": ["web"]}"#)),
    // webhooks.json
    ("webhooks.json", "hooks", Section),
    ("webhooks.json", "hooks.*.id", Shown(HOOKS, "a_hook_over_its_rate_limit_gets_429_with_retry_after")),
    ("webhooks.json", "hooks.*.name", Shown(HOOKS, "signed_deliveries_reach_the_agent_once_and_bad_ones_never_reach_the_llm")),
    ("webhooks.json", "hooks.*.agent", Shown(HOOKS, "a_hook_over_its_rate_limit_gets_429_with_retry_after")),
    // Metadata: written by `webhook add`, shown by `webhook list`.
    ("webhooks.json", "hooks.*.created_at", Shown("host/src/cli/webhook.rs", "run")),
    ("webhooks.json", "hooks.*.secret_env", Shown(HOOKS, "signed_deliveries_reach_the_agent_once_and_bad_ones_never_reach_the_llm")),
    ("webhooks.json", "hooks.*.instructions", Shown("host/src/webhooks/mod.rs", "the_message_quotes_json_pretty_and_cuts_long_bodies")),
    ("webhooks.json", "hooks.*.rate_per_minute", Shown(HOOKS, "a_hook_over_its_rate_limit_gets_429_with_retry_after")),
];

/// The field names of `T`, from the error its parser gives for an unknown key (every config
/// struct refuses unknown keys, and the error lists the ones it knows).
fn fields_of<T: DeserializeOwned>() -> Vec<String> {
    let e = match serde_json::from_str::<T>(r#"{"zz_not_a_key": 0}"#) {
        Ok(_) => panic!("{} accepts unknown keys", std::any::type_name::<T>()),
        Err(e) => e.to_string(),
    };
    let expected = e
        .split_once("expected")
        .unwrap_or_else(|| panic!("no field list in: {e}"))
        .1;
    expected
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// Every key the parsers accept, as `KEYS` spells them.
fn accepted() -> BTreeSet<(String, String)> {
    let mut keys = BTreeSet::new();
    let mut add = |file: &str, prefix: &str, fields: Vec<String>| {
        for f in fields {
            keys.insert((file.to_owned(), format!("{prefix}{f}")));
        }
    };
    add("mesh.yaml", "", fields_of::<MeshFile>());
    add("mesh.yaml", "mesh.", fields_of::<MeshSection>());
    add("mesh.yaml", "llm.", fields_of::<LlmSection>());
    add("mesh.yaml", "llm.prices.*.", fields_of::<Price>());
    add("mesh.yaml", "llm.default_budget.", fields_of::<Budget>());
    add("mesh.yaml", "channels.*.", fields_of::<ChannelSection>());
    add("mesh.yaml", "http.", fields_of::<HttpSection>());
    add("mesh.yaml", "browser.", fields_of::<BrowserSection>());
    add("mesh.yaml", "search.", fields_of::<SearchSection>());
    add("mesh.yaml", "spawn.", fields_of::<SpawnSection>());
    add(
        "mesh.yaml",
        "rate_limits.",
        fields_of::<RateLimitsSection>(),
    );
    add("mesh.yaml", "runtime.", fields_of::<RuntimeSection>());
    add(
        "mesh.yaml",
        "runtime.microvm.",
        fields_of::<MicrovmSection>(),
    );
    add("agents.yaml", "", fields_of::<AgentsFile>());
    add("agents.yaml", "agents.*.", fields_of::<AgentConfig>());
    add(
        "agents.yaml",
        "agents.*.resources.",
        fields_of::<Resources>(),
    );
    add("agents.yaml", "agents.*.budget.", fields_of::<Budget>());
    add(
        "agents.yaml",
        "agents.*.rate_limits.",
        fields_of::<RateLimitsSection>(),
    );
    add(
        "agents.yaml",
        "agents.*.heartbeat.",
        fields_of::<HeartbeatConfig>(),
    );
    add(
        "agents.yaml",
        "agents.*.lanes.",
        fields_of::<agents::LaneConfig>(),
    );
    add("permissions.json", "", fields_of::<PermissionsFile>());
    add(
        "permissions.json",
        "permissions.*.",
        fields_of::<openlegion_protocol::AgentPermissions>(),
    );
    add("webhooks.json", "", fields_of::<WebhooksFile>());
    add("webhooks.json", "hooks.*.", fields_of::<Hook>());
    keys
}

#[test]
fn every_accepted_key_is_listed_with_its_fate() {
    let listed: BTreeSet<(String, String)> = KEYS
        .iter()
        .map(|(file, key, _)| ((*file).to_owned(), (*key).to_owned()))
        .collect();
    assert_eq!(listed.len(), KEYS.len(), "a key is listed twice");
    let accepted = accepted();
    let unlisted: Vec<_> = accepted.difference(&listed).collect();
    assert!(
        unlisted.is_empty(),
        "accepted but not listed here: {unlisted:?}"
    );
    let stale: Vec<_> = listed.difference(&accepted).collect();
    assert!(stale.is_empty(), "listed but not accepted: {stale:?}");
}

#[test]
fn every_working_key_names_a_test_that_shows_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace");
    for (file, key, fate) in KEYS {
        let Shown(source, function) = fate else {
            continue;
        };
        let text = std::fs::read_to_string(root.join(source))
            .unwrap_or_else(|e| panic!("{file} {key}: {source}: {e}"));
        assert!(
            text.contains(&format!("fn {function}(")) || text.contains(&format!("fn {function}<")),
            "{file} {key}: no fn {function} in {source}"
        );
        let leaf = key.rsplit('.').next().expect("a key");
        // The key, or the CLI flag that writes it (`--secret-env`).
        assert!(
            text.contains(leaf) || text.contains(&leaf.replace('_', "-")),
            "{file} {key}: {source} never mentions {leaf}"
        );
    }
}

#[test]
fn every_refused_key_is_refused_with_file_line_key_and_why() {
    for (file, key, fate) in KEYS {
        let Refused(text) = fate else {
            continue;
        };
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(file), text).unwrap();
        let e = match *file {
            "webhooks.json" => crate::webhooks::config::load(&dir.path().join(file)).map(drop),
            _ => Config::load(dir.path()).map(drop),
        }
        .expect_err(&format!("{file} {key} was accepted"))
        .to_string();
        let leaf = key.rsplit('.').next().expect("a key");
        let path = key.replace('*', "a");
        assert!(
            e.contains(&format!("{file}:")) && e.contains(&path) && e.contains("not supported"),
            "{file} {key}: {e}"
        );
        let line = e
            .split(&format!("{file}:"))
            .nth(1)
            .and_then(|rest| rest.split(':').next())
            .and_then(|l| l.parse::<usize>().ok())
            .unwrap_or_else(|| panic!("{file} {key}: no line in {e}"));
        assert!(
            text.lines().nth(line - 1).is_some_and(|l| l.contains(leaf)),
            "{file} {key}: line {line} of the example is not the key's: {e}"
        );
    }
}
