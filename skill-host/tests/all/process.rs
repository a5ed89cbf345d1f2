//! `process`: what reaches the agent's `ProcessCap` (bounded, timeout defaulted and
//! capped), and what the host does to its answer (cut to the WIT's limits). The commands
//! themselves run in the agent's implementation, tested in the agent crate.

use std::sync::Arc;
use std::time::Duration;

use openlegion_skill_host::testing::{Recorded, RecordingProcess};
use openlegion_skill_host::{
    Capabilities, Capability, Manifest, ProcessOutput, ProcessRequest, SkillHost, SkillHostSettings,
};
use serde_json::{Value, json};

use crate::support::{TestHost, fixture, shared_cache};

async fn run(t: &TestHost, args: Value) -> Result<Value, String> {
    let mut args = args;
    args["op"] = "run".into();
    t.cap(args)
        .await
        .map(|answer| serde_json::from_str(&answer).unwrap())
}

#[tokio::test]
async fn commands_reach_the_agent_with_the_skills_name_and_a_bounded_timeout() {
    let t = TestHost::new(&[Capability::Process]);
    t.load("echo", "echo", &[Capability::Process]).await;
    let answer = run(&t, json!({"command": "ls -la", "workdir": "/data/src"}))
        .await
        .unwrap();
    assert_eq!(
        answer,
        json!({"exit_code": 0, "stdout": "hello from the sandbox\n", "stderr": "",
               "timed_out": false, "truncated": false})
    );
    run(&t, json!({"command": "sleep 1", "timeout_ms": 4_000_000}))
        .await
        .unwrap();
    run(&t, json!({"command": "true", "timeout_ms": 1500}))
        .await
        .unwrap();
    let request = |command: &str, workdir: Option<&str>, secs: f64| {
        Recorded::Run(
            "echo".into(),
            ProcessRequest {
                command: command.into(),
                workdir: workdir.map(Into::into),
                timeout: Duration::from_secs_f64(secs),
            },
        )
    };
    assert_eq!(
        t.process.calls(),
        [
            request("ls -la", Some("/data/src"), 30.0),
            request("sleep 1", None, 300.0),
            request("true", None, 1.5),
        ]
    );
}

#[tokio::test]
async fn what_a_guest_hands_over_is_bounded() {
    let t = TestHost::new(&[Capability::Process]);
    t.load("echo", "echo", &[Capability::Process]).await;
    let long = run(&t, json!({"command": "x", "repeat": 65_537})).await;
    assert_eq!(
        long,
        Err("command is 65537 bytes, more than the 65536 allowed".into())
    );
    let empty = run(&t, json!({"command": "  "})).await;
    assert_eq!(empty, Err("command is empty".into()));
    let deep = "d/".repeat(2049);
    let workdir = run(&t, json!({"command": "true", "workdir": deep})).await;
    assert_eq!(
        workdir,
        Err("workdir is 4098 bytes, more than the 4096 allowed".into())
    );
    assert!(t.process.calls().is_empty());
}

#[tokio::test]
async fn the_host_cuts_output_to_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let mut caps = Capabilities::new(dir.path()).allowing([Capability::Process]);
    caps.process = Arc::new(RecordingProcess::replying(ProcessOutput {
        exit_code: 3,
        stdout: "é".repeat(150_000),
        stderr: "short".into(),
        timed_out: false,
        truncated: false,
    }));
    let host = SkillHost::new(SkillHostSettings::new(shared_cache()), caps).unwrap();
    let manifest = Manifest::new("echo", "1").with_capabilities([Capability::Process]);
    host.load_bytes(manifest, fixture("echo")).await.unwrap();
    let answer = host
        .invoke("cap", &json!({"op": "run", "command": "yes"}).to_string())
        .await
        .unwrap();
    let answer: Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(answer["stdout"].as_str().unwrap().chars().count(), 100_000);
    assert_eq!(
        (
            &answer["stderr"],
            &answer["truncated"],
            &answer["exit_code"]
        ),
        (&json!("short"), &json!(true), &json!(3))
    );
}

#[tokio::test]
async fn granted_but_not_implemented_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let caps = Capabilities::new(dir.path()).allowing([Capability::Process]);
    let host = SkillHost::new(SkillHostSettings::new(shared_cache()), caps).unwrap();
    let manifest = Manifest::new("shell", "1").with_capabilities([Capability::Process]);
    let report = host.load_bytes(manifest, fixture("echo")).await.unwrap();
    assert!(report.clipped.is_empty());
    let err = host
        .invoke("cap", &json!({"op": "run", "command": "id"}).to_string())
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "capability 'process' is not granted to skill 'shell'"
    );
}
