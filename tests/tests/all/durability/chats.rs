//! Lanes, chats and the cost ledger across SIGKILLs: the operator queues chat turns for two
//! real agents while the mock LLM answers each after a random delay; the mesh is killed at
//! a random moment, restarted, and every acknowledged item must end answered, by an answer
//! to its own message, with no turn run again unless the kill cut it off; the ledger holds
//! every call whose answer was used and none twice, and the budgets read it back.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use openlegion_mock_llm::{MockLlm, Turn};
use openlegion_tests::MeshProcess;
use rand::Rng;
use serde_json::{Value, json};

use super::common::{Kills, crash_rng, crash_rounds, mesh_of, restart};

const AGENTS: [&str; 2] = ["a", "b"];
/// Items each agent is sent per round, at most (its history stays within one page).
const ITEMS_PER_ROUND: u64 = 25;

/// The message of item `n`: a token no other message contains.
fn message(n: u64) -> String {
    format!("msg-{n:06}-end")
}

/// Acknowledged items: (agent, n, lane item id), in the order they were acknowledged.
type Acked = Arc<Mutex<Vec<(String, u64, String)>>>;

/// One sender per agent, queueing an item every 30–150 ms until the mesh dies or the round's
/// items are sent.
fn load(
    mesh: &MeshProcess,
    round: u64,
    acked: &Acked,
    rng: &mut impl Rng,
) -> Vec<tokio::task::JoinHandle<()>> {
    let http = reqwest::Client::new();
    let (url, token) = (
        mesh.url().to_owned(),
        mesh.operator().token().unwrap().to_owned(),
    );
    AGENTS
        .iter()
        .enumerate()
        .map(|(i, agent)| {
            let pauses: Vec<u64> = (0..ITEMS_PER_ROUND)
                .map(|_| rng.random_range(30..150))
                .collect();
            let (http, url, token, acked, agent) = (
                http.clone(),
                url.clone(),
                token.clone(),
                acked.clone(),
                agent.to_string(),
            );
            tokio::spawn(async move {
                for (k, pause) in pauses.into_iter().enumerate() {
                    let n = (round * 10 + i as u64) * 1000 + k as u64;
                    let sent = http
                        .post(format!("{url}/mesh/lanes/{agent}"))
                        .bearer_auth(&token)
                        .json(&json!({"kind": "chat", "message": message(n)}))
                        .send()
                        .await;
                    let Ok(resp) = sent else { return };
                    assert_eq!(resp.status().as_u16(), 202, "the lane refused an item");
                    let Ok(body) = resp.json::<Value>().await else {
                        return;
                    };
                    let id = body["id"].as_str().unwrap().to_owned();
                    acked.lock().unwrap().push((agent.clone(), n, id));
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                }
            })
        })
        .collect()
}

/// The index of the mock's answer `r{k}` in a reply.
fn answer_index(reply: &Value) -> usize {
    let text = reply["outcome"]["reply"]["response"].as_str().unwrap_or("");
    text.strip_prefix('r')
        .and_then(|k| k.parse().ok())
        .unwrap_or_else(|| panic!("not a scripted answer: {reply}"))
}

#[tokio::test]
async fn sigkill_under_chat_load_answers_every_queued_turn_and_charges_every_call_once() {
    let mut rng = crash_rng();
    let mock = MockLlm::start().await;
    let rounds = crash_rounds();
    // More answers than calls: each after 20–250 ms, 120 prompt and 30 completion tokens.
    for agent in AGENTS {
        for k in 0..(ITEMS_PER_ROUND as usize + 5) * rounds as usize * 2 {
            let delay = Duration::from_millis(rng.random_range(20..250));
            mock.push_for(
                agent,
                Turn::text(format!("r{k}"))
                    .delayed(delay)
                    .with_usage(120, 30),
            );
        }
    }
    let mut mesh = mesh_of(&mock, &AGENTS, json!({})).await;
    let acked: Acked = Arc::default();
    let mut kills = Kills::default();
    for round in 0..rounds {
        let senders = load(&mesh, round, &acked, &mut rng);
        tokio::time::sleep(Duration::from_millis(rng.random_range(300..2500))).await;
        mesh.kill9();
        kills.note(&mock, &AGENTS);
        for s in senders {
            s.await.unwrap();
        }
        restart(&mut mesh, &AGENTS).await;
        let op = mesh.operator();
        // Every acknowledged item ends, answered (the one running at the kill runs again).
        let items = acked.lock().unwrap().clone();
        for (agent, n, id) in items {
            let item = op
                .get(&format!("/mesh/lanes/items/{id}?wait=120"))
                .await
                .expect(200);
            assert_eq!(item["finished"], true, "item {id} never ended: {item}");
            assert_eq!(
                item["outcome"]["status"],
                "replied",
                "{agent}'s item {n} did not end answered: {item}\n{}",
                mesh.log()
            );
        }
        eprintln!(
            "chat crash round {}: {} items acknowledged so far, all answered",
            round + 1,
            acked.lock().unwrap().len()
        );
    }
    let acked = acked.lock().unwrap().clone();
    let op = mesh.operator();
    let costs = op.get("/mesh/costs?period=today").await.expect(200);
    for agent in AGENTS {
        let model = format!("openai/{agent}");
        let requests = mock.requests_for(agent);
        let prompts: Vec<String> = requests.iter().map(|r| r.last_user_text()).collect();
        let mine: Vec<&(String, u64, String)> = acked.iter().filter(|(a, ..)| a == agent).collect();
        let mut runs = HashMap::<u64, Vec<usize>>::new();
        for (_, n, _) in &mine {
            let token = message(*n);
            runs.insert(
                *n,
                prompts
                    .iter()
                    .enumerate()
                    .filter(|(_, p)| p.contains(&token))
                    .map(|(k, _)| k)
                    .collect(),
            );
        }
        for (_, n, id) in &mine {
            let asked = &runs[n];
            assert!(
                !asked.is_empty(),
                "{agent}'s item {n} never reached the model"
            );
            // Asked again only after a kill cut the turn off.
            for k in &asked[..asked.len() - 1] {
                assert!(
                    kills.interrupted(agent, *k),
                    "{agent}'s item {n} ran twice without a kill cutting it off: requests {asked:?}, kills {:?}",
                    kills.at
                );
            }
            // Its recorded answer is the mock's answer to its own message.
            let item = op.get(&format!("/mesh/lanes/items/{id}")).await.expect(200);
            let k = answer_index(&item);
            assert!(
                asked.contains(&k),
                "{agent}'s item {n} got answer r{k}: {item}"
            );
        }
        // The lane runs items in order: the first time each acknowledged item was asked.
        let mut first: Vec<(usize, u64)> = runs.iter().map(|(n, ks)| (ks[0], *n)).collect();
        first.sort();
        let order: Vec<u64> = first.into_iter().map(|(_, n)| n).collect();
        let sent: Vec<u64> = mine.iter().map(|(_, n, _)| *n).collect();
        assert_eq!(order, sent, "{agent}'s items ran out of order");
        // The ledger: every answer the agent used is charged, none twice, and no more
        // calls than the mock served.
        let charged = costs["agents"][agent]["models"][&model]["calls"]
            .as_u64()
            .unwrap_or(0);
        let answered = mine.len() as u64;
        let served = requests.len() as u64;
        assert!(
            answered <= charged && charged <= served,
            "{agent}: {answered} answers used, {charged} calls charged, {served} served: {costs}"
        );
        assert!(
            served - charged <= rounds,
            "{agent}: {served} calls served but {charged} charged (only a call cut off by a kill may go uncharged)"
        );
        let entry = &costs["agents"][agent];
        assert_eq!(
            entry["prompt_tokens"].as_u64(),
            Some(120 * charged),
            "{entry}"
        );
        let spent = entry["budget"]["spent_today_usd"].as_f64().unwrap();
        let cost = entry["cost_usd"].as_f64().unwrap();
        assert!(
            cost > 0.0 && (spent - cost).abs() < 1e-9,
            "the budget after the restarts ({spent}) is not the ledger's sum ({cost})"
        );
        // The history (the agent's daily log, through the mesh): no answer logged twice.
        let history = op
            .get(&format!("/mesh/agents/{agent}/history?limit=200"))
            .await
            .expect(200);
        let mut logged = HashMap::<String, u32>::new();
        for entry in history["entries"].as_array().unwrap() {
            let text = entry["text"].as_str().unwrap();
            if let Some(at) = text.find("Agent: r") {
                *logged.entry(text[at..].to_owned()).or_default() += 1;
            }
        }
        assert!(
            !logged.is_empty() && logged.values().all(|&c| c == 1),
            "{agent}'s history has a turn twice: {history}"
        );
        eprintln!(
            "agent {agent}: {answered} items answered, {served} calls served, {charged} charged, ${cost:.6}"
        );
    }
}
