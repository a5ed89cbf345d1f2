//! The escape suite: what an agent's own commands try, inside each container backend, to
//! get out or to hurt the others — find the engine's socket, another agent's files or
//! sockets, the mesh's state or its provider key; fork without end; eat all memory — and
//! that each attempt fails or is stopped by the agent's limits while the mesh and the
//! other agent go on answering. (The lockdown itself — user, capabilities, read-only root,
//! only `lo`, no listener of this machine reachable — is `containers::check_lockdown`; the
//! microVM's is in `microvm`.)
//!
//! Secrets are searched for by values the probe builds at run time, so the probe's own
//! text (which the agent keeps in its history, under /data) is never a hit.

use std::time::Duration;

use openlegion_mock_llm::{MockLlm, Turn};
use openlegion_tests::docker::{docker_available, engine_shared, gvisor_available};
use openlegion_tests::{MODEL_NAME, MeshProcess, agent_mesh_env, container_runtime};
use serde_json::json;

use crate::containers::{exec, field, permissions};

/// Two agents on separate mock models, so their scripted turns never cross.
const TWO: &str = "agents:\n  alpha:\n    role: tester\n    resources:\n      memory_limit: 256m\n      cpu_limit: 0.5\n  beta:\n    role: tester\n    model: openai/mock-beta\n    resources:\n      memory_limit: 256m\n      cpu_limit: 0.5\n";
const BETA_MODEL: &str = "mock-beta";
/// Beta's file, and the provider key, split so that no text the probe carries holds them.
const MARKER_HEAD: &str = "beta-only";
const MARKER_TAIL: &str = "7f3a91c2";
const KEY_HEAD: &str = "sk-escape-suite";
const KEY_TAIL: &str = "5b0d4e8f1a";
/// Processes the fork probe tries to start, well past the 256 the containers allow.
const FORKS: usize = 1000;
const FAST_HEALTH: &str = "  health_interval_ms: 250\n  restart_backoff_ms: 250\n";

async fn two_agents(mock: &MockLlm, isolation: &str) -> MeshProcess {
    agent_mesh_env(
        mock,
        TWO,
        permissions(),
        &container_runtime(isolation, FAST_HEALTH),
        vec![(
            "OPENLEGION_CRED_OPENAI_API_KEY".into(),
            format!("{KEY_HEAD}{KEY_TAIL}"),
        )],
    )
    .await
}

/// Beta says something through the mock, its own model: the mesh and beta still work.
async fn beta_answers(mesh: &MeshProcess, mock: &MockLlm, text: &str) {
    mock.push_for(BETA_MODEL, Turn::text(text));
    let reply = mesh
        .chat_within("beta", "still there?", Duration::from_secs(120))
        .await;
    assert_eq!(reply["response"], text, "beta: {reply}\n{}", mesh.log());
}

/// The attempts, from alpha, with beta's file in place. `pids_limited` says whether the
/// backend enforces the container's process limit inside (runc does; gVisor's sandbox
/// counts its own tasks, not the host's).
async fn attempts(mesh: &MeshProcess, mock: &MockLlm, pids_limited: bool) {
    // Beta keeps a file of its own.
    mock.push_for(
        BETA_MODEL,
        Turn::tool_call(
            "write_file",
            json!({"path": "mine.md", "content": format!("{MARKER_HEAD}{MARKER_TAIL}")}),
        ),
    );
    mock.push_for(BETA_MODEL, Turn::text("kept"));
    let reply = mesh.chat("beta", "keep this").await;
    assert_eq!(reply["response"], "kept", "{reply}");

    let state = mesh.state_dir().display().to_string();
    let probe = format!(
        r#"marker="{MARKER_HEAD}$(printf '')"'{MARKER_TAIL}'
key="{KEY_HEAD}$(printf '')"'{KEY_TAIL}'
echo "engine_sockets=$(ls /var/run/docker.sock /run/docker.sock /run/containerd/containerd.sock /var/run/containerd/containerd.sock 2>/dev/null | wc -l)"
echo "sockets_anywhere=$(find / \( -path /proc -o -path /sys -o -path /run/mesh \) -prune -o -type s -print 2>/dev/null | wc -l)"
echo "run_mesh=$(ls /run/mesh | tr '\n' ' ')"
echo "mounts=$(awk '{{print $2}}' /proc/mounts | tr '\n' ' ')"
echo "marker_hits=$(grep -rls "$marker" / --exclude-dir=proc --exclude-dir=sys --exclude-dir=dev 2>/dev/null | wc -l)"
echo "key_hits=$(grep -rls "$key" / --exclude-dir=proc --exclude-dir=sys --exclude-dir=dev 2>/dev/null | wc -l)"
echo "key_in_environ=$(cat /proc/[0-9]*/environ 2>/dev/null | tr '\0' '\n' | grep -c "$key")"
if [ -e "{state}" ]; then echo mesh_state=visible; else echo mesh_state=absent; fi"#
    );
    let result = exec(mesh, mock, "alpha", &probe).await;
    let out = result["stdout"].as_str().unwrap();
    assert_eq!(result["exit_code"], 0, "{result}");
    assert_eq!(field(out, "engine_sockets"), "0", "{out}");
    assert_eq!(field(out, "sockets_anywhere"), "0", "{out}");
    // Its own socket directory: its sockets and its compiled-code cache, nothing of beta's.
    let sockets = field(out, "run_mesh");
    assert!(
        sockets
            .split_whitespace()
            .all(|s| ["agent.sock", "mesh.sock", "cache"].contains(&s)),
        "alpha sees more than its own socket directory: {sockets}"
    );
    let mounts = field(out, "mounts");
    assert!(!mounts.contains("beta"), "{mounts}");
    assert_eq!(field(out, "marker_hits"), "0", "beta's file seen:\n{out}");
    assert_eq!(field(out, "key_hits"), "0", "the provider key seen:\n{out}");
    assert_eq!(field(out, "key_in_environ"), "0", "{out}");
    assert_eq!(field(out, "mesh_state"), "absent", "{out}");

    // A bounded fork bomb, while beta is asked something: beta answers, and where the
    // backend counts processes, alpha is held to its limit. The bomb runs in a subshell,
    // which a refused fork ends (status 2); the count after it uses builtins only, since
    // no fork succeeds until the children's 5 s are up.
    let forks = format!(
        r#"( i=0; while [ $i -lt {FORKS} ]; do sleep 5 </dev/null >/dev/null 2>&1 & i=$((i+1)); done ) 2>/dev/null
echo "bomb_exit=$?"
set -- /proc/[0-9]*; echo "procs=$#"
echo forked=done"#
    );
    mock.push_for(
        MODEL_NAME,
        Turn::tool_call("exec", json!({"command": forks, "timeout": 60})),
    );
    mock.push_for(MODEL_NAME, Turn::text("forked"));
    let (reply, ()) = tokio::join!(
        mesh.chat_within("alpha", "fork", Duration::from_secs(180)),
        beta_answers(mesh, mock, "fine during the fork bomb"),
    );
    match reply["tool_outputs"][0]["output"].as_str() {
        Some(output) => {
            let result: serde_json::Value = serde_json::from_str(output).unwrap();
            let out = result["stdout"].as_str().unwrap_or_default();
            assert!(out.contains("forked=done"), "{result}");
            let procs: usize = field(out, "procs").parse().unwrap();
            if pids_limited {
                assert!(procs <= 256, "{procs} processes past a limit of 256");
                assert_eq!(field(out, "bomb_exit"), "2", "a fork was refused: {out}");
            }
            println!("escape: {procs} processes at the bomb's end (pids limited: {pids_limited})");
        }
        // Where the sandbox does not count processes (gVisor's sentry runs them all), a
        // thousand of them keep it from answering its health checks, and the watchdog
        // replaces it: the bomb ends with the sandbox, the turn with no tool output.
        None => {
            assert!(
                !pids_limited && mesh.log().contains("restarting the agent"),
                "no exec output and no restart: {reply}\nalpha:\n{}\nmesh:\n{}",
                mesh.agent_log("alpha"),
                mesh.log()
            );
            println!("escape: the fork bomb took alpha's sandbox down; the watchdog restarted it");
            mesh.wait_agent_within("alpha", Duration::from_secs(120))
                .await;
        }
    }

    // A memory hog: one 400 MiB buffer in a 256 MiB container. It is killed; beta answers.
    let hog = "dd if=/dev/zero of=/dev/null bs=400M count=1 2>/dev/null; echo \"hog_exit=$?\"";
    mock.push_for(
        MODEL_NAME,
        Turn::tool_call("exec", json!({"command": hog, "timeout": 60})),
    );
    mock.push_for(MODEL_NAME, Turn::text("hogged"));
    let (hogged, ()) = tokio::join!(
        mesh.chat_within("alpha", "eat memory", Duration::from_secs(180)),
        beta_answers(mesh, mock, "fine during the memory hog"),
    );
    let output = hogged["tool_outputs"][0]["output"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        !output.contains("hog_exit=0"),
        "400 MiB fitted in a 256 MiB container: {hogged}"
    );
    println!("escape: memory hog ended with {output}");
    // Alpha itself comes through (the health monitor restarts it if the sandbox went).
    mesh.wait_agent_within("alpha", Duration::from_secs(120))
        .await;
    beta_answers(mesh, mock, "fine after it all").await;
}

#[tokio::test]
async fn from_a_docker_container_an_agent_reaches_nothing_and_its_limits_hold() {
    if !docker_available("from_a_docker_container_an_agent_reaches_nothing_and_its_limits_hold") {
        return;
    }
    let _engine = engine_shared().await;
    let mock = MockLlm::start().await;
    let mesh = two_agents(&mock, "docker").await;
    attempts(&mesh, &mock, true).await;
}

#[tokio::test]
async fn from_a_gvisor_sandbox_an_agent_reaches_nothing_and_its_limits_hold() {
    if !gvisor_available("from_a_gvisor_sandbox_an_agent_reaches_nothing_and_its_limits_hold") {
        return;
    }
    let _engine = engine_shared().await;
    let mock = MockLlm::start().await;
    let mesh = two_agents(&mock, "gvisor").await;
    attempts(&mesh, &mock, false).await;
}
