//! The tools against a recording stand-in for the agent.

use openlegion_skill_sdk::serde_json::{self, Value, json};
use openlegion_skill_sdk::skills::Source;
use openlegion_skill_sdk::testing::{self, Host};

use crate::Skill;

/// Records what was asked; answers like the agent does.
#[derive(Default)]
struct Agent {
    created: Vec<Source>,
    removed: Vec<String>,
}

impl Host for Agent {
    fn create_skill(&mut self, source: &Source) -> Result<String, String> {
        self.created.push(source.clone());
        Ok(json!({"skill": source.name, "compiled": true}).to_string())
    }
    fn remove_skill(&mut self, name: &str) -> Result<String, String> {
        self.removed.push(name.to_owned());
        Err(format!("no skill named '{name}' was created by this agent"))
    }
}

#[test]
fn create_skill_passes_the_source_and_the_tools_as_json() {
    let args = json!({
        "name": "rev",
        "language": "python",
        "code": "def reverse(text):\n    return text[::-1]\n",
        "tools": [{"name": "reverse", "description": "Reverse.",
                   "parameters": {"type": "object"}}],
        "capabilities": ["workspace"],
        "limits": {"timeout_ms": 500},
    });
    let (out, agent) = testing::with_host(Agent::default(), || {
        Skill::invoke("create_skill", &args.to_string())
    });
    let out: Value = serde_json::from_str(&out.unwrap()).unwrap();
    assert_eq!(out, json!({"skill": "rev", "compiled": true}));
    let source = &agent.created[0];
    assert_eq!(source.language, "python");
    assert_eq!(source.capabilities, ["workspace"]);
    assert_eq!(source.limits.unwrap().timeout_ms, Some(500));
    let tools: Value = serde_json::from_str(&source.tools_json).unwrap();
    assert_eq!(tools[0]["name"], "reverse");
    assert_eq!(tools[0]["parameters"], json!({"type": "object"}));
}

#[test]
fn a_refused_capability_says_what_the_operator_can_change() {
    let args = json!({"name": "x", "language": "python", "code": "", "tools": []});
    let err = Skill::invoke("create_skill", &args.to_string()).unwrap_err();
    assert!(
        err.starts_with("capability 'skills' is not granted to skill 'test': "),
        "{err}"
    );
    assert!(err.contains("runtime.allow_skill_compile: true"), "{err}");
    assert!(err.contains("image: full"), "{err}");
}

#[test]
fn the_agents_errors_pass_through_unchanged() {
    let (out, agent) = testing::with_host(Agent::default(), || {
        Skill::invoke("remove_skill", r#"{"name": "gone"}"#)
    });
    assert_eq!(
        out.unwrap_err(),
        "no skill named 'gone' was created by this agent"
    );
    assert_eq!(agent.removed, ["gone"]);
}
