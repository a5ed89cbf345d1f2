//! The `mock-llm` binary and its control API, driven from outside the way a
//! platform test in another process would.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::support::{http, openai_request};

/// A running binary; killed when dropped.
struct Server {
    _child: Child,
    addr: SocketAddr,
}

async fn spawn(args: &[&str]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mock-llm"))
        .args(args)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start mock-llm");
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    tokio::time::timeout(
        Duration::from_secs(20),
        BufReader::new(stdout).read_line(&mut line),
    )
    .await
    .expect("mock-llm prints its address in time")
    .unwrap();
    let url = line
        .trim_end()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    Server {
        _child: child,
        addr: url.parse().expect("host:port"),
    }
}

#[tokio::test]
async fn the_control_api_scripts_and_inspects_the_binary() {
    let server = spawn(&["--port", "0"]).await;
    assert!(server.addr.ip().is_loopback());
    assert_ne!(server.addr.port(), 0);

    let script = json!({"turns": [{"type": "text", "text": "from the binary"}]});
    let queued = http::post(server.addr, "/_mock/script", &script).await;
    assert_eq!(queued.status, 200);
    assert_eq!(queued.json(), json!({"queued": 1}));
    let script = json!({"model": "side", "turns": [{"type": "error", "status": 503}]});
    assert_eq!(
        http::post(server.addr, "/_mock/script", &script)
            .await
            .json(),
        json!({"queued": 1})
    );
    let pending = http::get(server.addr, "/_mock/script").await.json();
    assert_eq!(
        pending,
        json!({"default": 1, "models": {"side": 1}, "total": 2})
    );

    let auth = [("authorization", "Bearer sk-bin")];
    let answer = http::post_with(
        server.addr,
        "/v1/chat/completions",
        &auth,
        &openai_request("main", false),
    )
    .await;
    assert_eq!(
        answer.json()["choices"][0]["message"]["content"],
        "from the binary"
    );
    let failed = http::post(
        server.addr,
        "/v1/chat/completions",
        &openai_request("side", false),
    )
    .await;
    assert_eq!(failed.status, 503);

    let requests = http::get(server.addr, "/_mock/requests").await.json();
    let requests = requests.as_array().unwrap();
    assert_eq!(requests.len(), 2, "control calls are not recorded");
    assert_eq!(requests[0]["api"], "openai");
    assert_eq!(requests[0]["model"], "main");
    assert_eq!(requests[0]["path"], "/v1/chat/completions");
    assert_eq!(requests[0]["headers"]["authorization"], "Bearer sk-bin");
    assert_eq!(requests[0]["body"], openai_request("main", false));
    let side = http::get(server.addr, "/_mock/requests?model=side")
        .await
        .json();
    assert_eq!(side.as_array().unwrap().len(), 1);
    assert_eq!(side[0]["model"], "side");

    assert_eq!(
        http::post(server.addr, "/_mock/reset", &json!({}))
            .await
            .status,
        200
    );
    assert_eq!(
        http::get(server.addr, "/_mock/requests").await.json(),
        json!([])
    );
    let exhausted = http::post(
        server.addr,
        "/v1/chat/completions",
        &openai_request("main", false),
    )
    .await;
    assert_eq!(exhausted.status, 500);
    assert_eq!(exhausted.json()["error"]["type"], "mock_script_exhausted");
}

#[tokio::test]
async fn a_bad_script_body_is_refused() {
    let server = spawn(&[]).await;
    let bad = json!({"turns": [{"type": "sing", "text": "la"}]});
    let response = http::post(server.addr, "/_mock/script", &bad).await;
    assert_eq!(response.status, 422);
    assert!(
        response.text().contains("unknown variant `sing`"),
        "{}",
        response.text()
    );
}

#[tokio::test]
async fn scripts_and_settings_can_be_given_on_the_command_line() {
    let dir = std::env::temp_dir().join(format!("mock-llm-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("script.json");
    let scripts = json!([
        {"turns": [{"type": "text", "text": "scripted"}]},
        {"model": "embed", "turns": [{"type": "error", "status": 429}]},
    ]);
    std::fs::write(&file, scripts.to_string()).unwrap();
    let server = spawn(&["--script", file.to_str().unwrap(), "--embedding-dim", "3"]).await;
    let answer = http::post(
        server.addr,
        "/v1/chat/completions",
        &openai_request("m", false),
    )
    .await;
    assert_eq!(
        answer.json()["choices"][0]["message"]["content"],
        "scripted"
    );
    let embed = json!({"model": "embed", "input": "x"});
    assert_eq!(
        http::post(server.addr, "/v1/embeddings", &embed)
            .await
            .status,
        429
    );
    let body = http::post(server.addr, "/v1/embeddings", &embed)
        .await
        .json();
    assert_eq!(body["data"][0]["embedding"].as_array().unwrap().len(), 3);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_missing_script_file_fails_with_a_message() {
    let output = Command::new(env!("CARGO_BIN_EXE_mock-llm"))
        .args(["--script", "/nonexistent/script.json"])
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.starts_with("mock-llm: cannot read script /nonexistent/script.json: "),
        "{stderr}"
    );
    assert!(output.stdout.is_empty(), "no address is printed on failure");
}
