//! The tools against a stand-in mesh that answers with the real mesh's JSON shapes.

use std::collections::BTreeMap;

use openlegion_skill_sdk::serde_json::{self, Value, json};
use openlegion_skill_sdk::testing::{self, Host};

use crate::Skill;

/// A blackboard in memory; entries are kept as the mesh's `BlackboardEntry` JSON.
#[derive(Default)]
struct Mesh {
    entries: BTreeMap<String, Value>,
    published: Vec<(String, Value)>,
    jobs: Vec<Value>,
}

fn entry(key: &str, value: Value, version: u64) -> Value {
    json!({
        "key": key, "value": value, "written_by": "scout",
        "created_at": "2026-03-09T10:00:00", "updated_at": "2026-03-09T10:00:00",
        "ttl": null, "version": version,
    })
}

impl Host for Mesh {
    fn read_state(&mut self, key: &str) -> Result<Option<String>, String> {
        Ok(self.entries.get(key).map(Value::to_string))
    }

    fn write_state(
        &mut self,
        key: &str,
        value_json: &str,
        ttl: Option<u32>,
    ) -> Result<String, String> {
        if key.starts_with("secret/") {
            return Err(format!("agent 'scout' may not write '{key}'"));
        }
        let value: Value = serde_json::from_str(value_json).unwrap();
        assert!(value.is_object(), "the skill sends objects only");
        let version = self
            .entries
            .get(key)
            .map_or(1, |e| e["version"].as_u64().unwrap() + 1);
        let mut new = entry(key, value, version);
        new["ttl"] = json!(ttl);
        self.entries.insert(key.into(), new.clone());
        Ok(new.to_string())
    }

    fn list_state(&mut self, prefix: &str) -> Result<String, String> {
        let list: Vec<&Value> = self
            .entries
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(_, v)| v)
            .collect();
        Ok(serde_json::to_string(&list).unwrap())
    }

    fn publish(&mut self, topic: &str, payload_json: &str) -> Result<u32, String> {
        self.published
            .push((topic.into(), serde_json::from_str(payload_json).unwrap()));
        Ok(2)
    }

    fn set_cron(&mut self, spec_json: &str) -> Result<String, String> {
        let mut job: Value = serde_json::from_str(spec_json).unwrap();
        if job["schedule"] == "61 * * * *" {
            return Err("\"61 * * * *\" is not a schedule".into());
        }
        job["id"] = json!(format!("cron_{}", self.jobs.len()));
        job["next_run"] = json!("2026-03-10T09:00:00.000000Z");
        self.jobs.push(job.clone());
        Ok(job.to_string())
    }

    fn list_cron(&mut self) -> Result<String, String> {
        Ok(json!({"count": self.jobs.len(), "jobs": self.jobs}).to_string())
    }

    fn remove_cron(&mut self, id: &str) -> Result<String, String> {
        self.jobs.retain(|j| j["id"] != id);
        Ok(json!({"removed": true, "id": id}).to_string())
    }

    fn set_heartbeat(&mut self, spec_json: &str) -> Result<String, String> {
        let mut job: Value = serde_json::from_str(spec_json).unwrap();
        job["id"] = json!("heartbeat_scout");
        job["enabled"] = json!(true);
        Ok(job.to_string())
    }

    fn list_agents(&mut self) -> Result<String, String> {
        Ok(json!({
            "scout": {"url": "http://scout:8400", "role": "research", "capabilities": ["web"], "registered": true, "inbox": 0},
            "writer": {"role": "writing", "capabilities": [], "registered": false, "inbox": 3},
        })
        .to_string())
    }
}

fn call(mesh: Mesh, tool: &str, args: Value) -> (Result<Value, String>, Mesh) {
    let (out, mesh) = testing::with_host(mesh, || Skill::invoke(tool, &args.to_string()));
    (
        out.map(|text| serde_json::from_str(&text).expect("JSON")),
        mesh,
    )
}

#[test]
fn list_agents_is_compact() {
    let (out, _) = call(Mesh::default(), "list_agents", json!({}));
    assert_eq!(
        out.unwrap(),
        json!({"count": 2, "agents": [
            {"name": "scout", "role": "research", "capabilities": ["web"], "registered": true},
            {"name": "writer", "role": "writing", "capabilities": [], "registered": false},
        ]})
    );
    let (out, _) = call(Mesh::default(), "list_agents", json!({"all": true}));
    assert!(out.unwrap_err().contains("unknown field `all`"));
}

#[test]
fn missing_key_is_an_answer_not_an_error() {
    let (out, _) = call(
        Mesh::default(),
        "read_shared_state",
        json!({"key": "status/none"}),
    );
    assert_eq!(out.unwrap(), json!({"found": false, "key": "status/none"}));
}

#[test]
fn write_then_read() {
    let args = json!({"key": "status/scout", "value": {"phase": "done"}, "ttl": 60});
    let (out, mesh) = call(Mesh::default(), "write_shared_state", args);
    assert_eq!(
        out.unwrap(),
        json!({"written": true, "key": "status/scout", "version": 1})
    );
    assert_eq!(mesh.entries["status/scout"]["ttl"], 60);
    let (out, _) = call(mesh, "read_shared_state", json!({"key": "status/scout"}));
    assert_eq!(
        out.unwrap(),
        json!({
            "found": true, "key": "status/scout", "value": {"phase": "done"},
            "written_by": "scout", "updated_at": "2026-03-09T10:00:00", "version": 1,
        })
    );
}

#[test]
fn a_value_sent_as_json_text_is_accepted_but_not_other_values() {
    let args = json!({"key": "k", "value": "{\"a\": 1}"});
    let (out, mesh) = call(Mesh::default(), "write_shared_state", args);
    assert_eq!(out.unwrap()["version"], 1);
    assert_eq!(mesh.entries["k"]["value"], json!({"a": 1}));
    for (value, got) in [
        (json!([1]), "an array"),
        (json!("plain text"), "a string that is not a JSON object"),
        (json!(3), "a number"),
    ] {
        let (out, _) = call(
            Mesh::default(),
            "write_shared_state",
            json!({"key": "k", "value": value}),
        );
        assert_eq!(
            out.unwrap_err(),
            format!(
                "invalid arguments for tool 'write_shared_state': field 'value': expected a JSON object, got {got}"
            )
        );
    }
}

#[test]
fn mesh_refusals_are_tool_errors() {
    let args = json!({"key": "secret/x", "value": {}});
    let (out, _) = call(Mesh::default(), "write_shared_state", args);
    assert_eq!(out.unwrap_err(), "agent 'scout' may not write 'secret/x'");
}

#[test]
fn list_shows_previews() {
    let mut mesh = Mesh::default();
    mesh.entries.insert(
        "research/a".into(),
        entry("research/a", json!({"text": "x".repeat(500)}), 4),
    );
    mesh.entries
        .insert("status/b".into(), entry("status/b", json!({"ok": true}), 1));
    let (out, _) = call(mesh, "list_shared_state", json!({"prefix": "research/"}));
    let out = out.unwrap();
    assert_eq!(
        (out["prefix"].as_str(), out["count"].as_u64()),
        (Some("research/"), Some(1))
    );
    let first = &out["entries"][0];
    assert_eq!(first["key"], "research/a");
    assert_eq!(first["version"], 4);
    let preview = first["value_preview"].as_str().unwrap();
    assert_eq!(preview.chars().count(), 203);
    assert!(preview.starts_with(r#"{"text":"xxx"#) && preview.ends_with("..."));
}

#[test]
fn publish_reports_subscribers() {
    let args = json!({"topic": "research_complete", "payload": {"key": "research/a"}});
    let (out, mesh) = call(Mesh::default(), "publish_event", args);
    assert_eq!(
        out.unwrap(),
        json!({"published": true, "topic": "research_complete", "subscribers_notified": 2})
    );
    assert_eq!(
        mesh.published,
        [("research_complete".to_owned(), json!({"key": "research/a"}))]
    );
}

#[test]
fn schemas_mark_objects_and_required_fields() {
    let tools = Skill::describe();
    let schema = |name: &str| -> Value {
        let tool = tools.iter().find(|t| t.name == name).unwrap();
        serde_json::from_str(&tool.parameters_schema).unwrap()
    };
    assert_eq!(schema("list_agents")["properties"], json!({}));
    assert_eq!(
        schema("write_shared_state")["required"],
        json!(["key", "value"])
    );
    assert_eq!(
        schema("write_shared_state")["properties"]["value"]["type"],
        "object"
    );
    assert_eq!(
        schema("publish_event")["required"],
        json!(["topic", "payload"])
    );
}

#[test]
fn cron_tools_pass_the_spec_and_shape_the_answers() {
    let spec = json!({"schedule": "0 9 * * 1-5", "message": "report", "timezone": "Europe/Berlin"});
    let (out, mesh) = call(Mesh::default(), "set_cron", spec);
    let out = out.unwrap();
    assert_eq!(
        (
            out["scheduled"].clone(),
            out["id"].as_str(),
            out["timezone"].as_str()
        ),
        (json!(true), Some("cron_0"), Some("Europe/Berlin"))
    );
    assert_eq!(
        mesh.jobs[0]["message"], "report",
        "the spec reached the mesh"
    );
    assert!(
        mesh.jobs[0].get("name").is_none(),
        "unset fields are left out"
    );
    let (out, mesh) = call(mesh, "list_cron", json!({}));
    assert_eq!(out.unwrap()["count"], 1);
    let (out, mesh) = call(mesh, "remove_cron", json!({"id": "cron_0"}));
    assert_eq!(out.unwrap()["removed"], true);
    assert!(mesh.jobs.is_empty());
    let (out, _) = call(
        Mesh::default(),
        "set_cron",
        json!({"schedule": "61 * * * *", "message": "x"}),
    );
    assert!(out.unwrap_err().contains("is not a schedule"));
    let (out, _) = call(
        Mesh::default(),
        "set_heartbeat",
        json!({"schedule": "every 5m", "probes": ["signals"]}),
    );
    let out = out.unwrap();
    assert_eq!(
        (out["heartbeat"].clone(), out["schedule"].as_str()),
        (json!(true), Some("every 5m"))
    );
    let (out, _) = call(
        Mesh::default(),
        "set_cron",
        json!({"message": "no schedule"}),
    );
    assert!(out.unwrap_err().contains("schedule"));
}
