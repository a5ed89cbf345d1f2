//! Workflow runs across SIGKILLs: the operator starts runs of a three-step chain over two
//! real agents while the mock LLM answers each step after a random delay; the mesh is
//! killed at a random moment and restarted. Every acknowledged run must exist and end
//! complete (none vanishes, none stays running), no run is started twice, a step seen
//! complete before the kill never runs again, and a step runs again only when the kill
//! cut its turn off.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use openlegion_mock_llm::{MockLlm, Turn};
use openlegion_tests::MeshProcess;
use rand::Rng;
use serde_json::{Value, json};

use super::common::{Kills, crash_rng, crash_rounds, mesh_of, restart};

const AGENTS: [&str; 2] = ["wa", "wb"];
/// The chain: each step's task type names it in the agent's prompt.
const STEPS: [(&str, &str); 3] = [("s1", "wa"), ("s2", "wb"), ("s3", "wa")];
const RUNS_PER_ROUND: u64 = 12;

const WORKFLOW: &str = "name: chain
timeout: 600
steps:
  - id: s1
    agent: wa
    task_type: step_s1
    input_from: trigger.payload
    timeout: 120
  - id: s2
    agent: wb
    task_type: step_s2
    input_from: trigger.payload
    depends_on: [s1]
    timeout: 120
  - id: s3
    agent: wa
    task_type: step_s3
    input_from: trigger.payload
    depends_on: [s2]
    timeout: 120
";

fn token(n: u64) -> String {
    format!("run-{n:06}")
}

/// Acknowledged runs: (n, run id).
type Acked = Arc<Mutex<Vec<(u64, String)>>>;

/// Starts runs every 50–300 ms until the mesh dies or the round's runs are started.
fn load(
    mesh: &MeshProcess,
    round: u64,
    acked: &Acked,
    rng: &mut impl Rng,
) -> tokio::task::JoinHandle<()> {
    let http = reqwest::Client::new();
    let (url, op) = (
        mesh.url().to_owned(),
        mesh.operator().token().unwrap().to_owned(),
    );
    let pauses: Vec<u64> = (0..RUNS_PER_ROUND)
        .map(|_| rng.random_range(50..300))
        .collect();
    let acked = acked.clone();
    tokio::spawn(async move {
        for (k, pause) in pauses.into_iter().enumerate() {
            let n = round * 1000 + k as u64;
            let sent = http
                .post(format!("{url}/mesh/workflows/chain/run"))
                .bearer_auth(&op)
                .json(&json!({"input": {"run": token(n)}}))
                .send()
                .await;
            let Ok(resp) = sent else { return };
            assert_eq!(resp.status().as_u16(), 202, "a run was refused");
            let Ok(body) = resp.json::<Value>().await else {
                return;
            };
            acked
                .lock()
                .unwrap()
                .push((n, body["run_id"].as_str().unwrap().to_owned()));
            tokio::time::sleep(Duration::from_millis(pause)).await;
        }
    })
}

/// The requests (indices in its model's log) that asked for step `step` of run `n`.
fn asked(prompts: &[String], step: &str, n: u64) -> Vec<usize> {
    let (kind, run) = (format!("(step_{step})"), format!("\"{}\"", token(n)));
    prompts
        .iter()
        .enumerate()
        .filter(|(_, p)| p.contains(&kind) && p.contains(&run))
        .map(|(k, _)| k)
        .collect()
}

async fn view(mesh: &MeshProcess, id: &str, wait: u64) -> Value {
    mesh.operator()
        .get(&format!("/mesh/workflows/runs/{id}?wait={wait}"))
        .await
        .expect(200)
}

#[tokio::test]
async fn sigkill_mid_workflow_runs_loses_no_run_and_runs_no_completed_step_again() {
    let mut rng = crash_rng();
    let mock = MockLlm::start().await;
    let rounds = crash_rounds();
    for agent in AGENTS {
        for _ in 0..RUNS_PER_ROUND as usize * 3 * rounds as usize {
            let delay = Duration::from_millis(rng.random_range(20..200));
            mock.push_for(agent, Turn::text(r#"{"ok": true}"#).delayed(delay));
        }
    }
    let mut mesh = mesh_of(&mock, &AGENTS, json!({})).await;
    std::fs::create_dir_all(mesh.config_dir().join("workflows")).unwrap();
    mesh.write_config("workflows/chain.yaml", WORKFLOW);
    let reloaded = mesh
        .operator()
        .post("/mesh/reload", &json!({}))
        .await
        .expect(200);
    assert_eq!(reloaded["also"], json!(["1 workflows"]), "{reloaded}");
    let acked: Acked = Arc::default();
    let mut kills = Kills::default();
    // Steps seen complete before a kill: (n, step) → the requests that had asked for it.
    let mut done_before = HashMap::<(u64, &str), Vec<usize>>::new();
    for round in 0..rounds {
        let starter = load(&mesh, round, &acked, &mut rng);
        tokio::time::sleep(Duration::from_millis(rng.random_range(500..3000))).await;
        let seen: Vec<(u64, String)> = acked.lock().unwrap().clone();
        let mut complete = Vec::new();
        for (n, id) in &seen {
            let v = view(&mesh, id, 0).await;
            for (step, _) in STEPS {
                let s = v["steps"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|s| s["id"] == step);
                if s.is_some_and(|s| s["status"] == "complete") {
                    complete.push((*n, step));
                }
            }
        }
        mesh.kill9();
        kills.note(&mock, &AGENTS);
        starter.await.unwrap();
        for (n, step) in complete {
            let agent = STEPS.iter().find(|(s, _)| *s == step).unwrap().1;
            let prompts: Vec<String> = mock
                .requests_for(agent)
                .iter()
                .map(|r| r.last_user_text())
                .collect();
            done_before.insert((n, step), asked(&prompts, step, n));
        }
        restart(&mut mesh, &AGENTS).await;
        let runs = acked.lock().unwrap().clone();
        for (n, id) in runs {
            let deadline = Instant::now() + Duration::from_secs(120);
            let v = loop {
                let v = view(&mesh, &id, 20).await;
                if v["finished"] == true {
                    break v;
                }
                assert!(
                    Instant::now() < deadline,
                    "run {n} ({id}) stays running: {v}"
                );
            };
            assert_eq!(
                v["status"],
                "complete",
                "run {n} did not complete: {v}\n{}",
                mesh.log()
            );
        }
        eprintln!(
            "workflow crash round {}: {} runs acknowledged so far, all complete",
            round + 1,
            acked.lock().unwrap().len()
        );
    }
    let acked = acked.lock().unwrap().clone();
    // No run started twice: one run per input, and every acknowledged one listed.
    let listed = mesh
        .operator()
        .get("/mesh/workflows/chain/runs?limit=500")
        .await
        .expect(200);
    let mut per_input = HashMap::<String, Vec<String>>::new();
    for run in listed["runs"].as_array().unwrap() {
        per_input
            .entry(
                run["trigger"]["payload"]["run"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            )
            .or_default()
            .push(run["id"].as_str().unwrap().to_owned());
    }
    for (n, id) in &acked {
        assert_eq!(
            per_input.get(&token(*n)),
            Some(&vec![id.clone()]),
            "run {n}: {listed}"
        );
    }
    let mut again = 0;
    for agent in AGENTS {
        let prompts: Vec<String> = mock
            .requests_for(agent)
            .iter()
            .map(|r| r.last_user_text())
            .collect();
        for (n, id) in &acked {
            for (step, _) in STEPS.iter().filter(|(_, a)| *a == agent) {
                let asked = asked(&prompts, step, *n);
                assert!(!asked.is_empty(), "step {step} of run {n} ({id}) never ran");
                if let Some(before) = done_before.get(&(*n, *step)) {
                    assert_eq!(
                        &asked, before,
                        "step {step} of run {n} ({id}) was complete before a kill and ran again"
                    );
                }
                for k in &asked[..asked.len() - 1] {
                    assert!(
                        kills.interrupted(agent, *k),
                        "step {step} of run {n} ({id}) ran twice without a kill cutting it off: requests {asked:?}, kills {:?}",
                        kills.at
                    );
                }
                again += asked.len() - 1;
            }
        }
    }
    eprintln!(
        "{} runs, {} steps complete before a kill, {again} steps cut off by a kill and run again",
        acked.len(),
        done_before.len()
    );
}
