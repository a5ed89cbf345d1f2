//! Cron fires across SIGKILLs: two jobs `every 1s` (the finest schedule), one catching up
//! what the mesh missed while it was down (`catch_up: true`, the default) and one
//! skipping it, each driving turns of its own real agent. The mesh is killed at random
//! moments and left down for 2–3 s. Each fire is a lane item keyed by the job and its
//! scheduled second, so the test finds every fire by its key: no occurrence fires twice
//! (the agent is asked at most once per fire, plus once for a turn a kill cut off), the
//! catch-up job fires its missed occurrence once at the restart and nothing else of the
//! downtime, the other job nothing of the downtime, and the run counts the mesh keeps in
//! cron.json agree with the fires.

use std::time::Duration;

use chrono::{DateTime, Utc};
use openlegion_mock_llm::{MockLlm, Turn};
use openlegion_tests::MeshProcess;
use rand::Rng;
use serde_json::{Value, json};

use super::common::{Kills, crash_rng, crash_rounds, eventually, mesh_of, restart};

const AGENTS: [&str; 2] = ["tick", "tock"];

/// The job `name` in cron.json on disk.
fn job(mesh: &MeshProcess, name: &str) -> Value {
    let text = std::fs::read_to_string(mesh.config_dir().join("cron.json")).unwrap();
    let file: Value = serde_json::from_str(&text).unwrap();
    file["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no job {name} in {text}"))
}

fn next_run(job: &Value) -> i64 {
    job["next_run"]
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .unwrap_or_else(|| panic!("no next_run: {job}"))
        .timestamp()
}

/// The fire of job `id` scheduled for second `ts`, if there is one: `Some(finished)`.
async fn fire(mesh: &MeshProcess, id: &str, ts: i64) -> Option<Value> {
    let reply = mesh
        .operator()
        .get(&format!("/mesh/lanes/items/cron_{id}_{ts}"))
        .await;
    match reply.status.as_u16() {
        404 => None,
        200 => Some(reply.body),
        other => panic!("lane item cron_{id}_{ts}: {other} {}", reply.body),
    }
}

/// One round's downtime: the `next_run` each job had on disk at the kill, and the second
/// the mesh was started again.
struct Downtime {
    next: [i64; 2],
    up: i64,
}

#[tokio::test]
async fn sigkill_during_cron_fires_fires_no_occurrence_twice_and_catches_up_as_configured() {
    let mut rng = crash_rng();
    let mock = MockLlm::start().await;
    let rounds = crash_rounds();
    for agent in AGENTS {
        for _ in 0..60 * (rounds as usize + 1) {
            mock.push_for(agent, Turn::text("checked"));
        }
    }
    let mut mesh = mesh_of(&mock, &AGENTS, json!({})).await;
    let started = Utc::now().timestamp();
    let mut ids = Vec::new();
    for (agent, catch_up) in [("tick", true), ("tock", false)] {
        let made = mesh
            .operator()
            .post(
                "/mesh/cron",
                &json!({"agent": agent, "schedule": "every 1s", "name": agent,
                        "message": format!("{agent}: look at the queue"), "catch_up": catch_up}),
            )
            .await
            .expect(200);
        ids.push(made["id"].as_str().unwrap().to_owned());
    }
    let mut kills = Kills::default();
    let mut downtimes = Vec::new();
    for round in 0..rounds {
        tokio::time::sleep(Duration::from_millis(rng.random_range(1500..3500))).await;
        mesh.kill9();
        kills.note(&mock, &AGENTS);
        let next = [next_run(&job(&mesh, "tick")), next_run(&job(&mesh, "tock"))];
        tokio::time::sleep(Duration::from_millis(rng.random_range(2000..3000))).await;
        let up = Utc::now().timestamp();
        restart(&mut mesh, &AGENTS).await;
        downtimes.push(Downtime { next, up });
        eprintln!("cron crash round {}: restarted", round + 1);
    }
    // Let both jobs fire after the last restart, then stop them and let the lanes drain.
    let runs = job(&mesh, "tick")["run_count"].as_u64().unwrap();
    eventually(
        Duration::from_secs(30),
        "a fire after the last restart",
        || job(&mesh, "tick")["run_count"].as_u64().unwrap() >= runs + 2,
    )
    .await;
    // What the mesh counted, just before it removes each job.
    let mut counted = Vec::new();
    for name in AGENTS {
        counted.push(job(&mesh, name)["run_count"].as_u64().unwrap());
        mesh.operator()
            .delete(&format!("/mesh/cron/{name}"))
            .await
            .expect(200);
    }
    let ended = Utc::now().timestamp() + 1;
    for (j, (agent, id)) in AGENTS.iter().zip(&ids).enumerate() {
        // Every fire, found by its key (one item per job and scheduled second).
        let mut fired = Vec::new();
        for ts in started..=ended {
            if let Some(item) = fire(&mesh, id, ts).await {
                fired.push((ts, item));
            }
        }
        for (ts, item) in &mut fired {
            if item["finished"] != true {
                *item = mesh
                    .operator()
                    .get(&format!("/mesh/lanes/items/cron_{id}_{ts}?wait=60"))
                    .await
                    .expect(200);
            }
            assert_eq!(
                item["outcome"]["status"], "replied",
                "{agent}'s fire at {ts}: {item}"
            );
        }
        let seconds: Vec<i64> = fired.iter().map(|(ts, _)| *ts).collect();
        // The downtimes: nothing fired for a second the mesh was down for, but the
        // catch-up job's missed occurrence (its next_run at the kill).
        for d in &downtimes {
            let missed = d.next[j];
            let inside: Vec<i64> = seconds
                .iter()
                .copied()
                .filter(|ts| *ts > missed && *ts < d.up)
                .collect();
            assert!(
                inside.is_empty(),
                "{agent} fired {inside:?} while the mesh was down (next_run {missed}, up at {})",
                d.up
            );
            if *agent == "tick" {
                assert!(
                    seconds.contains(&missed),
                    "{agent} did not catch up its missed {missed}: fired {seconds:?}"
                );
            }
        }
        // The agent was asked once per fire, and once more only for a turn a kill cut off.
        let asked = mock.requests_for(agent).len();
        let cut = (0..asked).filter(|k| kills.interrupted(agent, *k)).count();
        assert!(
            asked >= fired.len() && asked <= fired.len() + cut,
            "{agent}: {} fires, the model asked {asked} times ({cut} turns cut off by kills)",
            fired.len()
        );
        // Its run count: a fire recorded once (a kill before the record leaves one
        // uncounted; one may still be on its way as the job is removed).
        let fires = fired.len() as u64;
        assert!(
            counted[j] <= fires && fires <= counted[j] + rounds + 1,
            "{agent}: {fires} fires, run_count {}",
            counted[j]
        );
        eprintln!(
            "cron job {agent}: {} fires over {} s, {asked} turns, {} kills",
            fired.len(),
            ended - started,
            kills.at.len()
        );
    }
}
