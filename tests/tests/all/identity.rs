//! Who is calling: bearer tokens, the operator, and ids in bodies being ignored.

use openlegion_tests::{Client, MeshOptions, MeshProcess};
use serde_json::json;

fn board() -> MeshOptions {
    MeshOptions::with_permissions(
        json!({"default": {"blackboard_read": ["*"], "blackboard_write": ["*"]}}),
    )
}

#[tokio::test]
async fn missing_wrong_and_malformed_tokens_are_401_json() {
    let mesh = MeshProcess::start(board()).await;
    let none = mesh.anonymous().get("/mesh/blackboard/?prefix=").await;
    assert_eq!(
        (none.status.as_u16(), none.detail()),
        (401, "Missing authentication token")
    );
    let wrong = mesh
        .anonymous()
        .with_token("olt_not-a-real-token")
        .get("/mesh/agents")
        .await;
    assert_eq!(
        (wrong.status.as_u16(), wrong.detail()),
        (401, "Invalid authentication token")
    );
    let basic = mesh
        .anonymous()
        .http()
        .get(format!("{}/mesh/agents", mesh.url()))
        .header("authorization", "Basic YTpi")
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), 401);
    assert_eq!(basic.headers()["www-authenticate"], "Bearer");
    // Liveness needs no token.
    mesh.anonymous().get("/mesh/health").await.expect(200);
}

#[tokio::test]
async fn ids_in_bodies_and_queries_are_ignored() {
    let mesh = MeshProcess::start(board()).await;
    let a = mesh.agent("alice").await;
    mesh.agent("bob").await;
    let e = a
        .put("/mesh/blackboard/k?agent_id=bob", &json!({"v": 1}))
        .await
        .expect(200);
    assert_eq!(e["written_by"], "alice");
    let c = a
        .post(
            "/mesh/blackboard/claim",
            &json!({"agent_id": "bob", "key": "k", "value": {"v": 2}, "expected_version": 1}),
        )
        .await
        .expect(200);
    assert_eq!(c["written_by"], "alice");
    // An agent registering cannot rename itself.
    let r = a
        .post(
            "/mesh/register",
            &json!({"agent_id": "bob", "capabilities": ["x"]}),
        )
        .await
        .expect(200);
    assert_eq!(r["agent_id"], "alice");
}

#[tokio::test]
async fn operator_only_routes() {
    let mesh = MeshProcess::start(board()).await;
    let a = mesh.agent("a").await;
    assert_eq!(a.get("/mesh/status").await.status, 403);
    assert_eq!(a.post("/mesh/reload", &json!({})).await.status, 403);
    assert_eq!(a.post("/mesh/agents/a/token", &json!({})).await.status, 403);
    assert_eq!(a.delete("/mesh/agents/a").await.status, 403);
    let status = mesh.operator().get("/mesh/status").await.expect(200);
    assert_eq!(status["agents"], 1);
    assert_eq!(status["pid"], mesh.pid());
}

#[tokio::test]
async fn registration_rules() {
    let mesh = MeshProcess::start(board()).await;
    let op = mesh.operator();
    for bad in [
        "mesh",
        "operator",
        "default",
        "bad id",
        "-x",
        &"x".repeat(65),
    ] {
        let r = op.post("/mesh/register", &json!({"agent_id": bad})).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
    }
    assert_eq!(op.post("/mesh/register", &json!({})).await.status, 400);
    let many: Vec<String> = (0..201).map(|i| format!("c{i}")).collect();
    assert_eq!(
        op.post(
            "/mesh/register",
            &json!({"agent_id": "a", "capabilities": many})
        )
        .await
        .status,
        400
    );
}

#[tokio::test]
async fn tokens_survive_restarts_and_die_with_their_agent() {
    let mut mesh = MeshProcess::start(board()).await;
    let a = mesh.agent("a").await;
    let old_operator = mesh.operator();
    let extra = mesh
        .operator()
        .post("/mesh/agents/a/token", &json!({}))
        .await
        .expect(200);
    let extra = extra["token"].as_str().unwrap().to_owned();
    assert_ne!(Some(extra.as_str()), a.token());
    mesh.kill9();
    mesh.restart().await;
    let a = Client::new(mesh.url(), a.token());
    a.put("/mesh/blackboard/k", &json!({})).await.expect(200);
    a.with_token(&extra)
        .get("/mesh/blackboard/k")
        .await
        .expect(200);
    let stale = Client::new(mesh.url(), old_operator.token())
        .get("/mesh/status")
        .await;
    assert_eq!(stale.status, 401, "each start mints a new operator token");
    assert_eq!(
        mesh.operator()
            .post("/mesh/agents/ghost/token", &json!({}))
            .await
            .status,
        404
    );
    mesh.operator().delete("/mesh/agents/a").await.expect(200);
    assert_eq!(a.get("/mesh/blackboard/k").await.status, 401);
    assert_eq!(
        a.with_token(&extra).get("/mesh/blackboard/k").await.status,
        401
    );
    assert_eq!(mesh.operator().delete("/mesh/agents/a").await.status, 404);
}

#[tokio::test]
async fn the_operator_token_file_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let mesh = MeshProcess::start(board()).await;
    let mode = std::fs::metadata(mesh.state_dir().join("operator.token"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let dir = std::fs::metadata(mesh.state_dir())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(dir & 0o777, 0o700);
}

/// GET `path` from the mesh on an agent's socket, with `token`.
async fn on_socket(socket: &std::path::Path, path: &str, token: String) -> reqwest::Response {
    openlegion_mesh::http_client::builder()
        .unix_socket(socket.to_owned())
        .build()
        .unwrap()
        .get(format!("http://mesh{path}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

/// Each agent reaches the mesh on its own socket; a token of another agent, or the
/// operator's, is refused there even though it is valid on the operator listener.
#[tokio::test]
async fn an_agent_socket_accepts_only_its_own_agents_token() {
    let mock = openlegion_mock_llm::MockLlm::start().await;
    let mesh = openlegion_tests::agent_mesh(
        &mock,
        "agents:\n  writer:\n    role: w\n  reader:\n    role: r\n",
        json!({"default": {"blackboard_read": ["*"]}}),
    )
    .await;
    let socket = mesh.state_dir().join("agents/writer/run/mesh.sock");
    let over_socket = |token: String| on_socket(&socket, "/mesh/blackboard/?prefix=", token);
    let token = |agent: &str| {
        let out = mesh.cli(&["agent", "token", agent]);
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };

    assert_eq!(over_socket(token("writer")).await.status(), 200);
    let foreign = over_socket(token("reader")).await;
    assert_eq!(foreign.status(), 403);
    let body: serde_json::Value = foreign.json().await.unwrap();
    assert_eq!(
        body["detail"],
        "This socket belongs to agent writer; the token is reader's"
    );
    let operator = std::fs::read_to_string(mesh.state_dir().join("operator.token")).unwrap();
    assert_eq!(over_socket(operator.trim().to_owned()).await.status(), 403);
    assert_eq!(over_socket("olt_forged".into()).await.status(), 401);
}

/// Each start of an agent by the mesh gives it a fresh token and revokes the older ones, so
/// tokens do not pile up over restarts and nothing that held one keeps access.
#[tokio::test]
async fn a_mesh_restart_gives_its_agents_new_tokens_and_revokes_the_old() {
    let mock = openlegion_mock_llm::MockLlm::start().await;
    let mut mesh =
        openlegion_tests::agent_mesh(&mock, "agents:\n  writer:\n    role: w\n", json!({})).await;
    let socket = mesh.state_dir().join("agents/writer/run/mesh.sock");
    let inbox = async |token: String| {
        on_socket(&socket, "/mesh/inbox", token)
            .await
            .status()
            .as_u16()
    };
    let out = mesh.cli(&["agent", "token", "writer"]);
    assert!(out.status.success(), "{out:?}");
    let old = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert_eq!(inbox(old.clone()).await, 200);

    assert!(mesh.terminate().success());
    mesh.restart().await;
    mesh.wait_agent("writer").await;
    assert_eq!(inbox(old).await, 401);
    let tokens = rusqlite::Connection::open(mesh.state_dir().join("mesh.db"))
        .unwrap()
        .query_row(
            "SELECT COUNT(*) FROM tokens WHERE agent_id = 'writer'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .unwrap();
    assert_eq!(tokens, 1, "only the running instance's token is kept");
}
