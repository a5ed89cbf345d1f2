//! The Docker engine as the container tests see it: whether it is there, the `docker` CLI
//! for looking at what the mesh made, cleanup by label, and one lock so tests that stop the
//! engine do not pull it from under the others.

use std::process::{Command, Output};

use tokio::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::skip::skip;

static ENGINE: RwLock<()> = RwLock::const_new(());

/// Held by every test that uses the engine.
pub async fn engine_shared() -> RwLockReadGuard<'static, ()> {
    ENGINE.read().await
}

/// Held by a test that stops or pauses the engine: it runs alone.
pub async fn engine_exclusive() -> RwLockWriteGuard<'static, ()> {
    ENGINE.write().await
}

/// Runs the `docker` CLI.
pub fn docker(args: &[&str]) -> Output {
    Command::new("docker")
        .args(args)
        .output()
        .expect("run the docker CLI")
}

/// Runs the `docker` CLI and returns its trimmed stdout; panics with its stderr on failure.
pub fn docker_ok(args: &[&str]) -> String {
    let out = docker(args);
    assert!(
        out.status.success(),
        "docker {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Removes the containers and volumes of mesh `instance` (a test that failed half-way
/// leaves none behind). Where no engine answers (a mesh whose isolation was left unset
/// then runs its agents as processes) there is nothing to remove.
pub fn remove_instance(instance: &str) {
    let label = format!("label=openlegion.instance={instance}");
    let listed = |args: &[&str]| -> Option<String> {
        let out = Command::new("docker").args(args).output().ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    let Some(ids) = listed(&["ps", "-aq", "--filter", &label]) else {
        return;
    };
    if !ids.is_empty() {
        let mut args = vec!["rm", "-f", "-v"];
        args.extend(ids.lines());
        let _ = docker(&args);
    }
    let volumes = listed(&["volume", "ls", "-q", "--filter", &label]).unwrap_or_default();
    if !volumes.is_empty() {
        let mut args = vec!["volume", "rm", "-f"];
        args.extend(volumes.lines());
        let _ = docker(&args);
    }
}

/// Whether a Docker engine answers here. Outside CI a missing engine skips the test with a
/// loud message; in CI (`CI` set) it fails it.
pub fn docker_available(test: &str) -> bool {
    let ok = Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        skip(test, "no Docker engine answers", "start dockerd to run it");
    }
    ok
}

/// Whether gVisor (`runsc`) is registered with the engine; same rules as
/// [`docker_available`].
pub fn gvisor_available(test: &str) -> bool {
    if !docker_available(test) {
        return false;
    }
    let ok = Command::new("docker")
        .args(["info", "--format", "{{json .Runtimes}}"])
        .output()
        .is_ok_and(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).contains("runsc"));
    if !ok {
        skip(
            test,
            "gVisor (runsc) is not registered with Docker",
            "install runsc and register it, as .ci/docker.sh does",
        );
    }
    ok
}

/// Whether this test may stop and restart the engine: in CI, or when
/// `OPENLEGION_TEST_STOP_DOCKER=1` says the engine on this machine may be interrupted
/// (it stops every container on it). Skips loudly otherwise.
pub fn may_stop_docker(test: &str) -> bool {
    if !docker_available(test) {
        return false;
    }
    let ok = std::env::var_os("CI").is_some()
        || std::env::var("OPENLEGION_TEST_STOP_DOCKER").is_ok_and(|v| v == "1");
    if !ok {
        skip(
            test,
            "permission to stop the Docker engine (and every container on it) is not given",
            "set OPENLEGION_TEST_STOP_DOCKER=1 to allow that",
        );
    }
    ok
}

/// Whether the full agent image can be built here (Docker and mmdebstrap); same rules as
/// [`docker_available`].
pub fn full_image_buildable(test: &str) -> bool {
    if !docker_available(test) {
        return false;
    }
    let ok = Command::new("mmdebstrap")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        skip(
            test,
            "mmdebstrap (the base of the full image) is not installed",
            "apt-get install mmdebstrap",
        );
    }
    ok
}
