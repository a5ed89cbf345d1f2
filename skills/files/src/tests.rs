//! The tools against an in-memory stand-in for the host's workspace.

use std::collections::BTreeMap;

use openlegion_skill_sdk::serde_json::{self, Value, json};
use openlegion_skill_sdk::testing::{self, Host};
use openlegion_skill_sdk::workspace::Entry;

use crate::Skill;

/// Files in memory; refuses `..` the way the real host does.
#[derive(Default)]
struct MemoryFs {
    files: BTreeMap<String, String>,
    reads: Vec<(String, Option<u32>, Option<u32>)>,
    registered: Vec<String>,
    /// The mesh refuses registrations (unreachable, or the file is gone).
    refuse_registration: bool,
}

fn check(path: &str) -> Result<String, String> {
    if path.split('/').any(|part| part == "..") {
        return Err(format!("Path traversal not allowed: {path}"));
    }
    Ok(path.strip_prefix("/data/").unwrap_or(path).to_owned())
}

impl Host for MemoryFs {
    fn read_file(
        &mut self,
        path: &str,
        offset: Option<u32>,
        limit: Option<u32>,
    ) -> Result<String, String> {
        self.reads.push((path.to_owned(), offset, limit));
        let key = check(path)?;
        self.files
            .get(&key)
            .cloned()
            .ok_or(format!("File not found: {path}"))
    }

    fn write_file(&mut self, path: &str, contents: &str, append: bool) -> Result<u64, String> {
        let key = check(path)?;
        let file = self.files.entry(key).or_default();
        if !append {
            file.clear();
        }
        file.push_str(contents);
        Ok(contents.len() as u64)
    }

    fn register_artifact(&mut self, name: &str) -> Result<String, String> {
        if self.refuse_registration {
            return Err("the mesh is unreachable".into());
        }
        assert!(self.files.contains_key(&format!("artifacts/{name}")));
        self.registered.push(name.to_owned());
        Ok(json!({"key": format!("artifacts/scout/{name}"), "value": {}}).to_string())
    }

    fn list_files(
        &mut self,
        path: &str,
        pattern: Option<&str>,
        recursive: bool,
    ) -> Result<Vec<Entry>, String> {
        check(path)?;
        assert_eq!((path, pattern, recursive), (".", Some("*.md"), true));
        Ok(vec![
            Entry {
                path: "notes".into(),
                is_dir: true,
                size: 0,
            },
            Entry {
                path: "notes/a.md".into(),
                is_dir: false,
                size: 5,
            },
        ])
    }
}

fn call(host: MemoryFs, tool: &str, args: Value) -> (Result<Value, String>, MemoryFs) {
    let (out, host) = testing::with_host(host, || Skill::invoke(tool, &args.to_string()));
    (
        out.map(|text| serde_json::from_str(&text).expect("tools answer JSON")),
        host,
    )
}

#[test]
fn describes_four_tools_with_object_schemas() {
    let tools = Skill::describe();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        ["read_file", "write_file", "list_files", "save_artifact"]
    );
    let read: Value = serde_json::from_str(&tools[0].parameters_schema).unwrap();
    assert_eq!(read["required"], json!(["path"]));
    assert_eq!(read["properties"]["offset"]["type"], "integer");
    assert_eq!(read["additionalProperties"], false);
    let write: Value = serde_json::from_str(&tools[1].parameters_schema).unwrap();
    assert_eq!(write["required"], json!(["path", "content"]));
    assert_eq!(write["properties"]["append"]["type"], "boolean");
}

#[test]
fn write_then_read_and_append() {
    let (out, host) = call(
        MemoryFs::default(),
        "write_file",
        json!({"path": "notes/a.md", "content": "hello"}),
    );
    assert_eq!(
        out.unwrap(),
        json!({"path": "notes/a.md", "bytes_written": 5})
    );
    let (out, host) = call(
        host,
        "write_file",
        json!({"path": "notes/a.md", "content": "!", "append": true}),
    );
    assert_eq!(out.unwrap()["bytes_written"], 1);
    let (out, host) = call(
        host,
        "read_file",
        json!({"path": "notes/a.md", "offset": 2, "limit": 10}),
    );
    assert_eq!(out.unwrap(), json!({"content": "hello!"}));
    assert_eq!(host.reads, [("notes/a.md".to_owned(), Some(2), Some(10))]);
}

#[test]
fn host_errors_reach_the_model_unchanged() {
    let (out, _) = call(
        MemoryFs::default(),
        "read_file",
        json!({"path": "../etc/passwd"}),
    );
    assert_eq!(
        out.unwrap_err(),
        "Path traversal not allowed: ../etc/passwd"
    );
    let (out, _) = call(
        MemoryFs::default(),
        "read_file",
        json!({"path": "missing.md"}),
    );
    assert_eq!(out.unwrap_err(), "File not found: missing.md");
}

#[test]
fn without_the_capability_every_tool_fails() {
    let (out, _) = testing::with_host(testing::Denied, || {
        Skill::invoke("read_file", r#"{"path": "a"}"#)
    });
    assert_eq!(out.unwrap_err(), testing::not_granted("workspace"));
}

#[test]
fn list_files_shapes_entries() {
    let (out, _) = call(
        MemoryFs::default(),
        "list_files",
        json!({"pattern": "*.md", "recursive": true}),
    );
    assert_eq!(
        out.unwrap(),
        json!({"count": 2, "entries": [
            {"path": "notes", "type": "dir", "size": 0},
            {"path": "notes/a.md", "type": "file", "size": 5},
        ]})
    );
}

#[test]
fn save_artifact_writes_under_artifacts() {
    let (out, host) = call(
        MemoryFs::default(),
        "save_artifact",
        json!({"name": "report.md", "content": "# R"}),
    );
    assert_eq!(
        out.unwrap(),
        json!({"saved": true, "path": "artifacts/report.md", "name": "report.md", "bytes_written": 3,
               "registered": "artifacts/scout/report.md"})
    );
    assert_eq!(host.files["artifacts/report.md"], "# R");
    assert_eq!(host.registered, ["report.md"]);
}

#[test]
fn save_artifact_keeps_the_file_when_registration_fails() {
    let fs = MemoryFs {
        refuse_registration: true,
        ..MemoryFs::default()
    };
    let (out, host) = call(fs, "save_artifact", json!({"name": "r.md", "content": "x"}));
    let out = out.unwrap();
    assert_eq!(out["saved"], true);
    assert_eq!(out["registered"], false);
    assert_eq!(out["registration_error"], "the mesh is unreachable");
    assert_eq!(host.files["artifacts/r.md"], "x");
}

#[test]
fn save_artifact_refuses_names_that_are_not_plain() {
    for name in ["", ".", "../x", "a/b.md", "a\\b", "..", "x..y"] {
        let (out, host) = call(
            MemoryFs::default(),
            "save_artifact",
            json!({"name": name, "content": "x"}),
        );
        assert_eq!(out.unwrap_err(), format!("Invalid artifact name: {name}"));
        assert!(host.files.is_empty());
    }
}

#[test]
fn bad_arguments_name_the_tool_and_field() {
    let (out, _) = call(
        MemoryFs::default(),
        "read_file",
        json!({"path": "a", "limit": -1}),
    );
    assert_eq!(
        out.unwrap_err(),
        "invalid arguments for tool 'read_file': field 'limit': invalid value: integer `-1`, expected u32"
    );
    let (out, _) = call(MemoryFs::default(), "write_file", json!({"path": "a"}));
    assert_eq!(
        out.unwrap_err(),
        "invalid arguments for tool 'write_file': missing field `content`"
    );
}
