//! Agents in QEMU microVMs, under software emulation (TCG), which every CI machine can run:
//! the chat, a WASM tool and a file that outlives a killed QEMU, seen from inside through
//! `exec` (its own kernel, no network but loopback); and the backend `start` picks when
//! `runtime.isolation` is unset.
//!
//! A TCG boot takes seconds and the first one of a run waits for the root disk (its skills
//! are compiled inside an emulated VM, minutes on a busy machine), so there are few tests
//! here and they run one at a time.

use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use openlegion_mesh::config::{Isolation, RuntimeSection};
use openlegion_mesh::runtime::detect;
use openlegion_mock_llm::{MockLlm, Turn};
use openlegion_tests::docker::{docker_available, docker_ok, engine_shared};
use openlegion_tests::microvm::{KERNEL_DIR, microvm_available, microvm_runtime, vm_processes};
use openlegion_tests::{MODEL_NAME, MeshProcess, TEST_LABEL, agent_mesh_within, binary};
use serde_json::json;

use crate::containers::{chat_round_trip, exec, field, permissions, read_note, wait_for};

const ONE: &str = "agents:\n  alpha:\n    role: tester\n    resources:\n      memory_limit: 384m\n      cpu_limit: 1\n";
/// Fast health checks, so a restart happens within the test.
const FAST_HEALTH: &str = "  health_interval_ms: 500\n  restart_backoff_ms: 500\n";
/// The first VM of a run waits for its root disk to be built.
const FIRST_BOOT: Duration = Duration::from_secs(900);
/// A later boot under emulation, on a machine busy with other tests.
const BOOT: Duration = Duration::from_secs(300);

/// One emulated VM at a time: each wants a whole core.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The version of the kernel `.ci/microvm.sh` unpacked (`vmlinuz-VERSION`).
fn guest_kernel() -> String {
    std::fs::read_dir(format!("{KERNEL_DIR}/boot"))
        .unwrap()
        .flatten()
        .find_map(|e| {
            e.file_name()
                .to_string_lossy()
                .strip_prefix("vmlinuz-")
                .map(str::to_owned)
        })
        .unwrap()
}

#[tokio::test]
async fn an_agent_in_a_microvm_chats_under_its_own_kernel_and_outlives_its_qemu() {
    let test = "an_agent_in_a_microvm_chats_under_its_own_kernel_and_outlives_its_qemu";
    if !microvm_available(test) {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().await;
    let mock = MockLlm::start().await;
    let mut mesh = agent_mesh_within(
        &mock,
        ONE,
        permissions(),
        &microvm_runtime(FAST_HEALTH),
        Vec::new(),
        FIRST_BOOT,
    )
    .await;
    assert!(
        mesh.log().contains("TCG (software emulation)"),
        "start says how VMs run:\n{}",
        mesh.log()
    );
    // The mesh reaches it as it reaches any agent: HTTP on agent.sock in its socket
    // directory, and the agent it on mesh.sock there.
    let run = mesh.state_dir().join("agents/alpha/run");
    assert!(run.join("agent.sock").exists() && run.join("mesh.sock").exists());

    // The escape attempts of `escape`, in a VM: the engine's socket, the mesh's state and
    // its provider key (built at run time, so the probe's own text is never a hit).
    let probe = format!(
        r#"echo "kernel=$(uname -r)"
echo "interfaces=$(ls /sys/class/net | tr '\n' ' ')"
echo "uid=$(id -u)"
echo "memtotal=$(awk '/^MemTotal/{{print $2}}' /proc/meminfo)"
echo "tokens_in_proc=$(cat /proc/[0-9]*/environ 2>/dev/null | tr '\0' '\n' | grep -c '^MESH_AUTH_TOKEN=')"
if touch /probe 2>/dev/null; then echo rootfs=writable; else echo rootfs=readonly; fi
key="sk-test-agents-$(printf '')0000000000"
echo "engine_sockets=$(ls /var/run/docker.sock /run/docker.sock 2>/dev/null | wc -l)"
echo "key_hits=$(grep -rls "$key" /data /etc /run /tmp /home /var /root 2>/dev/null | wc -l)"
if [ -e "{state}" ]; then echo mesh_state=visible; else echo mesh_state=absent; fi"#,
        state = mesh.state_dir().display()
    );
    let result = exec(&mesh, &mock, "alpha", &probe).await;
    let out = result["stdout"].as_str().unwrap();
    assert_eq!(result["exit_code"], 0, "{result}");
    // Its own kernel: Debian's, not the host's.
    let host = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    assert_ne!(field(out, "kernel"), host.trim(), "{out}");
    assert_eq!(field(out, "kernel"), guest_kernel(), "{out}");
    // No network device at all: only the loopback interface.
    assert_eq!(field(out, "interfaces").trim(), "lo", "{out}");
    assert_eq!(field(out, "uid"), "1000", "{out}");
    assert_eq!(field(out, "rootfs"), "readonly", "{out}");
    assert_eq!(field(out, "tokens_in_proc"), "0", "{out}");
    assert_eq!(field(out, "engine_sockets"), "0", "{out}");
    assert_eq!(field(out, "key_hits"), "0", "the provider key seen:\n{out}");
    assert_eq!(field(out, "mesh_state"), "absent", "{out}");
    // The memory limit of agents.yaml is the VM's memory (less what the kernel keeps).
    let memtotal: u64 = field(out, "memtotal").parse().unwrap();
    assert!(
        (200_000..=384 * 1024).contains(&memtotal),
        "MemTotal {memtotal} kB for a 384 MiB VM"
    );

    // A memory hog of 600 MiB in a 384 MiB VM: the guest's kernel stops it, the agent
    // goes on.
    let hog = exec(
        &mesh,
        &mock,
        "alpha",
        "dd if=/dev/zero of=/dev/null bs=600M count=1 2>/dev/null; echo \"hog_exit=$?\"",
    )
    .await;
    assert_ne!(
        field(hog["stdout"].as_str().unwrap_or_default(), "hog_exit"),
        "0",
        "600 MiB fitted in a 384 MiB VM: {hog}"
    );

    // A bounded fork bomb: the agent's user may run 256 processes and threads in the VM
    // (RLIMIT_NPROC, set by the guest's init), so a fork is refused and ends the bomb's
    // subshell (status 2). The children sleep long enough for the limit to be reached
    // under emulation; the count uses builtins only (no fork succeeds until they end).
    let bomb = exec(
        &mesh,
        &mock,
        "alpha",
        r#"( i=0; while [ $i -lt 1000 ]; do sleep 30 </dev/null >/dev/null 2>&1 & i=$((i+1)); done ) 2>/dev/null
echo "bomb_exit=$?"
n=0
for p in /proc/[0-9]*; do
  while read -r k v _; do
    if [ "$k" = "Uid:" ]; then [ "$v" = 1000 ] && n=$((n+1)); break; fi
  done < "$p/status" 2>/dev/null
done
echo "agent_processes=$n"
echo forked=done"#,
    )
    .await;
    let out = bomb["stdout"].as_str().unwrap_or_default();
    assert!(out.contains("forked=done"), "{bomb}");
    assert_eq!(field(out, "bomb_exit"), "2", "no fork was refused: {out}");
    let processes: usize = field(out, "agent_processes").parse().unwrap();
    assert!(
        processes <= 256,
        "{processes} processes of the agent's user past a limit of 256"
    );
    println!("microvm: {processes} processes of the agent's user at the bomb's end");
    // The sleepers end; then the agent forks and serves as before.
    tokio::time::sleep(Duration::from_secs(35)).await;

    // A WASM tool writes a file on the data disk; a blackboard write crosses the link.
    chat_round_trip(&mesh, &mock).await;

    // Killing QEMU: the health monitor boots a new VM from the same disk.
    let before = vm_processes(&mesh.instance());
    assert_eq!(before.len(), 1, "{before:?}");
    let (old_pid, name) = before[0].clone();
    assert_eq!(name, "alpha");
    kill(Pid::from_raw(old_pid), Signal::SIGKILL).unwrap();
    let instance = mesh.instance();
    wait_for("a new VM for alpha", BOOT, &mesh, || {
        let instance = instance.clone();
        async move {
            vm_processes(&instance)
                .iter()
                .any(|(pid, name)| *pid != old_pid && name == "alpha")
        }
    })
    .await;
    mesh.wait_agent_within("alpha", BOOT).await;
    assert!(
        mesh.log().contains("restarting the agent"),
        "{}",
        mesh.log()
    );
    assert!(
        read_note(&mesh, &mock)
            .await
            .contains("kept across restarts"),
        "the file written before QEMU was killed is on the data disk"
    );

    // Stopping the mesh powers the VM off cleanly; nothing is left running.
    let status = mesh.terminate();
    assert!(status.success(), "{status}");
    assert!(vm_processes(&instance).is_empty());
    assert!(!run.join("agent.sock").exists());
    let console = std::fs::read_to_string(run.join("console.log")).unwrap();
    assert!(
        console.contains("the host closed the link; shutting down"),
        "{console}"
    );
}

#[tokio::test]
async fn with_isolation_unset_start_picks_the_strongest_backend_that_works_here() {
    let test = "with_isolation_unset_start_picks_the_strongest_backend_that_works_here";
    if !docker_available(test) {
        return;
    }
    let _engine = engine_shared().await;
    let _one = ONE_AT_A_TIME.lock().await;
    // What this machine supports, by the same probes the mesh runs.
    let expected = detect::choose(&detect::probe(&RuntimeSection::default()).await);
    let isolation = expected.isolation.expect("a Docker engine answers");
    if isolation == Isolation::Microvm && !microvm_available(test) {
        return;
    }
    // The guest's init is built beside the agent, whichever backend wins.
    let _ = microvm_runtime("");
    let mock = MockLlm::start().await;
    let mesh_yaml = format!(
        "runtime:\n  agent_binary: {}\n  labels:\n    {TEST_LABEL}: \"1\"\n{FAST_HEALTH}",
        binary("openlegion-agent", "openlegion-agent").display()
    );
    let mesh = agent_mesh_within(
        &mock,
        ONE,
        permissions(),
        &mesh_yaml,
        Vec::new(),
        FIRST_BOOT,
    )
    .await;
    let log = mesh.log();
    assert!(
        log.contains(&format!("runtime.isolation is not set: {}", expected.why)),
        "expected {expected:?} in:\n{log}"
    );
    if let Some(warning) = &expected.warning {
        assert!(log.contains(&format!("warning: {warning}")), "{log}");
    }
    // And the agent runs there.
    let container = format!("openlegion-{}-alpha", mesh.instance());
    match isolation {
        Isolation::Microvm => assert_eq!(vm_processes(&mesh.instance()).len(), 1),
        Isolation::Gvisor => assert_eq!(
            docker_ok(&["inspect", "--format", "{{.HostConfig.Runtime}}", &container]),
            "runsc"
        ),
        Isolation::Docker => assert_eq!(
            docker_ok(&["inspect", "--format", "{{.HostConfig.Runtime}}", &container]),
            "runc"
        ),
        other => panic!("{other:?} is never chosen by itself"),
    }
}

/// Two agents on separate mock models, each in a VM of its own.
const TWO: &str = "agents:\n  alpha:\n    role: tester\n    resources:\n      memory_limit: 320m\n      cpu_limit: 1\n  beta:\n    role: tester\n    model: openai/mock-beta\n    resources:\n      memory_limit: 320m\n      cpu_limit: 1\n";
const BETA_MODEL: &str = "mock-beta";
/// Beta's file, split so that no text alpha's probe carries (or alpha keeps) holds it.
const MARKER_HEAD: &str = "beta-vm-only";
const MARKER_TAIL: &str = "c41e9a07";

/// Beta answers through its own model: the mesh and beta's VM still work.
async fn beta_answers(mesh: &MeshProcess, mock: &MockLlm, text: &str) {
    mock.push_for(BETA_MODEL, Turn::text(text));
    let reply = mesh.chat_within("beta", "still there?", BOOT).await;
    assert_eq!(reply["response"], text, "beta: {reply}\n{}", mesh.log());
}

/// The escape suite's neighbour attempts, between two microVMs: from inside its VM, alpha
/// finds no disk but its own two and cannot read those raw, no trace of the file beta
/// wrote (searched for over its whole filesystem), no socket but its own link's; and a
/// fork bomb in alpha's VM leaves beta answering.
#[tokio::test]
async fn two_agents_in_microvms_find_nothing_of_each_other() {
    let test = "two_agents_in_microvms_find_nothing_of_each_other";
    if !microvm_available(test) {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().await;
    let mock = MockLlm::start().await;
    let mesh = agent_mesh_within(
        &mock,
        TWO,
        permissions(),
        &microvm_runtime(FAST_HEALTH),
        Vec::new(),
        FIRST_BOOT,
    )
    .await;
    assert_eq!(vm_processes(&mesh.instance()).len(), 2, "one VM each");

    // Beta keeps a file on its own data disk.
    mock.push_for(
        BETA_MODEL,
        Turn::tool_call(
            "write_file",
            json!({"path": "beta-secret.txt", "content": format!("{MARKER_HEAD}{MARKER_TAIL}")}),
        ),
    );
    mock.push_for(BETA_MODEL, Turn::text("kept"));
    let kept = mesh.chat_within("beta", "keep this", BOOT).await;
    assert_eq!(kept["response"], "kept", "{kept}");

    let probe = format!(
        r#"marker="{MARKER_HEAD}$(printf ''){MARKER_TAIL}"
echo "disks=$(ls /sys/block | grep '^vd' | tr '\n' ' ')"
for d in /dev/vd*; do if head -c 1 "$d" >/dev/null 2>&1; then echo "raw_read=$d"; fi; done
echo "raw_read=none"
echo "marker_hits=$(grep -rls "$marker" /data /etc /run /tmp /home /var /root /mnt /opt /srv 2>/dev/null | wc -l)"
echo "beta_mounts=$(grep -c beta /proc/mounts)"
echo "sockets=$(find / \( -path /proc -o -path /sys \) -prune -o -type s -print 2>/dev/null | sort | tr '\n' ' ')"
echo "hostname=$(cat /proc/sys/kernel/hostname)""#
    );
    let result = exec(&mesh, &mock, "alpha", &probe).await;
    let out = result["stdout"].as_str().unwrap();
    assert_eq!(result["exit_code"], 0, "{result}");
    assert_eq!(field(out, "hostname"), "alpha", "{out}");
    // Its root and data disks, nothing of beta's.
    assert_eq!(field(out, "disks").split_whitespace().count(), 2, "{out}");
    assert_eq!(
        field(out, "raw_read"),
        "none",
        "a raw disk read by the agent: {out}"
    );
    assert_eq!(
        field(out, "marker_hits"),
        "0",
        "beta's file seen from alpha: {out}"
    );
    assert_eq!(field(out, "beta_mounts"), "0", "{out}");
    let sockets: Vec<&str> = field(out, "sockets").split_whitespace().collect();
    assert!(
        sockets.iter().all(|s| s.starts_with("/run/mesh/")),
        "a socket outside alpha's own directory: {out}"
    );

    // A fork bomb in alpha's VM while beta is asked something: beta answers.
    let forks = r#"( i=0; while [ $i -lt 1000 ]; do sleep 30 </dev/null >/dev/null 2>&1 & i=$((i+1)); done ) 2>/dev/null
echo "bomb_exit=$?""#;
    mock.push_for(
        MODEL_NAME,
        Turn::tool_call("exec", json!({"command": forks, "timeout": 120})),
    );
    mock.push_for(MODEL_NAME, Turn::text("forked"));
    let (bombed, ()) = tokio::join!(
        mesh.chat_within("alpha", "fork", BOOT),
        beta_answers(&mesh, &mock, "fine beside alpha's fork bomb"),
    );
    let output = bombed["tool_outputs"][0]["output"]
        .as_str()
        .unwrap_or_default();
    assert!(
        output.contains("bomb_exit=2"),
        "no fork was refused: {bombed}"
    );
}
