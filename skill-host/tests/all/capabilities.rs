//! A skill may use what its manifest asks for AND the agent allows (`log` always); every
//! other interface answers with the contract's refusal.

use std::collections::BTreeSet;
use std::time::Duration;

use openlegion_skill_host::testing::Recorded;
use openlegion_skill_host::{
    Capabilities, Capability, HttpRequest, Manifest, SkillHost, SkillHostSettings,
};
use serde_json::json;

use crate::support::{ALL, TestHost, fixture, shared_cache};

const WORKSPACE_REFUSED: &str = "capability 'workspace' is not granted to skill 'echo'";
const HTTP_REFUSED: &str = "capability 'http' is not granted to skill 'echo'";
const MESH_REFUSED: &str = "capability 'mesh' is not granted to skill 'echo'";
const PROCESS_REFUSED: &str = "capability 'process' is not granted to skill 'echo'";

async fn try_each(t: &TestHost) -> [Result<String, String>; 4] {
    [
        t.cap(json!({"op": "write", "path": "a.txt", "contents": "x"}))
            .await,
        t.cap(json!({"op": "fetch", "method": "GET", "url": "https://example.com/"}))
            .await,
        t.cap(json!({"op": "list_agents"})).await,
        t.cap(json!({"op": "run", "command": "echo hello"})).await,
    ]
}

#[tokio::test]
async fn nothing_is_granted_that_the_manifest_did_not_ask_for() {
    let t = TestHost::new(&ALL);
    let report = t.load("echo", "echo", &[]).await;
    assert!(report.clipped.is_empty());
    assert_eq!(
        try_each(&t).await,
        [
            Err(WORKSPACE_REFUSED.into()),
            Err(HTTP_REFUSED.into()),
            Err(MESH_REFUSED.into()),
            Err(PROCESS_REFUSED.into()),
        ]
    );
    assert!(t.mesh.calls().is_empty() && t.http.calls().is_empty());
    assert!(t.process.calls().is_empty());
    assert!(!t.workspace.join("a.txt").exists());
    // `log` needs no grant.
    assert_eq!(
        t.cap(json!({"op": "log", "message": "hi"})).await.unwrap(),
        "logged"
    );
}

#[tokio::test]
async fn what_is_asked_and_allowed_is_granted() {
    let t = TestHost::new(&ALL);
    t.load("echo", "echo", &ALL).await;
    let [write, fetch, agents, run] = try_each(&t).await;
    assert_eq!(write.unwrap(), "1");
    assert_eq!(
        std::fs::read_to_string(t.workspace.join("a.txt")).unwrap(),
        "x"
    );
    let fetch: serde_json::Value = serde_json::from_str(&fetch.unwrap()).unwrap();
    assert_eq!(
        fetch,
        json!({"status": 200, "headers": [["content-type", "text/plain"]],
               "body": "hello from the mesh", "truncated": false})
    );
    assert_eq!(agents.unwrap(), "[]");
    let run: serde_json::Value = serde_json::from_str(&run.unwrap()).unwrap();
    assert_eq!(run["stdout"], "hello from the sandbox\n");
    assert_eq!(
        t.http.calls(),
        [Recorded::Fetch(
            "echo".into(),
            HttpRequest {
                method: "GET".into(),
                url: "https://example.com/".into(),
                headers: vec![("x-test".into(), "1".into())],
                body: None,
                timeout: Duration::from_secs(30),
            }
        )]
    );
}

#[tokio::test]
async fn the_agents_permissions_clip_the_manifest() {
    let t = TestHost::new(&[Capability::Workspace]);
    let report = t.load("echo", "echo", &ALL).await;
    assert_eq!(
        report.clipped,
        [Capability::Http, Capability::Mesh, Capability::Process]
    );
    let [write, fetch, agents, run] = try_each(&t).await;
    assert_eq!(write.unwrap(), "1");
    assert_eq!(fetch, Err(HTTP_REFUSED.into()));
    assert_eq!(agents, Err(MESH_REFUSED.into()));
    assert_eq!(run, Err(PROCESS_REFUSED.into()));
    assert!(t.process.calls().is_empty());
    let info = &t.host.skills()[0];
    assert_eq!(
        info.granted,
        BTreeSet::from([Capability::Log, Capability::Workspace])
    );
    assert_eq!(
        info.clipped,
        BTreeSet::from([Capability::Http, Capability::Mesh, Capability::Process])
    );
}

#[tokio::test]
async fn the_default_capability_implementations_refuse() {
    let dir = tempfile::tempdir().unwrap();
    let caps = Capabilities::new(dir.path()).allowing(ALL);
    let host = SkillHost::new(SkillHostSettings::new(shared_cache()), caps).unwrap();
    let manifest = Manifest::new("echo", "1").with_capabilities(ALL);
    host.load_bytes(manifest, fixture("echo")).await.unwrap();
    let call = |args: serde_json::Value| {
        let host = host.clone();
        async move {
            host.invoke("cap", &args.to_string())
                .await
                .unwrap_err()
                .to_string()
        }
    };
    assert_eq!(
        call(json!({"op": "read_state", "key": "k"})).await,
        MESH_REFUSED
    );
    assert_eq!(
        call(json!({"op": "fetch", "method": "GET", "url": "x"})).await,
        HTTP_REFUSED
    );
    assert_eq!(
        call(json!({"op": "run", "command": "id"})).await,
        PROCESS_REFUSED
    );
}

#[tokio::test]
async fn mesh_calls_carry_the_skills_name_and_arguments() {
    let t = TestHost::new(&ALL);
    t.load("echo", "echo", &[Capability::Mesh]).await;
    let entry = t
        .cap(json!({"op": "write_state", "key": "notes/a", "value": r#"{"n":1}"#, "ttl": 60}))
        .await
        .unwrap();
    assert_eq!(entry, r#"{"key":"notes/a","value":{"n":1},"version":1}"#);
    assert_eq!(
        t.cap(json!({"op": "read_state", "key": "notes/a"}))
            .await
            .unwrap(),
        entry
    );
    assert_eq!(
        t.cap(json!({"op": "read_state", "key": "none/here"}))
            .await
            .unwrap(),
        "none"
    );
    assert_eq!(
        t.cap(json!({"op": "publish", "topic": "done", "payload": "{}"}))
            .await
            .unwrap(),
        "1"
    );
    assert_eq!(
        t.cap(json!({"op": "send_message", "to": "capability:research", "kind": "query", "payload": "{}"}))
            .await
            .unwrap(),
        r#"{"status":"delivered"}"#
    );
    assert_eq!(
        t.mesh.calls(),
        [
            Recorded::WriteState(
                "echo".into(),
                "notes/a".into(),
                r#"{"n":1}"#.into(),
                Some(60)
            ),
            Recorded::ReadState("echo".into(), "notes/a".into()),
            Recorded::ReadState("echo".into(), "none/here".into()),
            Recorded::Publish("echo".into(), "done".into(), "{}".into()),
            Recorded::SendMessage(
                "echo".into(),
                "capability:research".into(),
                "query".into(),
                "{}".into()
            ),
        ]
    );
}

#[tokio::test]
async fn what_a_guest_hands_over_is_bounded() {
    let t = TestHost::new(&ALL);
    t.load("echo", "echo", &ALL).await;
    let long_key = t
        .cap(json!({"op": "read_state", "key": "k", "repeat": 600}))
        .await;
    assert_eq!(
        long_key,
        Err("key is 600 characters, more than the 512 allowed".into())
    );
    let not_object = t
        .cap(json!({"op": "write_state", "key": "k", "value": "[1,2]"}))
        .await;
    assert_eq!(not_object, Err("value-json must be a JSON object".into()));
    let long_url = t
        .cap(json!({"op": "fetch", "method": "GET", "url": "u", "repeat": 9000}))
        .await;
    assert_eq!(
        long_url,
        Err("url is 9000 bytes, more than the 8192 allowed".into())
    );
    let big_write = t
        .cap(json!({"op": "write", "path": "big.txt", "contents": "0123456789abcdef", "repeat": 655_361}))
        .await;
    assert_eq!(
        big_write,
        Err("Content too large: 10485776 bytes, at most 10485760 per write".into())
    );
    assert!(t.mesh.calls().is_empty() && t.http.calls().is_empty());
    // Long log lines are cut by the host, not refused.
    assert_eq!(
        t.cap(json!({"op": "log", "message": "x", "repeat": 100_000}))
            .await
            .unwrap(),
        "logged"
    );
}

#[tokio::test]
async fn response_bodies_are_cut_at_one_mebibyte() {
    let dir = tempfile::tempdir().unwrap();
    let mut caps = Capabilities::new(dir.path()).allowing(ALL);
    caps.http = std::sync::Arc::new(openlegion_skill_host::testing::RecordingHttp::replying(
        openlegion_skill_host::HttpResponse {
            status: 200,
            headers: vec![],
            body: "é".repeat(600_000),
            truncated: false,
        },
    ));
    let host = SkillHost::new(SkillHostSettings::new(shared_cache()), caps).unwrap();
    let manifest = Manifest::new("echo", "1").with_capabilities([Capability::Http]);
    host.load_bytes(manifest, fixture("echo")).await.unwrap();
    let answer = host
        .invoke(
            "cap",
            &json!({"op": "fetch", "method": "GET", "url": "x"}).to_string(),
        )
        .await
        .unwrap();
    let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(answer["truncated"], true);
    assert_eq!(answer["body"].as_str().unwrap().len(), 1024 * 1024);
}
