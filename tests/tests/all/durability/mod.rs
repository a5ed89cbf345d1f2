//! Acknowledged writes survive `kill -9`: a burst of blackboard writes, and rounds of mixed
//! load (blackboard, messages, cron jobs) killed at random moments; with real agents and
//! the mock LLM, lanes and chats with the cost ledger ([`chats`]), workflow runs
//! ([`workflows`]) and cron fires ([`cron`]) (see SECURITY.md, Crash safety).

mod chats;
pub(crate) mod common;
mod cron;
mod workflows;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use openlegion_tests::{Client, MeshOptions, MeshProcess};
use rand::Rng;
use serde_json::json;

#[tokio::test]
async fn a_thousand_acknowledged_writes_survive_kill_9() {
    let mut mesh = MeshProcess::start(MeshOptions::with_permissions(json!({
        "default": {"blackboard_read": ["*"], "blackboard_write": ["*"]}
    })))
    .await;
    let a = mesh.agent("writer").await;
    // 8 concurrent writers, 125 writes each: 1000 keys, every 10th written twice.
    let mut tasks = Vec::new();
    for w in 0..8 {
        let a = a.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..125 {
                let n = w * 125 + i;
                a.put(
                    &format!("/mesh/blackboard/durable/{n:04}"),
                    &json!({"n": n}),
                )
                .await
                .expect(200);
                if n % 10 == 0 {
                    a.put(
                        &format!("/mesh/blackboard/durable/{n:04}"),
                        &json!({"n": n, "again": true}),
                    )
                    .await
                    .expect(200);
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    mesh.kill9();
    mesh.restart().await;
    let a = Client::new(mesh.url(), a.token());
    let all = a
        .get("/mesh/blackboard/?prefix=durable/&limit=5000")
        .await
        .expect(200);
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 1000);
    for (n, entry) in all.iter().enumerate() {
        assert_eq!(entry["key"], format!("durable/{n:04}"));
        assert_eq!(entry["value"]["n"], n);
        let twice = n % 10 == 0;
        assert_eq!(entry["version"], if twice { 2 } else { 1 }, "{entry}");
        assert_eq!(entry["value"].get("again").is_some(), twice);
    }
}

/// Cron jobs created per round (an agent may have 50; each round deletes them after its
/// check).
const JOBS_PER_ROUND: usize = 20;

/// What the mesh acknowledged (a 2xx reached the client), by kind.
#[derive(Debug, Default)]
struct Acked {
    /// Blackboard keys and the `n` written to each (every key is written once).
    keys: Vec<(String, u64)>,
    /// Payload `n` of messages from a to b.
    messages: Vec<u64>,
    /// Names of cron jobs created.
    jobs: Vec<String>,
}

/// What became of one request of the load.
#[derive(Debug, PartialEq)]
enum Sent {
    /// A 2xx reached the client.
    Acked,
    /// Refused for now (429: a rate limit); not applied, try the next.
    Later,
    /// The mesh is gone: the caller stops.
    Gone,
}

async fn send(req: reqwest::RequestBuilder) -> Sent {
    match req.send().await {
        Ok(resp) if resp.status().is_success() => match resp.bytes().await {
            Ok(_) => Sent::Acked,
            Err(_) => Sent::Gone,
        },
        Ok(resp) if resp.status() == reqwest::StatusCode::TOO_MANY_REQUESTS => {
            tokio::time::sleep(Duration::from_millis(200)).await;
            Sent::Later
        }
        Ok(resp) => panic!(
            "the mesh refused load: {} {}",
            resp.status(),
            resp.text().await.unwrap_or_default()
        ),
        Err(_) => Sent::Gone,
    }
}

/// Load on every durable surface the mesh serves without an agent process: blackboard
/// writes (4 writers), messages (2 senders), cron jobs (1 operator), each until the mesh
/// dies. Every `n` is unique across rounds.
fn load(
    mesh: &MeshProcess,
    tokens: &(String, String),
    round: u64,
    next: &Arc<AtomicU64>,
    acked_by: &Arc<Mutex<Acked>>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let http = reqwest::Client::new();
    let url = mesh.url().to_owned();
    let operator = mesh.operator().token().unwrap().to_owned();
    let mut tasks = Vec::new();
    for kind in ["bb", "bb", "bb", "bb", "msg", "msg", "cron"] {
        let (http, url, next, acked_by) =
            (http.clone(), url.clone(), next.clone(), acked_by.clone());
        let (a, operator) = (tokens.0.clone(), operator.clone());
        tasks.push(tokio::spawn(async move {
            let mut made = 0;
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                match kind {
                    "bb" => {
                        let key = format!("crash/r{round}/{n:06}");
                        let req = http
                            .put(format!("{url}/mesh/blackboard/{key}"))
                            .bearer_auth(&a)
                            .json(&json!({"n": n}));
                        match send(req).await {
                            Sent::Acked => {}
                            Sent::Later => continue,
                            Sent::Gone => return,
                        }
                        acked_by.lock().unwrap().keys.push((key, n));
                    }
                    "msg" => {
                        let req = http
                            .post(format!("{url}/mesh/message"))
                            .bearer_auth(&a)
                            .json(&json!({"to": "b", "type": "event", "payload": {"n": n}}));
                        match send(req).await {
                            Sent::Acked => {}
                            Sent::Later => continue,
                            Sent::Gone => return,
                        }
                        acked_by.lock().unwrap().messages.push(n);
                    }
                    _ => {
                        // Attempts, not acknowledgements: an unacknowledged job may exist.
                        if made == JOBS_PER_ROUND {
                            return;
                        }
                        made += 1;
                        let name = format!("job{n}");
                        let req = http
                            .post(format!("{url}/mesh/cron"))
                            .bearer_auth(&operator)
                            .json(&json!({"agent": "b", "schedule": "0 0 1 1 *", "message": "x", "name": name}));
                        match send(req).await {
                            Sent::Acked => {}
                            Sent::Later => continue,
                            Sent::Gone => return,
                        }
                        acked_by.lock().unwrap().jobs.push(name);
                    }
                }
            }
        }));
    }
    tasks
}

/// After a restart: every acknowledged write is there, and nothing is there twice.
async fn verify(
    mesh: &MeshProcess,
    tokens: &(String, String),
    rounds: u64,
    acked: &Acked,
    seen: &mut std::collections::HashMap<u64, u32>,
) {
    let a = Client::new(mesh.url(), Some(&tokens.0));
    let b = Client::new(mesh.url(), Some(&tokens.1));
    let mut present = std::collections::HashMap::new();
    for round in 0..rounds {
        let page = a
            .get(&format!(
                "/mesh/blackboard/?prefix=crash/r{round}/&limit=10000"
            ))
            .await
            .expect(200);
        for entry in page.as_array().unwrap() {
            assert_eq!(entry["version"], 1, "a write applied twice: {entry}");
            present.insert(
                entry["key"].as_str().unwrap().to_owned(),
                entry["value"]["n"].as_u64().unwrap(),
            );
        }
    }
    for (key, n) in &acked.keys {
        assert_eq!(
            present.get(key),
            Some(n),
            "acknowledged write of {key} lost"
        );
    }
    // b's inbox since the last check (a pull past a message acknowledges it): over all
    // rounds each n delivered at most once, and every acknowledged one delivered.
    let mut after = 0;
    loop {
        let page = b
            .get(&format!("/mesh/inbox?after={after}&limit=500"))
            .await
            .expect(200);
        let messages = page["messages"].as_array().unwrap();
        if messages.is_empty() {
            break;
        }
        for m in messages {
            after = m["seq"].as_i64().unwrap();
            *seen
                .entry(m["message"]["payload"]["n"].as_u64().unwrap())
                .or_default() += 1;
        }
    }
    assert!(seen.values().all(|&c| c == 1), "a message delivered twice");
    for n in &acked.messages {
        assert!(seen.contains_key(n), "acknowledged message {n} lost");
    }
    let jobs = mesh.operator().get("/mesh/cron").await.expect(200);
    let mut names = std::collections::HashMap::<String, u32>::new();
    for job in jobs["jobs"].as_array().unwrap() {
        *names
            .entry(job["name"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    assert!(names.values().all(|&c| c == 1), "a cron job created twice");
    for name in &acked.jobs {
        assert!(
            names.contains_key(name),
            "acknowledged cron job {name} lost"
        );
    }
    // An agent has at most 50 jobs: each round starts with none.
    for name in names.keys() {
        mesh.operator()
            .delete(&format!("/mesh/cron/{name}"))
            .await
            .expect(200);
    }
}

/// SIGKILL at a random moment under load, restart on the same state, check, again.
#[tokio::test]
async fn sigkill_at_random_points_under_load_loses_no_acknowledged_write() {
    let mut rng = common::crash_rng();
    let mut mesh = MeshProcess::start(MeshOptions {
        agents_yaml: "agents:\n  a:\n    role: writer\n  b:\n    role: reader\n".into(),
        mesh_settings: "  inbox_max: 1000000\n".into(),
        ..MeshOptions::with_permissions(json!({
            "default": {"blackboard_read": ["*"], "blackboard_write": ["*"], "can_message": ["*"]}
        }))
    })
    .await;
    let a = mesh.agent("a").await.token().unwrap().to_owned();
    let b = mesh.agent("b").await.token().unwrap().to_owned();
    let tokens = (a, b);
    let next = Arc::new(AtomicU64::new(1));
    let acked_by = Arc::new(Mutex::new(Acked::default()));
    let rounds = common::crash_rounds();
    let mut jobs = 0;
    // Messages b has pulled, over all rounds (pulling past one acknowledges it).
    let mut seen = std::collections::HashMap::new();
    for round in 0..rounds {
        let tasks = load(&mesh, &tokens, round, &next, &acked_by);
        tokio::time::sleep(Duration::from_millis(rng.random_range(200..2000))).await;
        mesh.kill9();
        for t in tasks {
            t.await.unwrap();
        }
        mesh.restart().await;
        let acked = std::mem::take(&mut *acked_by.lock().unwrap());
        verify(&mesh, &tokens, round + 1, &acked, &mut seen).await;
        let counts = (acked.keys.len(), acked.messages.len(), acked.jobs.len());
        jobs += counts.2;
        *acked_by.lock().unwrap() = Acked {
            jobs: Vec::new(),
            ..acked
        };
        eprintln!(
            "crash round {}: survived with {} writes, {} messages, {} cron jobs acknowledged so far",
            round + 1,
            counts.0,
            counts.1,
            jobs
        );
    }
}
