//! The agent's loop detector, seen from the mesh: a scripted model that repeats the same
//! tool call gets warnings, then its turn stopped, and both are counted per agent in
//! `/metrics` (`openlegion_loop_warnings_total`, `openlegion_loop_stops_total`).

use openlegion_mock_llm::{MockLlm, Turn};
use openlegion_tests::{MODEL_NAME, MeshProcess, agent_mesh};
use serde_json::json;

/// The value of the counter `name` for `agent` (0 when absent).
async fn counter(mesh: &MeshProcess, name: &str, agent: &str) -> f64 {
    let text = reqwest::get(format!("{}/metrics", mesh.url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter(|l| {
            l.starts_with(&format!("{name}{{")) && l.contains(&format!("agent=\"{agent}\""))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn a_looping_model_is_warned_then_stopped_and_metrics_count_both() {
    let mock = MockLlm::start().await;
    let mesh = agent_mesh(
        &mock,
        "agents:\n  looper:\n    role: looper\n  calm:\n    role: calm\n",
        json!({}),
    )
    .await;
    // The same call, arguments and answer, over and over: warnings from the third, the turn
    // stopped at the fifth.
    for _ in 0..8 {
        mock.push_for(
            MODEL_NAME,
            Turn::tool_call("read_file", json!({"path": "missing/again.md"})),
        );
    }
    let reply = mesh.chat("looper", "Read the file.").await;
    assert!(
        reply["response"].as_str().unwrap().starts_with("Stopped:"),
        "{reply}"
    );
    assert_eq!(
        counter(&mesh, "openlegion_loop_warnings_total", "looper").await,
        2.0
    );
    assert_eq!(
        counter(&mesh, "openlegion_loop_stops_total", "looper").await,
        1.0
    );
    assert_eq!(
        counter(&mesh, "openlegion_loop_stops_total", "calm").await,
        0.0
    );
    mock.clear();
}
