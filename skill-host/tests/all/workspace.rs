//! The `workspace` interface through a real guest: the original platform's path rules
//! and texts (acceptance cases 55-57, 59 and 72), symlink escapes, identity files and the
//! read and list limits.

use std::path::Path;

use openlegion_skill_host::Capability;
use serde_json::json;

use crate::support::TestHost;

async fn host() -> TestHost {
    let t = TestHost::new(&[Capability::Workspace]);
    t.load("echo", "echo", &[Capability::Workspace]).await;
    t
}

async fn read(t: &TestHost, path: &str) -> Result<String, String> {
    t.cap(json!({"op": "read", "path": path})).await
}

async fn write(t: &TestHost, path: &str, contents: &str) -> Result<String, String> {
    t.cap(json!({"op": "write", "path": path, "contents": contents}))
        .await
}

async fn list(
    t: &TestHost,
    path: &str,
    pattern: Option<&str>,
    recursive: bool,
) -> Result<Vec<String>, String> {
    let answer = t
        .cap(json!({"op": "list", "path": path, "pattern": pattern, "recursive": recursive}))
        .await?;
    let entries: Vec<serde_json::Value> = serde_json::from_str(&answer).unwrap();
    Ok(entries
        .iter()
        .map(|e| e["path"].as_str().unwrap().to_owned())
        .collect())
}

/// Case 55.
#[tokio::test]
async fn traversal_and_absolute_paths_are_refused() {
    let t = host().await;
    assert_eq!(
        read(&t, "../../etc/passwd").await,
        Err("Path traversal not allowed: ../../etc/passwd".into())
    );
    assert_eq!(
        read(&t, "/etc/passwd").await,
        Err("Absolute paths not allowed: /etc/passwd".into())
    );
    assert_eq!(
        read(&t, "/data/../etc/passwd").await,
        Err("Path traversal not allowed: /data/../etc/passwd".into())
    );
    assert_eq!(write(&t, "/data/session_log.md", "ok").await.unwrap(), "2");
    assert_eq!(read(&t, "/data/session_log.md").await.unwrap(), "ok");
    assert_eq!(
        std::fs::read_to_string(t.workspace.join("session_log.md")).unwrap(),
        "ok"
    );
    // Case 72: the suffix collision of the first version of the platform.
    assert_eq!(
        write(&t, "../data_evil/x", "no").await,
        Err("Path traversal not allowed: ../data_evil/x".into())
    );
    assert!(!t.dir.path().join("data_evil").exists());
}

/// Case 59, through `list_files`.
#[tokio::test]
async fn the_root_helper_cases() {
    let t = host().await;
    for path in ["../escape.txt", "sub/../../escape.txt"] {
        assert_eq!(
            write(&t, path, "x").await,
            Err(format!("Path traversal not allowed: {path}"))
        );
    }
    assert_eq!(
        list(&t, "/etc/passwd", None, false).await,
        Err("Absolute paths not allowed: /etc/passwd".into())
    );
    write(&t, "top.txt", "x").await.unwrap();
    assert_eq!(list(&t, "", None, false).await.unwrap(), ["top.txt"]);
    assert_eq!(list(&t, "/data", None, false).await.unwrap(), ["top.txt"]);
}

/// Case 56.
#[tokio::test]
async fn identity_files_are_refused_at_the_top_of_workspace_only() {
    let t = host().await;
    for name in [
        "SOUL",
        "AGENTS",
        "INSTRUCTIONS",
        "HEARTBEAT",
        "USER",
        "MEMORY",
    ] {
        let path = format!("workspace/{name}.md");
        let err = write(&t, &path, "evil").await.unwrap_err();
        assert_eq!(
            err,
            format!(
                "Cannot write {path}: it is one of the agent's identity files \
                 (workspace/SOUL.md, AGENTS.md, INSTRUCTIONS.md, HEARTBEAT.md, USER.md, MEMORY.md); \
                 use update_workspace to change it"
            )
        );
        assert!(!t.workspace.join(&path).exists());
    }
    assert_eq!(
        write(&t, "/data/workspace/SOUL.md", "x")
            .await
            .map_err(|e| e.contains("identity files")),
        Err(true)
    );
    assert_eq!(write(&t, "workspace/notes.md", "hi").await.unwrap(), "2");
    assert_eq!(
        write(&t, "workspace/subdir/SOUL.md", "ok").await.unwrap(),
        "2"
    );
    // A symlinked alias of workspace/ is the same directory.
    std::os::unix::fs::symlink(t.workspace.join("workspace"), t.workspace.join("ws")).unwrap();
    assert!(
        write(&t, "ws/SOUL.md", "x")
            .await
            .unwrap_err()
            .contains("identity files")
    );
}

/// Case 57, and the append flag.
#[tokio::test]
async fn reads_count_lines_and_writes_append() {
    let t = host().await;
    write(&t, "notes/log.txt", "line0\nline1\n").await.unwrap();
    t.cap(json!({"op": "write", "path": "notes/log.txt", "contents": "line2\nline3\n", "append": true}))
        .await
        .unwrap();
    let part = t
        .cap(json!({"op": "read", "path": "notes/log.txt", "offset": 1, "limit": 2}))
        .await
        .unwrap();
    assert_eq!(part, "line1\nline2\n");
    assert!(!part.contains("line0"));
    assert_eq!(
        read(&t, "notes/missing.txt").await,
        Err("File not found: notes/missing.txt".into())
    );
    assert_eq!(read(&t, "notes").await, Err("Not a file: notes".into()));
}

#[tokio::test]
async fn reads_return_at_most_500000_characters() {
    let t = host().await;
    std::fs::write(t.workspace.join("big.txt"), "ab\n".repeat(200_000)).unwrap();
    assert_eq!(read(&t, "big.txt").await.unwrap().chars().count(), 500_000);
}

#[tokio::test]
async fn symlinks_leading_outside_are_refused() {
    let t = host().await;
    let outside = t.dir.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("secret.txt"), "secret").unwrap();
    let link = |target: &Path, name: &str| {
        std::os::unix::fs::symlink(target, t.workspace.join(name)).unwrap()
    };
    link(&outside.join("secret.txt"), "leak.txt");
    link(&outside, "outdir");
    link(Path::new("/etc"), "etc");

    assert_eq!(
        read(&t, "leak.txt").await,
        Err("Symlink escapes allowed root: leak.txt".into())
    );
    assert_eq!(
        read(&t, "outdir/secret.txt").await,
        Err("Symlink escapes allowed root: outdir/secret.txt".into())
    );
    assert_eq!(
        write(&t, "outdir/planted.txt", "x").await,
        Err("Symlink escapes allowed root: outdir/planted.txt".into())
    );
    assert!(!outside.join("planted.txt").exists());
    assert_eq!(
        read(&t, "etc/passwd").await,
        Err("Symlink escapes allowed root: etc/passwd".into())
    );
    assert_eq!(
        list(&t, "outdir", None, false).await,
        Err("Symlink escapes allowed root: outdir".into())
    );
    // Listing the root shows the links, but never descends into them.
    let listed = list(&t, "", None, true).await.unwrap();
    assert_eq!(listed, ["etc", "leak.txt", "outdir"]);

    // A link that stays inside works.
    write(&t, "real/inside.txt", "fine").await.unwrap();
    link(&t.workspace.join("real"), "alias");
    assert_eq!(read(&t, "alias/inside.txt").await.unwrap(), "fine");
}

#[tokio::test]
async fn listings_are_filtered_and_capped_at_500() {
    let t = host().await;
    for i in 0..520 {
        std::fs::write(t.workspace.join(format!("f{i:03}.txt")), "").unwrap();
    }
    std::fs::create_dir(t.workspace.join("sub")).unwrap();
    std::fs::write(t.workspace.join("sub/deep.md"), "12345").unwrap();
    assert_eq!(list(&t, "", None, true).await.unwrap().len(), 500);
    assert_eq!(
        list(&t, "", Some("*.md"), true).await.unwrap(),
        ["sub/deep.md"]
    );
    assert_eq!(
        list(&t, "", Some("*.md"), false).await.unwrap(),
        Vec::<String>::new()
    );
    let entries: Vec<serde_json::Value> =
        serde_json::from_str(&t.cap(json!({"op": "list", "path": "sub"})).await.unwrap()).unwrap();
    assert_eq!(
        entries,
        [json!({"path": "sub/deep.md", "is_dir": false, "size": 5})]
    );
    assert_eq!(
        list(&t, "", Some("../*"), true).await,
        Err("Path traversal not allowed: ../*".into())
    );
    assert_eq!(
        list(&t, "", Some("sub/../../*"), true).await,
        Err("Path traversal not allowed: sub/../../*".into())
    );
    assert_eq!(
        list(&t, "nope", None, false).await,
        Err("Directory not found: nope".into())
    );
}
