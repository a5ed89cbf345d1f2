//! Loading: manifests, what a component may import, what it describes, and the tool
//! namespace shared by all skills.

use openlegion_skill_host::{Capability, HostError, LimitsOverride, Manifest, ToolError};
use serde_json::json;

use crate::support::{TestHost, fixture, skill_dir};

#[tokio::test]
async fn tools_are_listed_with_their_schemas_and_skill() {
    let t = TestHost::new(&[]);
    let report = t.load("echo", "echo", &[]).await;
    assert_eq!(report.tools, ["echo", "cap"]);
    assert!(!report.replaced);
    let tools = t.host.tools();
    assert_eq!(tools.len(), 2);
    assert_eq!(tools[1].name, "echo");
    assert_eq!(tools[1].description, "Returns its arguments.");
    assert_eq!(tools[1].parameters, json!({"type": "object"}));
    assert_eq!(tools[1].skill, "echo");
    let info = &t.host.skills()[0];
    assert_eq!(
        (info.name.as_str(), info.version.as_str()),
        ("echo", "0.1.0")
    );
    assert_eq!(info.sha256.len(), 64);
    assert_eq!(info.limits, openlegion_skill_host::Limits::default());
    assert_eq!(info.last_error, None);
}

#[tokio::test]
async fn a_skill_directory_loads_with_its_manifest() {
    let t = TestHost::new(&[Capability::Workspace]);
    let root = t.dir.path().join("skills");
    let dir = skill_dir(
        &root,
        "notes",
        "echo",
        "name: notes\nversion: 1.2.0\ndescription: Echoes.\ncapabilities: [workspace]\n\
         limits: { fuel: 5000000, memory_mib: 32, timeout_ms: 2000 }\n",
    );
    let report = t.host.load_dir(&dir).await.unwrap();
    assert_eq!(
        (report.skill.as_str(), report.version.as_str()),
        ("notes", "1.2.0")
    );
    let info = &t.host.skills()[0];
    assert_eq!(info.description.as_deref(), Some("Echoes."));
    assert_eq!(info.limits.fuel, 5_000_000);
    assert_eq!(info.limits.memory_bytes, 32 << 20);
    assert_eq!(info.limits.timeout.as_millis(), 2000);
    assert_eq!(info.source.as_deref(), Some(dir.as_path()));
    assert_eq!(
        t.cap(json!({"op": "write", "path": "n.txt", "contents": "abc"}))
            .await
            .unwrap(),
        "3"
    );
}

#[tokio::test]
async fn manifest_errors_name_the_file_the_line_and_the_field() {
    let t = TestHost::new(&[]);
    let root = t.dir.path().join("skills");
    let cases = [
        (
            "name: x\nversion: '1'\nlimits:\n  fuel: lots\n",
            4,
            "limits.fuel",
        ),
        ("name: x\nversion: '1'\ncolour: blue\n", 3, "colour"),
        (
            "name: x\nversion: '1'\ncapabilities: [log, root]\n",
            3,
            "capabilities[1]",
        ),
        ("name: no spaces\nversion: '1'\n", 1, "name"),
        ("version: '1'\n", 1, "(document)"),
    ];
    for (yaml, line, field) in cases {
        let dir = skill_dir(&root, "bad", "echo", yaml);
        let err = t.host.load_dir(&dir).await.unwrap_err();
        let HostError::Manifest {
            path,
            line: got_line,
            field: got_field,
            message,
            ..
        } = &err
        else {
            panic!("{yaml}: {err:?}")
        };
        assert_eq!(path, &dir.join("skill.yaml"));
        assert_eq!(
            (*got_line, got_field.as_str()),
            (line, field),
            "{yaml}: {message}"
        );
        let text = err.to_string();
        assert!(
            text.starts_with(&format!("{}:{line}:", path.display())),
            "{text}"
        );
    }
    assert!(t.host.skills().is_empty());
}

#[tokio::test]
async fn limits_beyond_the_host_maximum_are_refused() {
    let t = TestHost::new(&[]);
    let manifest = Manifest::new("big", "1").with_limits(LimitsOverride {
        memory_mib: Some(1024),
        ..LimitsOverride::default()
    });
    let err = t
        .host
        .load_bytes(manifest, fixture("echo"))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "skill 'big': memory must be between 1 byte and 256 MiB, not 1024 MiB"
    );
    let err = t
        .host
        .load_bytes(Manifest::new("a/b", "1"), fixture("echo"))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "skill 'a/b': name: invalid name \"a/b\": use 1 to 64 of a-z A-Z 0-9 _ -"
    );
}

#[tokio::test]
async fn imports_outside_the_skill_package_and_wasi_are_refused() {
    let t = TestHost::new(&[]);
    let err = t
        .host
        .load_bytes(Manifest::new("bad", "1"), fixture("bad-import"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, HostError::ForbiddenImport { import, .. } if import == "evil:net/socket@0.1.0"),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "skill 'bad' imports 'evil:net/socket@0.1.0': only openlegion:skill and wasi interfaces are allowed"
    );
    assert!(t.host.tools().is_empty());
}

#[tokio::test]
async fn core_modules_garbage_and_truncated_components_are_clear_errors() {
    let t = TestHost::new(&[]);
    let load = |bytes: Vec<u8>| t.host.load_bytes(Manifest::new("x", "1"), bytes);
    let core = load(b"\0asm\x01\0\0\0".to_vec()).await.unwrap_err();
    assert_eq!(
        core.to_string(),
        "skill 'x' is not a WebAssembly component: it is a core WebAssembly module; build a \
         component (cargo build --target wasm32-wasip2, or wasm-tools component new)"
    );
    let garbage = load(b"#!/bin/sh\nrm -rf /\n".to_vec()).await.unwrap_err();
    assert_eq!(
        garbage.to_string(),
        "skill 'x' is not a WebAssembly component: the file is not WebAssembly (no \\0asm header)"
    );
    let mut truncated = fixture("echo");
    truncated.truncate(truncated.len() / 3);
    let err = load(truncated).await.unwrap_err();
    assert!(matches!(err, HostError::Compile { .. }), "{err:?}");
    assert!(
        err.to_string().starts_with("skill 'x' does not compile: "),
        "{err}"
    );
}

#[tokio::test]
async fn a_tool_name_belongs_to_one_skill() {
    let t = TestHost::new(&[]);
    t.load("echo", "echo", &[]).await;
    let err = t
        .host
        .load_bytes(Manifest::new("echo2", "1"), fixture("echo"))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "skill 'echo2' offers tool 'echo', which skill 'echo' already offers"
    );
    assert_eq!(t.host.skills().len(), 1);
    // Reloading the same skill is not a conflict.
    assert!(t.load("echo", "echo", &[]).await.replaced);
}

#[tokio::test]
async fn a_removed_skill_takes_its_tools_along() {
    let t = TestHost::new(&[]);
    t.load("echo", "echo", &[]).await;
    assert!(t.host.remove("echo"));
    assert!(!t.host.remove("echo"));
    assert_eq!(
        t.host.invoke("echo", "{}").await.unwrap_err(),
        ToolError::UnknownTool {
            tool: "echo".into()
        }
    );
    assert!(t.host.tools().is_empty());
}

#[tokio::test]
async fn load_all_loads_every_skill_and_reports_each_failure() {
    let t = TestHost::new(&[]);
    let root = t.dir.path().join("skills");
    skill_dir(&root, "a-echo", "echo", "name: echo\nversion: '1'\n");
    skill_dir(&root, "b-boom", "boom", "name: boom\nversion: '1'\n");
    let broken = skill_dir(&root, "c-broken", "spin", "name: spin\nversion: '1'\n");
    std::fs::write(broken.join("skill.wasm"), b"garbage").unwrap();
    std::fs::create_dir_all(root.join("not-a-skill")).unwrap();
    let results = t.host.load_all(&root).await;
    assert_eq!(results.len(), 3);
    assert_eq!(results[0].as_ref().unwrap().skill, "echo");
    assert_eq!(results[1].as_ref().unwrap().skill, "boom");
    assert!(
        results[2]
            .as_ref()
            .unwrap_err()
            .to_string()
            .starts_with("skill 'spin' is not a WebAssembly component"),
        "{:?}",
        results[2]
    );
    let names: Vec<String> = t.host.skills().into_iter().map(|s| s.name).collect();
    assert_eq!(names, ["boom", "echo"]);
}
