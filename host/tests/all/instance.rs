//! Starting and stopping a mesh in-process.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use openlegion_mesh::instance::{Instance, StartError, load};
use serde_json::Value;
use tower::ServiceExt;

/// A config directory whose mesh listens on an ephemeral loopback port and starts no agent.
fn config_dir(agents_yaml: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::create_dir(&config).unwrap();
    std::fs::write(
        config.join("mesh.yaml"),
        "mesh:\n  host: 127.0.0.1\n  port: 0\nruntime:\n  isolation: external\n",
    )
    .unwrap();
    std::fs::write(config.join("agents.yaml"), agents_yaml).unwrap();
    dir
}

async fn get(mesh: &Instance, path: &str, token: Option<&str>) -> (StatusCode, Value) {
    let mut request = Request::get(path);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = mesh
        .app()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_mesh_starts_answers_in_process_and_stops_leaving_no_run_files() {
    let dir = config_dir("agents:\n  scout:\n    role: research\n");
    let (config, vault) = load(&dir.path().join("config")).unwrap();
    let state = config.state_dir();
    let mesh = Instance::start(config, vault).await.unwrap();
    assert!(mesh.url.starts_with("http://127.0.0.1:"), "{}", mesh.url);
    assert!(mesh.start_failures.is_empty());

    assert_eq!(get(&mesh, "/mesh/health", None).await.0, StatusCode::OK);
    assert_eq!(
        get(&mesh, "/mesh/status", None).await.0,
        StatusCode::UNAUTHORIZED
    );
    let token = mesh.operator_token.clone();
    let (status, body) = get(&mesh, "/mesh/status", Some(&token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["agents"], 1, "{body}");
    assert!(state.join("operator.token").exists());

    mesh.shutdown_token().cancel();
    mesh.stopped().await.unwrap();
    for file in ["operator.token", "mesh.pid", "mesh.addr"] {
        assert!(!state.join(file).exists(), "{file} left behind");
    }
}

#[tokio::test]
async fn a_second_mesh_on_the_same_state_directory_is_refused() {
    let dir = config_dir("agents: {}\n");
    let (config, vault) = load(&dir.path().join("config")).unwrap();
    let first = Instance::start(config.clone(), vault.clone())
        .await
        .unwrap();
    let second = Instance::start(config, vault).await.unwrap_err();
    assert!(
        matches!(&second, StartError::AlreadyRunning { pid, .. } if *pid == std::process::id().to_string()),
        "{second}"
    );
    first.shutdown_token().cancel();
    first.stopped().await.unwrap();
}
