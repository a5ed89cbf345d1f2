//! A full disk (ENOSPC) under the mesh's state directory and under an agent's data
//! directory, each a small tmpfs filled to the last byte (see SECURITY.md, Crash safety):
//! every write that cannot be stored gets a clear error (the mesh answers 507 with a
//! detail naming the full disk; the agent's tools tell the model "No space left on
//! device"), both processes stay up, nothing stored before is damaged or lost, and once
//! space is freed writes work again.

use std::path::Path;

use openlegion_mock_llm::{MockLlm, ToolCall, Turn};
use openlegion_tests::{Client, MODEL_NAME, MeshProcess, SmallDisk, agent_mesh_in, skip};
use serde_json::{Value, json};

/// Size of the mesh's state directory: its database, the agent's compiled skills and log.
const MESH_MIB: u64 = 96;
/// Size of the agent's data directory: its memory database, workspace and index.
const AGENT_MIB: u64 = 8;

/// The tool outputs of one chat turn in which the model makes `calls`, then answers.
async fn tools(mesh: &MeshProcess, mock: &MockLlm, calls: Vec<ToolCall>) -> Vec<String> {
    mock.script(
        Some(MODEL_NAME),
        [Turn::tool_calls(calls), Turn::text("done")],
    );
    crate::outputs(&mesh.chat("a", "go").await)
}

fn call(tool: &str, args: Value) -> ToolCall {
    ToolCall::new(tool, args)
}

/// Writes a file and saves a fact through the agent's tools; both must succeed.
async fn write_and_save(
    mesh: &MeshProcess,
    mock: &MockLlm,
    (path, content): (&str, &str),
    (key, value): (&str, &str),
) {
    let out = tools(
        mesh,
        mock,
        vec![
            call("write_file", json!({"path": path, "content": content})),
            call("memory_save", json!({"key": key, "value": value})),
        ],
    )
    .await;
    assert!(!out.iter().any(|o| o.starts_with("Error")), "{out:?}");
}

/// Runs `PRAGMA integrity_check` on the SQLite database at `path` (read-only, beside its
/// running owner).
fn integrity(path: &Path) -> String {
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap()
}

/// Sends requests made by `send(i)` until one is not a 2xx (at most `max`); returns how many
/// were acknowledged and the refusal, which must be the mesh's 507.
async fn until_refused<F, Fut>(max: usize, mut send: F) -> usize
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = openlegion_tests::Reply>,
{
    for i in 0..max {
        let reply = send(i).await;
        if reply.status == 200 || reply.status == 201 {
            continue;
        }
        assert_eq!(reply.status, 507, "{}", reply.body);
        let detail = reply.body["detail"].as_str().unwrap_or_default();
        assert!(detail.contains("No space left on device"), "{detail}");
        return i;
    }
    panic!("{max} writes were stored on a full disk");
}

#[tokio::test]
async fn a_full_disk_refuses_writes_clearly_keeps_what_was_stored_and_recovers() {
    let root = tempfile::tempdir().unwrap();
    let state = root.path().join(".openlegion");
    let mesh_disk = match SmallDisk::mount(&state, MESH_MIB) {
        Ok(disk) => disk,
        Err(e) => {
            skip(
                "a_full_disk_refuses_writes_clearly_keeps_what_was_stored_and_recovers",
                &format!("a small file system to fill ({e})"),
                "run the tests as root, as CI does",
            );
            return;
        }
    };
    let agent_disk = SmallDisk::mount(&state.join("agents/a/data"), AGENT_MIB).unwrap();
    let mock = MockLlm::start().await;
    let mesh = agent_mesh_in(
        root.path(),
        &mock,
        "agents:\n  a:\n    role: writer\n",
        json!({"default": {"blackboard_read": ["*"], "blackboard_write": ["*"], "can_message": ["*"]}}),
        "",
    )
    .await;
    let pid = mesh.agent_pid("a");
    let data = mesh.agent_data("a");

    // The agent's disk full: its file and memory writes fail clearly, nothing else does.
    write_and_save(
        &mesh,
        &mock,
        ("before.txt", "written before"),
        ("before", "saved before the disk filled"),
    )
    .await;
    let took = agent_disk.fill();
    eprintln!("the agent's disk filled with {took} bytes");
    let big = "y".repeat(64 * 1024);
    let mut calls = vec![
        call("write_file", json!({"path": "before.txt", "content": big})),
        call("write_file", json!({"path": "new.txt", "content": "z"})),
        call(
            "write_file",
            json!({"path": "before.txt", "content": "more", "append": true}),
        ),
    ];
    for i in 0..20 {
        calls.push(call(
            "memory_save",
            json!({"key": format!("full-{i}"), "value": format!("{i} {}", "w".repeat(8000))}),
        ));
    }
    let out = tools(&mesh, &mock, calls).await;
    for o in &out[..3] {
        assert!(
            o.starts_with("Error: No space left on device: cannot write"),
            "{o}"
        );
    }
    let saves = &out[3..];
    let refused = saves
        .iter()
        .position(|o| o.starts_with("Error"))
        .unwrap_or_else(|| panic!("every fact was saved on a full disk: {saves:?}"));
    assert!(
        saves[refused].starts_with("Error: No space left on device"),
        "{}",
        saves[refused]
    );
    let out = tools(
        &mesh,
        &mock,
        vec![
            call("read_file", json!({"path": "before.txt"})),
            call(
                "memory_recall",
                json!({"query": "saved before the disk filled"}),
            ),
            call(
                "memory_search",
                json!({"query": "saved before the disk filled"}),
            ),
        ],
    )
    .await;
    assert!(out[0].contains("written before"), "{out:?}");
    assert!(out[1].contains("saved before the disk filled"), "{out:?}");
    assert!(out[2].contains("saved before the disk filled"), "{out:?}");
    assert_eq!(mesh.agent_pid("a"), pid, "the agent process stayed up");
    assert_eq!(integrity(&data.join("memory.db")), "ok");
    assert!(
        !std::fs::read_dir(&data)
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().contains(".partial-")),
        "a failed write left its temporary file"
    );
    agent_disk.free();
    write_and_save(
        &mesh,
        &mock,
        ("after.txt", "written after"),
        ("after", "saved after space was freed"),
    )
    .await;
    assert_eq!(
        std::fs::read_to_string(data.join("after.txt")).unwrap(),
        "written after"
    );
    eprintln!(
        "agent's disk full: 3 file writes and fact {} of 20 refused with 'No space left on device'",
        refused + 1
    );

    // The mesh's disk full: blackboard writes and messages answer 507, reads go on.
    let w = mesh.agent("w").await;
    let r = mesh.agent("r").await;
    w.put("/mesh/blackboard/keep/before", &json!({"v": "before"}))
        .await
        .expect(200);
    message(&w, "before").await.expect(200);
    let took = mesh_disk.fill();
    eprintln!("the mesh's disk filled with {took} bytes");
    let value = json!({"v": "x".repeat(16 * 1024)});
    let stored = until_refused(2000, |i| {
        let (w, value) = (w.clone(), value.clone());
        async move {
            w.put(&format!("/mesh/blackboard/keep/full-{i:04}"), &value)
                .await
        }
    })
    .await;
    let sent = until_refused(2000, |i| {
        let w = w.clone();
        async move { message(&w, &format!("full-{i}")).await }
    })
    .await;
    mesh.anonymous().get("/mesh/health").await.expect(200);
    let before = w.get("/mesh/blackboard/keep/before").await.expect(200);
    assert_eq!(before["value"]["v"], "before");
    for i in 0..stored {
        let entry = w
            .get(&format!("/mesh/blackboard/keep/full-{i:04}"))
            .await
            .expect(200);
        assert_eq!(entry["value"], value);
    }
    assert_eq!(integrity(&mesh.state_dir().join("mesh.db")), "ok");
    mesh_disk.free();
    w.put("/mesh/blackboard/keep/after", &json!({"v": "after"}))
        .await
        .expect(200);
    message(&w, "after").await.expect(200);
    let inbox = r.get("/mesh/inbox?limit=5000").await.expect(200);
    let texts: Vec<String> = inbox["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["message"]["payload"]["text"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(texts.len(), sent + 2, "{texts:?}");
    assert_eq!(texts.first().map(String::as_str), Some("before"));
    assert_eq!(texts.last().map(String::as_str), Some("after"));
    assert_eq!(mesh.agent_pid("a"), pid, "the agent process stayed up");
    eprintln!(
        "mesh's disk full: {stored} blackboard writes and {sent} messages stored, then 507; all readable after"
    );
    drop(mesh);
    drop(agent_disk);
    drop(mesh_disk);
}

/// A message from `from` to `r`.
async fn message(from: &Client, text: &str) -> openlegion_tests::Reply {
    from.post(
        "/mesh/message",
        &json!({"to": "r", "type": "event", "payload": {"text": text}}),
    )
    .await
}
