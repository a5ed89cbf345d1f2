//! What agents.yaml and mesh.yaml say about one agent that the agent itself applies: its
//! instructions, first SOUL.md, bounds and context window, as the variables of its
//! environment (`openlegion_protocol::env`). The rest of its environment (paths, token,
//! capabilities) is the fleet's.

use openlegion_protocol::env;

use super::window;
use crate::config::{AgentConfig, LlmSection};

/// The variables `cfg` (and the mesh's `llm:` section) hand to the agent.
pub(super) fn environment(cfg: &AgentConfig, llm: &LlmSection) -> Vec<(String, String)> {
    let mut vars: Vec<(&str, String)> = Vec::new();
    let instructions = [
        &cfg.system_prompt,
        &cfg.instructions,
        &cfg.initial_instructions,
    ]
    .into_iter()
    .flatten()
    .cloned()
    .collect::<Vec<_>>()
    .join("\n\n");
    if !instructions.is_empty() {
        vars.push((env::INITIAL_INSTRUCTIONS, instructions));
    }
    if let Some(soul) = cfg.soul.as_ref().or(cfg.initial_soul.as_ref()) {
        vars.push((env::INITIAL_SOUL, soul.clone()));
    }
    if let Some(rules) = &cfg.initial_heartbeat {
        vars.push((env::INITIAL_HEARTBEAT, rules.clone()));
    }
    if let Some(n) = cfg.max_iterations {
        vars.push((env::TASK_MAX_ITERATIONS, n.to_string()));
    }
    if let Some(n) = llm.max_tokens {
        vars.push((env::LLM_MAX_TOKENS, n.to_string()));
    }
    if let Some(s) = llm.timeout_seconds {
        vars.push((env::LLM_TIMEOUT_SECONDS, s.to_string()));
    }
    let model = cfg.model.as_ref().or(llm.default_model.as_ref());
    let window = window::context_window(cfg.context_window, model.map(String::as_str));
    vars.push((env::CONTEXT_WINDOW, window.to_string()));
    vars.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn var(vars: &[(String, String)], name: &str) -> Option<String> {
        vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    /// Each key reaches the agent as the variable it reads (see the agent's config).
    #[test]
    fn agents_yaml_and_llm_keys_become_the_agents_variables() {
        let cfg = AgentConfig {
            system_prompt: Some("You are terse.".into()),
            instructions: Some("Answer in French.".into()),
            initial_instructions: Some("Sign with -A.".into()),
            soul: Some("Dry humour.".into()),
            initial_heartbeat: Some("Check the inbox.".into()),
            max_iterations: Some(7),
            context_window: Some(32_000),
            ..AgentConfig::default()
        };
        let llm = LlmSection {
            max_tokens: Some(900),
            timeout_seconds: Some(45),
            ..LlmSection::default()
        };
        let vars = environment(&cfg, &llm);
        assert_eq!(
            var(&vars, env::INITIAL_INSTRUCTIONS).as_deref(),
            Some("You are terse.\n\nAnswer in French.\n\nSign with -A.")
        );
        assert_eq!(
            var(&vars, env::INITIAL_SOUL).as_deref(),
            Some("Dry humour.")
        );
        assert_eq!(
            var(&vars, env::INITIAL_HEARTBEAT).as_deref(),
            Some("Check the inbox.")
        );
        assert_eq!(var(&vars, env::TASK_MAX_ITERATIONS).as_deref(), Some("7"));
        assert_eq!(var(&vars, env::LLM_MAX_TOKENS).as_deref(), Some("900"));
        assert_eq!(var(&vars, env::LLM_TIMEOUT_SECONDS).as_deref(), Some("45"));
        assert_eq!(var(&vars, env::CONTEXT_WINDOW).as_deref(), Some("32000"));

        let initial_soul = AgentConfig {
            initial_soul: Some("Warm.".into()),
            ..AgentConfig::default()
        };
        let vars = environment(&initial_soul, &LlmSection::default());
        assert_eq!(var(&vars, env::INITIAL_SOUL).as_deref(), Some("Warm."));
        for unset in [
            env::INITIAL_INSTRUCTIONS,
            env::INITIAL_HEARTBEAT,
            env::TASK_MAX_ITERATIONS,
            env::LLM_MAX_TOKENS,
            env::LLM_TIMEOUT_SECONDS,
        ] {
            assert_eq!(var(&vars, unset), None, "{unset}");
        }
    }
}
