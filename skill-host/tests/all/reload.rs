//! Hot reload by polling: new versions swap in while calls in flight finish on the old
//! one, broken versions are refused while the old one keeps serving, and removed
//! directories unload their skill.

use std::time::Duration;

use openlegion_skill_host::{Manifest, SkillHostSettings, ToolError};

use crate::support::{TestHost, eventually, fixture, replace_file, shared_cache, skill_dir};

/// Busy-waiting burns fuel; the calls here are limited by time, not fuel.
const MANIFEST: &str = "name: reload\nversion: '1'\nlimits: { fuel: 1000000000000 }\n";

fn fast_polling() -> SkillHostSettings {
    let mut config = SkillHostSettings::new(shared_cache());
    config.reload_interval = Duration::from_millis(20);
    config
}

/// Compiles `fixture_name` into the shared cache in a throwaway host, so that a reload
/// takes a cache hit (milliseconds) rather than a debug-build Cranelift compile.
async fn precompile(fixture_name: &str) {
    let warm = TestHost::new(&[]);
    warm.host
        .load_bytes(Manifest::new("warm", "1"), fixture(fixture_name))
        .await
        .unwrap();
}

fn sha_of(t: &TestHost, skill: &str) -> Option<String> {
    t.host
        .skills()
        .into_iter()
        .find(|s| s.name == skill)
        .map(|s| s.sha256)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_version_swaps_in_while_a_call_is_in_flight() {
    precompile("reload-v2").await;
    let t = TestHost::with(&[], fast_polling());
    let root = t.dir.path().join("skills");
    let dir = skill_dir(&root, "reload", "reload-v1", MANIFEST);
    assert!(t.host.load_all(&root).await.iter().all(Result::is_ok));
    let v1 = sha_of(&t, "reload").unwrap();
    let watcher = t.host.watch(root.clone());

    let host = t.host.clone();
    let in_flight = tokio::spawn(async move { host.invoke("version", r#"{"ms": 1000}"#).await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    replace_file(&dir.join("skill.wasm"), &fixture("reload-v2"));
    eventually("v2 to be loaded", || {
        sha_of(&t, "reload").is_some_and(|sha| sha != v1)
    })
    .await;
    assert!(
        !in_flight.is_finished(),
        "the swap should happen while the v1 call runs"
    );

    assert_eq!(in_flight.await.unwrap().unwrap(), "v1");
    assert_eq!(
        t.host.invoke("version", r#"{"ms": 0}"#).await.unwrap(),
        "v2"
    );
    watcher.abort();
}

#[tokio::test]
async fn a_broken_version_is_refused_and_the_old_one_keeps_serving() {
    precompile("reload-v2").await;
    let t = TestHost::with(&[], fast_polling());
    let root = t.dir.path().join("skills");
    let dir = skill_dir(&root, "reload", "reload-v2", MANIFEST);
    let watcher = t.host.watch(root.clone());
    eventually("v2 to be loaded", || sha_of(&t, "reload").is_some()).await;
    assert_eq!(t.host.invoke("version", "{}").await.unwrap(), "v2");

    replace_file(
        &dir.join("skill.wasm"),
        b"\0asm\x0d\0\x01\0 corrupt after the header",
    );
    let last_error = || t.host.skills().into_iter().find_map(|s| s.last_error);
    eventually("the error to be reported", || last_error().is_some()).await;
    let error = last_error().unwrap();
    assert!(
        error.starts_with("skill 'reload' does not compile: "),
        "{error}"
    );
    assert_eq!(t.host.invoke("version", "{}").await.unwrap(), "v2");

    // A broken manifest is refused the same way.
    replace_file(&dir.join("skill.wasm"), &fixture("reload-v2"));
    replace_file(&dir.join("skill.yaml"), b"name: reload\nversion: [1\n");
    eventually("the manifest error", || {
        last_error()
            .is_some_and(|e| e.starts_with(&format!("{}:", dir.join("skill.yaml").display())))
    })
    .await;
    assert_eq!(t.host.invoke("version", "{}").await.unwrap(), "v2");
    watcher.abort();
}

#[tokio::test]
async fn directories_that_appear_load_and_those_that_go_unload() {
    precompile("echo").await;
    let t = TestHost::with(&[], fast_polling());
    let root = t.dir.path().join("skills");
    std::fs::create_dir_all(&root).unwrap();
    let watcher = t.host.watch(root.clone());

    let dir = skill_dir(&root, "echo", "echo", "name: echo\nversion: '1'\n");
    eventually("echo to appear", || !t.host.tools().is_empty()).await;
    assert_eq!(t.host.invoke("echo", "[1]").await.unwrap(), "[1]");

    // A manifest change alone reloads too.
    replace_file(&dir.join("skill.yaml"), b"name: echo\nversion: '2'\n");
    eventually("version 2", || {
        t.host.skills().first().is_some_and(|s| s.version == "2")
    })
    .await;

    std::fs::remove_dir_all(&dir).unwrap();
    eventually("echo to go", || t.host.skills().is_empty()).await;
    assert_eq!(
        t.host.invoke("echo", "{}").await.unwrap_err(),
        ToolError::UnknownTool {
            tool: "echo".into()
        }
    );
    watcher.abort();
}

#[tokio::test]
async fn the_watcher_stops_when_the_host_is_dropped() {
    let t = TestHost::with(&[], fast_polling());
    let watcher = t.host.watch(t.dir.path().to_owned());
    drop(t);
    tokio::time::timeout(Duration::from_secs(5), watcher)
        .await
        .expect("the watcher should stop")
        .unwrap();
}
