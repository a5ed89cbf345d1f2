//! An agent's own state survives `kill -9` (see SECURITY.md, Crash safety): its memory
//! database and workspace files, written by tool calls the scripted model makes, and its
//! compiled-skill cache, killed while it compiles.
//!
//! A write is acknowledged when its tool result reached the model: the mock LLM received
//! the next request carrying it. Everything acknowledged must be there after the restart,
//! whole; the memory database must pass `PRAGMA integrity_check`. The writes are killed
//! under the process backend and again in a Docker container (its process killed from
//! this machine, the engine's restart of it awaited), whose volume is read from here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use openlegion_mock_llm::{MockLlm, ToolCall, Turn};
use openlegion_tests::docker::{docker_available, docker_ok, engine_shared};
use openlegion_tests::{MODEL_NAME, MeshProcess, agent_mesh, agent_mesh_with, container_runtime};
use rand::Rng;
use serde_json::{Value, json};

use crate::durability::common::{crash_rng, crash_rounds};

fn sigkill(pid: i32) {
    let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
}

/// The file every round rewrites, large enough that writing it takes a while.
const CURRENT: &str = "crash/current.txt";

/// The `n`-th content of [`CURRENT`]: a header, 96–224 KiB of filler (its length depends
/// on `n`, so that an older version cut short never looks like a newer one), a trailer.
fn current_content(n: u64) -> String {
    let filler = 96 * 1024 + (n * 7919) % (128 * 1024);
    format!(
        "n={n:06}\n{}\nend={n:06}\n",
        "abcdefghijklmnopqrstuvwxyz0123456789\n"
            .chars()
            .cycle()
            .take(filler as usize)
            .collect::<String>()
    )
}

/// The `n` of a whole content of [`CURRENT`]; `None` for anything else (half-written).
fn whole_current(text: &str) -> Option<u64> {
    let n: u64 = text.strip_prefix("n=")?.get(..6)?.parse().ok()?;
    (text == current_content(n)).then_some(n)
}

/// Turns of tool calls for calls `first..first + count`: each saves a fact, writes a file of
/// its own and rewrites [`CURRENT`]; then a final answer.
fn script(first: u64, count: u64) -> Vec<Turn> {
    let mut turns: Vec<Turn> = (first..first + count)
        .map(|n| {
            Turn::tool_calls([
                ToolCall::new(
                    "memory_save",
                    json!({"key": format!("crash-fact-{n}"), "value": fact_value(n), "category": "crash"}),
                ),
                ToolCall::new(
                    "write_file",
                    json!({"path": format!("crash/f{n:06}.txt"), "content": file_content(n)}),
                ),
                ToolCall::new(
                    "write_file",
                    json!({"path": CURRENT, "content": current_content(n)}),
                ),
            ])
        })
        .collect();
    turns.push(Turn::text("saved"));
    turns
}

fn fact_value(n: u64) -> String {
    format!("marker {n} of the crash test, kept across kill -9")
}

fn file_content(n: u64) -> String {
    format!("file {n}\n{}", "x".repeat((n as usize * 131) % 4096))
}

/// What the model saw acknowledged: each tool call (by id) whose result came back without
/// an error, as (tool, arguments).
fn acknowledged(mock: &MockLlm) -> BTreeMap<String, (String, Value)> {
    let mut calls = BTreeMap::new();
    let mut acked = BTreeMap::new();
    for request in mock.requests_for(MODEL_NAME) {
        for m in request.body["messages"].as_array().into_iter().flatten() {
            for call in m["tool_calls"].as_array().into_iter().flatten() {
                let args: Value =
                    serde_json::from_str(call["function"]["arguments"].as_str().unwrap_or("{}"))
                        .unwrap_or(Value::Null);
                calls.insert(
                    call["id"].as_str().unwrap().to_owned(),
                    (call["function"]["name"].as_str().unwrap().to_owned(), args),
                );
            }
            if m["role"] == "tool" {
                let id = m["tool_call_id"].as_str().unwrap();
                let content = m["content"].as_str().unwrap_or_default();
                assert!(
                    !content.starts_with("Error:"),
                    "a write failed under load: {content}"
                );
                acked.insert(id.to_owned(), calls[id].clone());
            }
        }
    }
    acked
}

/// Reads [`CURRENT`] over and over while the agent writes it; at the first sight of a
/// half-written file it kills the agent at once (leaving the file so, were the write not
/// atomic) and says so.
fn watch_current(data: PathBuf, pid: i32, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<bool> {
    std::thread::spawn(move || {
        let path = data.join(CURRENT);
        while !stop.load(Ordering::Relaxed) {
            if let Ok(bytes) = std::fs::read(&path)
                && whole_current(&String::from_utf8_lossy(&bytes)).is_none()
            {
                sigkill(pid);
                return true;
            }
        }
        false
    })
}

/// The facts in the agent's memory database, after checking the database's integrity.
fn facts(data: &Path) -> BTreeMap<String, String> {
    let conn = rusqlite::Connection::open_with_flags(
        data.join("memory.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok", "the memory database is damaged");
    let mut stmt = conn.prepare("SELECT key, value FROM facts").unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Where agent `a` runs: its process (as this machine sees it), its data and its restart.
enum Sandbox {
    Process,
    /// A Docker container, named as the mesh names it.
    Container(String),
}

impl Sandbox {
    fn pid(&self, mesh: &MeshProcess) -> i32 {
        match self {
            Sandbox::Process => mesh.agent_pid("a"),
            Sandbox::Container(name) => docker_ok(&["inspect", "--format", "{{.State.Pid}}", name])
                .parse()
                .unwrap(),
        }
    }

    /// The agent's `/data` on this machine (the container's volume).
    fn data(&self, mesh: &MeshProcess) -> PathBuf {
        match self {
            Sandbox::Process => mesh.agent_data("a"),
            Sandbox::Container(name) => {
                let mounts: Value = serde_json::from_str(&docker_ok(&[
                    "inspect",
                    "--format",
                    "{{json .Mounts}}",
                    name,
                ]))
                .unwrap();
                let data = mounts
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|m| m["Destination"] == "/data")
                    .unwrap_or_else(|| panic!("no /data mount: {mounts}"));
                PathBuf::from(data["Source"].as_str().unwrap())
            }
        }
    }

    async fn wait_restarted(&self, mesh: &MeshProcess, old: i32) {
        let limit = Duration::from_secs(90);
        match self {
            Sandbox::Process => mesh.wait_agent_restarted("a", old, limit).await,
            Sandbox::Container(_) => {
                let deadline = std::time::Instant::now() + limit;
                loop {
                    let pid = self.pid(mesh);
                    if pid != 0
                        && pid != old
                        && mesh
                            .operator()
                            .get("/mesh/agents/a/api/status")
                            .await
                            .status
                            == 200
                    {
                        return;
                    }
                    assert!(
                        std::time::Instant::now() < deadline,
                        "the container was not restarted:\n{}",
                        mesh.log()
                    );
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    }
}

#[tokio::test]
async fn an_agent_killed_while_it_writes_keeps_every_acknowledged_fact_and_file() {
    let mock = Arc::new(MockLlm::start().await);
    let mesh = agent_mesh(&mock, "agents:\n  a:\n    role: writer\n", json!({})).await;
    writes_survive_kills(&mesh, &mock, Sandbox::Process).await;
}

#[tokio::test]
async fn an_agent_killed_in_its_container_while_it_writes_keeps_every_acknowledged_fact_and_file() {
    let test =
        "an_agent_killed_in_its_container_while_it_writes_keeps_every_acknowledged_fact_and_file";
    if !docker_available(test) {
        return;
    }
    let _engine = engine_shared().await;
    let mock = Arc::new(MockLlm::start().await);
    let mesh = agent_mesh_with(
        &mock,
        "agents:\n  a:\n    role: writer\n",
        json!({}),
        &container_runtime(
            "docker",
            "  health_interval_ms: 250\n  restart_backoff_ms: 250\n",
        ),
    )
    .await;
    let sandbox = Sandbox::Container(format!("openlegion-{}-a", mesh.instance()));
    writes_survive_kills(&mesh, &mock, sandbox).await;
}

/// Rounds of scripted writes, each ended by a SIGKILL at a random moment (or at once when
/// a reader sees a half-written file), then the checks of everything acknowledged.
async fn writes_survive_kills(mesh: &MeshProcess, mock: &Arc<MockLlm>, sandbox: Sandbox) {
    let mut rng = crash_rng();
    let data = sandbox.data(mesh);
    let mut next = 0;
    let (mut facts_acked, mut files_acked, mut partial_kills) = (0, 0, 0);
    // The highest n of CURRENT acknowledged so far.
    let mut current_acked = None;
    for round in 0..crash_rounds() {
        let pid = sandbox.pid(mesh);
        mock.reset();
        let stop = Arc::new(AtomicBool::new(false));
        let watcher = watch_current(data.clone(), pid, Arc::clone(&stop));
        // Chats of 8 tool rounds each, one after another, until the agent dies.
        let chats = {
            let (mock, op, stop) = (Arc::clone(mock), mesh.operator(), Arc::clone(&stop));
            let first = next;
            tokio::spawn(async move {
                let mut n = first;
                while !stop.load(Ordering::Relaxed) {
                    mock.script(Some(MODEL_NAME), script(n, 8));
                    n += 8;
                    op.post("/mesh/agents/a/api/chat", &json!({"message": "save"}))
                        .await;
                }
                n
            })
        };
        tokio::time::sleep(Duration::from_millis(rng.random_range(500..4000))).await;
        sigkill(pid);
        stop.store(true, Ordering::Relaxed);
        partial_kills += u32::from(watcher.join().unwrap());
        // What the dead agent's model saw; then nothing more for the restarted one.
        let acked = acknowledged(mock);
        mock.reset();
        next = chats.await.unwrap();
        mock.reset();
        sandbox.wait_restarted(mesh, pid).await;

        let stored = facts(&data);
        for (tool, args) in acked.values() {
            match tool.as_str() {
                "memory_save" => {
                    let key = args["key"].as_str().unwrap();
                    assert_eq!(
                        stored.get(key).map(String::as_str),
                        args["value"].as_str(),
                        "acknowledged fact {key} lost (round {round})"
                    );
                    facts_acked += 1;
                }
                "write_file" if args["path"] == CURRENT => {
                    let n = whole_current(args["content"].as_str().unwrap()).unwrap();
                    current_acked = current_acked.max(Some(n));
                }
                "write_file" => {
                    let path = args["path"].as_str().unwrap();
                    assert_eq!(
                        std::fs::read_to_string(data.join(path)).ok().as_deref(),
                        args["content"].as_str(),
                        "acknowledged file {path} lost or damaged (round {round})"
                    );
                    files_acked += 1;
                }
                other => panic!("unexpected tool {other}"),
            }
        }
        let current = std::fs::read_to_string(data.join(CURRENT)).unwrap_or_default();
        let found = whole_current(&current);
        assert!(
            found.is_some(),
            "{CURRENT} is half-written after the kill ({} bytes)",
            current.len()
        );
        assert!(
            found >= current_acked,
            "{CURRENT} is older ({found:?}) than its last acknowledged write ({current_acked:?})"
        );
        eprintln!(
            "agent crash round {}: {} facts and {} files acknowledged so far, all there; {CURRENT} whole (n={})",
            round + 1,
            facts_acked,
            files_acked,
            found.unwrap()
        );
    }
    assert_eq!(partial_kills, 0, "a reader saw a half-written file");
    assert!(
        facts_acked > 0 && files_acked > 0,
        "no write was acknowledged"
    );

    // The agent works on after the kills: it saves and recalls through its memory.
    mock.reset();
    mock.script(
        Some(MODEL_NAME),
        [
            Turn::tool_call(
                "memory_save",
                json!({"key": "after-the-kills", "value": "the memory still works"}),
            ),
            Turn::tool_call("memory_recall", json!({"query": "crash test marker 1"})),
            Turn::text("done"),
        ],
    );
    let reply = mesh.chat("a", "check").await;
    let outputs = crate::outputs(&reply);
    assert!(outputs[0].contains("\"saved\""), "{reply}");
    assert!(outputs[1].contains("crash-fact-"), "{reply}");
}

/// Whether `bytes` is a whole ELF file (what wasmtime's `.cwasm` is): it reaches the end of
/// its section header table, which the writer puts last.
fn whole_elf(bytes: &[u8]) -> bool {
    let field = |at: usize, len: usize| -> Option<u64> {
        let b = bytes.get(at..at + len)?;
        Some(b.iter().rev().fold(0, |n, &x| (n << 8) | u64::from(x)))
    };
    let (Some(shoff), Some(shentsize), Some(shnum)) =
        (field(0x28, 8), field(0x3a, 2), field(0x3c, 2))
    else {
        return false;
    };
    bytes.starts_with(b"\x7fELF") && bytes.len() as u64 == shoff + shentsize * shnum
}

/// Checks what a kill left in the skill cache: every component under its final name is
/// whole, and the function cache passes its integrity check. Returns (components, temporary
/// files left by the kill).
fn check_cache(cache: &Path) -> (usize, usize) {
    let (mut components, mut partial) = (0, 0);
    for entry in std::fs::read_dir(cache).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".cwasm") {
            let bytes = std::fs::read(entry.path()).unwrap();
            assert!(
                whole_elf(&bytes),
                "{name} is damaged ({} bytes) after a kill",
                bytes.len()
            );
            components += 1;
        } else if name.starts_with(".tmp") {
            partial += 1;
        } else if name.ends_with(".db") {
            let conn = rusqlite::Connection::open_with_flags(
                entry.path(),
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
            )
            .unwrap();
            let check: String = conn
                .query_row("PRAGMA integrity_check", [], |r| r.get(0))
                .unwrap();
            assert_eq!(check, "ok", "{name} is damaged after a kill");
        }
    }
    (components, partial)
}

/// Reads every component in `cache` over and over while the agent compiles; at the first
/// sight of a half-written one under its final name it kills the agent at once (leaving
/// the file so, were the write not atomic) and says so.
fn watch_cache(cache: PathBuf, pid: i32, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<bool> {
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            for entry in std::fs::read_dir(&cache).into_iter().flatten().flatten() {
                if entry.file_name().to_string_lossy().ends_with(".cwasm")
                    && std::fs::read(entry.path()).is_ok_and(|b| !whole_elf(&b))
                {
                    sigkill(pid);
                    return true;
                }
            }
        }
        false
    })
}

/// How many compiled components `cache` holds.
fn components(cache: &Path) -> usize {
    std::fs::read_dir(cache)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".cwasm"))
        .count()
}

/// Waits until agent `a` no longer runs as `pid`.
async fn gone(mesh: &MeshProcess, pid: i32) {
    while mesh.running_agent_pid("a") == Some(pid) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits until agent `a` runs in a process other than `pid`; returns its pid.
async fn respawned(mesh: &MeshProcess, pid: i32) -> i32 {
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    loop {
        if let Some(new) = mesh.running_agent_pid("a").filter(|&p| p != pid) {
            return new;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "agent a was not restarted:\n{}",
            mesh.agent_log("a")
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn an_agent_killed_while_it_compiles_its_skills_keeps_a_sound_cache() {
    let mut rng = crash_rng();
    let mock = MockLlm::start().await;
    let started = std::time::Instant::now();
    let mesh = agent_mesh(&mock, "agents:\n  a:\n    role: writer\n", json!({})).await;
    // Start-up, most of it compiling the built-in skills: the longest a kill waits for.
    let cold = started.elapsed();
    let cache = mesh.state_dir().join("agents/a/run/cache");
    let clear = |cache: &Path| {
        for entry in std::fs::read_dir(cache).unwrap().flatten() {
            if entry.file_name().to_string_lossy().ends_with(".cwasm") {
                std::fs::remove_file(entry.path()).unwrap();
            }
        }
    };
    // Killed, emptied of components: the restart compiles every skill again.
    let mut pid = mesh.agent_pid("a");
    sigkill(pid);
    gone(&mesh, pid).await;
    let (whole, _) = check_cache(&cache);
    assert!(whole > 0, "no compiled component in {}", cache.display());
    clear(&cache);
    let (mut checked, mut partial) = (0, 0);
    for round in 0..crash_rounds() {
        pid = respawned(&mesh, pid).await;
        let start = std::time::Instant::now();
        let stop = Arc::new(AtomicBool::new(false));
        let watcher = watch_cache(cache.clone(), pid, Arc::clone(&stop));
        // Killed while compiling: once a random number of the components are written, a
        // random moment later.
        let (done, after) = (rng.random_range(0..whole), rng.random_range(0..400));
        while components(&cache) < done && start.elapsed() < cold {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        tokio::time::sleep(Duration::from_millis(after)).await;
        sigkill(pid);
        stop.store(true, Ordering::Relaxed);
        assert!(
            !watcher.join().unwrap(),
            "a half-written component was seen under its final name"
        );
        gone(&mesh, pid).await;
        let (c, p) = check_cache(&cache);
        (checked, partial) = (checked + c, partial + p);
        eprintln!(
            "compile crash round {}: killed {after} ms after {done} components were written; {c} of {whole} components there, all whole; {p} temporary files left",
            round + 1
        );
        if round + 1 < crash_rounds() {
            clear(&cache);
        }
    }
    // The last restart loads what is cached and compiles the rest: every tool is back.
    mesh.wait_agent_restarted("a", pid, Duration::from_secs(120))
        .await;
    mock.script(
        Some(MODEL_NAME),
        [
            Turn::tool_call("write_file", json!({"path": "up.txt", "content": "up"})),
            Turn::text("done"),
        ],
    );
    let reply = mesh.chat("a", "write").await;
    assert!(
        crate::outputs(&reply)[0].contains("bytes_written"),
        "{reply}"
    );
    let log = mesh.agent_log("a");
    assert!(
        !log.contains("cached component refused"),
        "a damaged component was found in the cache:\n{log}"
    );
    eprintln!(
        "{} kills during compiles: {checked} components found whole, {partial} temporary files left, none loaded damaged",
        crash_rounds()
    );
}
