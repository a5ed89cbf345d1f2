//! Bad input of every kind gets a clear error, and the mesh neither falls over nor loses
//! what it already stored.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use openlegion_tests::{MeshOptions, MeshProcess, start_refuses};
use serde_json::json;

fn board() -> MeshOptions {
    MeshOptions::with_permissions(
        json!({"default": {"blackboard_read": ["context/*"], "blackboard_write": ["context/*"]}}),
    )
}

/// Sends a raw HTTP/1.1 request (no client-side path normalisation) and returns the
/// status code and body.
fn raw(url: &str, request_line: &str, token: &str, body: &str) -> (u16, String) {
    let addr = url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "{request_line} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    (status, body)
}

#[tokio::test]
async fn malformed_bodies_get_json_errors_and_nothing_is_lost() {
    let mesh = MeshProcess::start(board()).await;
    let a = mesh.agent("a").await;
    a.put("/mesh/blackboard/context/keep", &json!({"precious": true}))
        .await
        .expect(200);
    let http = a.http();
    let url = |p: &str| format!("{}{p}", mesh.url());
    let token = a.token().unwrap();

    let bad_json = http
        .put(url("/mesh/blackboard/context/x"))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body("{\"a\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_json.status(), 400);
    let detail: serde_json::Value = bad_json.json().await.unwrap();
    assert!(
        detail["detail"].as_str().unwrap().contains("JSON"),
        "{detail}"
    );

    let not_json = http
        .put(url("/mesh/blackboard/context/x"))
        .bearer_auth(token)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), 415);

    assert_eq!(
        a.put("/mesh/blackboard/context/x", &json!([1, 2]))
            .await
            .status,
        422
    );
    let claim = a
        .post(
            "/mesh/blackboard/claim",
            &json!({"key": "context/x", "value": {}, "expected_version": "one"}),
        )
        .await;
    assert_eq!(claim.status, 422);
    assert!(
        claim.detail().contains("expected_version"),
        "{}",
        claim.detail()
    );
    assert_eq!(
        a.post("/mesh/message", &json!({"to": "a", "type": "shout"}))
            .await
            .status,
        422
    );
    assert_eq!(a.get("/mesh/inbox?limit=lots").await.status, 400);

    // Its own connection: the mesh answers 413 without reading the body and then closes
    // the connection, which a pooled client could otherwise try to reuse.
    let huge = "x".repeat(10 << 20);
    let fresh = openlegion_tests::Client::new(mesh.url(), Some(token));
    let too_big = fresh
        .http()
        .put(url("/mesh/blackboard/context/x"))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(format!("{{\"v\": \"{huge}\"}}"))
        .send()
        .await
        .unwrap();
    assert_eq!(too_big.status(), 413);
    let detail: serde_json::Value = too_big.json().await.unwrap();
    assert!(detail["detail"].is_string());

    let long = a
        .put(
            &format!("/mesh/blackboard/context/{}", "k".repeat(600)),
            &json!({}),
        )
        .await;
    assert_eq!(long.status, 400);

    let unknown = a.get("/mesh/nope").await;
    assert_eq!(
        (unknown.status.as_u16(), unknown.detail()),
        (404, "Not found")
    );
    let wrong_method = a
        .send(
            reqwest::Method::PATCH,
            "/mesh/blackboard/context/keep",
            None,
        )
        .await;
    assert_eq!(wrong_method.status, 405);
    assert!(wrong_method.body["detail"].is_string());

    // Still up, still holding what it had.
    assert_eq!(
        a.get("/mesh/blackboard/context/keep").await.expect(200)["value"]["precious"],
        true
    );
}

#[tokio::test]
async fn dot_dot_keys_are_refused_however_they_are_spelt() {
    let mesh = MeshProcess::start(board()).await;
    let a = mesh.agent("a").await;
    let token = a.token().unwrap().to_owned();
    let url = mesh.url().to_owned();
    let cases = [
        "PUT /mesh/blackboard/context/../secrets/x",
        "PUT /mesh/blackboard/context/%2E%2E/secrets/x",
        "PUT /mesh/blackboard/context%2F..%2Fsecrets",
        "PUT /mesh/blackboard/context/./x",
        "PUT /mesh/blackboard/context//x",
        "GET /mesh/blackboard/context/../secrets/x",
    ];
    for line in cases {
        let (url, token) = (url.clone(), token.clone());
        let (status, body) = tokio::task::spawn_blocking(move || raw(&url, line, &token, "{}"))
            .await
            .unwrap();
        assert_eq!(status, 400, "{line}: {body}");
        assert!(body.contains("not allowed"), "{line}: {body}");
    }
    let keys = mesh
        .operator()
        .get("/mesh/blackboard/?prefix=")
        .await
        .expect(200);
    assert_eq!(keys, json!([]), "nothing was written");
}

#[test]
fn broken_config_files_stop_the_mesh_from_starting() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::create_dir(&config).unwrap();
    std::fs::write(config.join("mesh.yaml"), "mesh:\n  port: 0\n").unwrap();

    std::fs::write(
        config.join("permissions.json"),
        "{\"permissions\": {\"a\": {\"can_message\": [\"b\",]}}}",
    )
    .unwrap();
    let err = start_refuses(&config);
    assert!(err.contains("permissions.json:1:"), "{err}");
    std::fs::remove_file(config.join("permissions.json")).unwrap();

    std::fs::write(
        config.join("agents.yaml"),
        "agents:\n  researcher:\n    role: research\n    modle: gpt\n",
    )
    .unwrap();
    let err = start_refuses(&config);
    assert!(
        err.contains("agents.yaml:4:")
            && err.contains("agents.researcher")
            && err.contains("modle"),
        "{err}"
    );

    let mut laughs = String::from("a: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]\n");
    for (prev, name) in ["a", "b", "c", "d", "e", "f", "g", "h"]
        .iter()
        .zip(["b", "c", "d", "e", "f", "g", "h", "i"])
    {
        laughs.push_str(&format!("{name}: &{name} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"));
    }
    std::fs::write(config.join("agents.yaml"), laughs).unwrap();
    let started = Instant::now();
    let err = start_refuses(&config);
    assert!(err.contains("agents.yaml"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));

    std::fs::write(
        config.join("agents.yaml"),
        "agents:\n  a:\n    resources: {memory_limit: lots}\n",
    )
    .unwrap();
    let err = start_refuses(&config);
    assert!(
        err.contains("agents.a.resources.memory_limit") && err.contains("\"lots\""),
        "{err}"
    );
}

#[tokio::test]
async fn a_broken_reload_keeps_the_last_good_configuration() {
    let mesh = MeshProcess::start(board()).await;
    let a = mesh.agent("a").await;
    a.put("/mesh/blackboard/context/x", &json!({}))
        .await
        .expect(200);

    mesh.write_config(
        "permissions.json",
        "{\"permissions\": {\"default\": {\"blackboard_read\": [}}}",
    );
    let reload = mesh.operator().post("/mesh/reload", &json!({})).await;
    assert_eq!(reload.status, 400);
    assert!(
        reload.detail().contains("permissions.json:1:"),
        "{}",
        reload.detail()
    );
    a.put("/mesh/blackboard/context/y", &json!({}))
        .await
        .expect(200);

    mesh.signal(nix::sys::signal::Signal::SIGHUP);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        mesh.log().contains("SIGHUP: reload refused"),
        "{}",
        mesh.log()
    );
    a.put("/mesh/blackboard/context/z", &json!({}))
        .await
        .expect(200);

    mesh.write_config(
        "permissions.json",
        &board().permissions.unwrap().to_string(),
    );
    mesh.write_config("agents.yaml", "agents:\n  b:\n    rol: x\n");
    let reload = mesh.operator().post("/mesh/reload", &json!({})).await;
    assert_eq!(reload.status, 400);
    assert!(
        reload.detail().contains("agents.yaml:3:"),
        "{}",
        reload.detail()
    );

    // A good file takes effect, through SIGHUP as through the API.
    mesh.write_config("agents.yaml", "agents:\n  b:\n    role: x\n");
    mesh.write_config(
        "permissions.json",
        &json!({"permissions": {"default": {"blackboard_read": ["context/*"]}}}).to_string(),
    );
    mesh.signal(nix::sys::signal::Signal::SIGHUP);
    let mut denied = false;
    for _ in 0..100 {
        if a.put("/mesh/blackboard/context/w", &json!({})).await.status == 403 {
            denied = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(denied, "the new matrix took effect");
    let agents = mesh.operator().get("/mesh/agents").await.expect(200);
    assert!(agents.get("b").is_some(), "{agents}");
    assert_eq!(
        a.get("/mesh/blackboard/context/z").await.expect(200)["key"],
        "context/z"
    );
}
