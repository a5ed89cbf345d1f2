//! The tools against a recording stand-in for the agent.

use openlegion_skill_sdk::serde_json::{Value, json};
use openlegion_skill_sdk::testing::{self, Host};

use crate::Skill;

/// Records what was asked; answers like the agent does.
#[derive(Default)]
struct Agent {
    calls: Vec<String>,
}

impl Host for Agent {
    fn memory_save(
        &mut self,
        key: &str,
        value: &str,
        category: Option<&str>,
        source: Option<&str>,
    ) -> Result<String, String> {
        self.calls
            .push(format!("save {key}={value} {category:?} {source:?}"));
        Ok(json!({"saved": "added", "key": key}).to_string())
    }
    fn memory_search(&mut self, query: &str, limit: u32) -> Result<String, String> {
        self.calls.push(format!("search {query} {limit}"));
        Ok(json!({"results": []}).to_string())
    }
    fn memory_recall(
        &mut self,
        query: &str,
        category: Option<&str>,
        limit: u32,
    ) -> Result<String, String> {
        self.calls
            .push(format!("recall {query} {category:?} {limit}"));
        Err("query is empty".into())
    }
}

#[test]
fn the_tools_map_onto_the_memory_interface() {
    let (out, agent) = testing::with_host(Agent::default(), || {
        let saved = Skill::invoke(
            "memory_save",
            &json!({"key": "cat", "value": "Whiskerino"}).to_string(),
        );
        let found = Skill::invoke(
            "memory_search",
            &json!({"query": "cat", "limit": 3}).to_string(),
        );
        let recalled = Skill::invoke(
            "memory_recall",
            &json!({"query": "cat", "category": "pets"}).to_string(),
        );
        (saved, found, recalled)
    });
    let saved: Value = serde_json_from(&out.0.unwrap());
    assert_eq!(saved["saved"], "added", "answers pass through as JSON");
    assert_eq!(serde_json_from(&out.1.unwrap())["results"], json!([]));
    assert_eq!(out.2.unwrap_err(), "query is empty");
    assert_eq!(
        agent.calls,
        [
            "save cat=Whiskerino None None",
            "search cat 3",
            "recall cat Some(\"pets\") 0",
        ]
    );
}

#[test]
fn unknown_arguments_are_named() {
    let (out, _) = testing::with_host(Agent::default(), || {
        Skill::invoke(
            "memory_save",
            &json!({"key": "k", "value": "v", "tags": []}).to_string(),
        )
    });
    assert!(out.unwrap_err().contains("tags"));
}

fn serde_json_from(text: &str) -> Value {
    openlegion_skill_sdk::serde_json::from_str(text).unwrap()
}
