//! Real commands in a temporary data directory: output and exit codes, the timeout and the
//! process group, the output caps, the environment allowlist and the workdir rules.

use std::ffi::OsString;
use std::time::Duration;

use openlegion_skill_host::{ProcessCap, ProcessOutput, ProcessRequest};

use super::{Exec, seconds};

fn data_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("data")).unwrap();
    dir
}

fn exec(dir: &tempfile::TempDir) -> Exec {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into());
    Exec::with_env(&dir.path().join("data"), [("PATH".into(), path)]).unwrap()
}

fn request(command: &str, workdir: Option<&str>, timeout: Duration) -> ProcessRequest {
    ProcessRequest {
        command: command.into(),
        workdir: workdir.map(Into::into),
        timeout,
    }
}

async fn sh(exec: &Exec, command: &str) -> ProcessOutput {
    exec.run("shell", request(command, None, Duration::from_secs(20)))
        .await
        .unwrap()
}

fn ok(stdout: &str, stderr: &str, exit_code: i32) -> ProcessOutput {
    ProcessOutput {
        exit_code,
        stdout: stdout.into(),
        stderr: stderr.into(),
        timed_out: false,
        truncated: false,
    }
}

/// Whether process `pid` is gone (or a zombie nobody reaped yet: dead all the same).
fn dead(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

async fn eventually_dead(pid: u32) {
    for _ in 0..200 {
        if dead(pid) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("process {pid} is still alive");
}

fn read_pid(dir: &tempfile::TempDir) -> u32 {
    let file = dir.path().join("data/bg.pid");
    std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn output_and_exit_codes() {
    let dir = data_dir();
    let exec = exec(&dir);
    assert_eq!(sh(&exec, "echo hello").await, ok("hello\n", "", 0));
    assert_eq!(sh(&exec, "exit 3").await, ok("", "", 3));
    assert_eq!(
        sh(&exec, "echo out; echo oops >&2; false").await,
        ok("out\n", "oops\n", 1)
    );
    assert_eq!(sh(&exec, "kill -TERM $$").await, ok("", "", -15));
    // stdin is closed: `cat` ends at once instead of waiting for input.
    assert_eq!(sh(&exec, "cat; echo done").await, ok("done\n", "", 0));
}

#[tokio::test]
async fn a_timeout_kills_the_whole_process_group() {
    let dir = data_dir();
    let exec = exec(&dir);
    let started = std::time::Instant::now();
    let output = exec
        .run(
            "shell",
            request(
                "sleep 30 & echo $! > bg.pid; echo partial; wait",
                None,
                Duration::from_millis(500),
            ),
        )
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(
        output,
        ProcessOutput {
            exit_code: -1,
            stdout: String::new(),
            stderr: "Command timed out after 0.5s".into(),
            timed_out: true,
            truncated: false,
        }
    );
    eventually_dead(read_pid(&dir)).await;
}

#[tokio::test]
async fn an_abandoned_call_kills_the_whole_process_group() {
    let dir = data_dir();
    let exec = exec(&dir);
    let call = exec.run(
        "shell",
        request(
            "sleep 30 & echo $! > bg.pid; wait",
            None,
            Duration::from_secs(30),
        ),
    );
    // The skill's own call timed out: the host drops the future.
    let abandoned = tokio::time::timeout(Duration::from_millis(500), call).await;
    assert!(abandoned.is_err());
    eventually_dead(read_pid(&dir)).await;
}

#[tokio::test]
async fn background_children_outlive_a_finished_shell_without_holding_the_call() {
    let dir = data_dir();
    let exec = exec(&dir);
    let started = std::time::Instant::now();
    let output = sh(&exec, "sleep 30 & echo $! > bg.pid; echo started").await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(output, ok("started\n", "", 0));
    let pid = read_pid(&dir);
    assert!(!dead(pid));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
}

#[tokio::test]
async fn output_is_capped_at_100000_characters_each() {
    let dir = data_dir();
    let exec = exec(&dir);
    let output = sh(
        &exec,
        "head -c 250000 /dev/zero | tr '\\0' a; head -c 5000000 /dev/zero | tr '\\0' b >&2",
    )
    .await;
    assert_eq!(output.stdout, "a".repeat(100_000));
    assert_eq!(output.stderr, "b".repeat(100_000));
    assert!(output.truncated && !output.timed_out);
    assert_eq!(output.exit_code, 0);
    let small = sh(&exec, "printf 'caf\\303\\251'").await;
    assert_eq!(small, ok("café", "", 0));
}

#[tokio::test]
async fn the_environment_is_the_allowlist_only() {
    let dir = data_dir();
    let vars = [
        ("PATH", "/usr/bin:/bin"),
        ("HOME", "/data"),
        ("MY_API_KEY", "sk-secret"),
        ("OPENLEGION_X", "1"),
        ("MESH_AUTH_TOKEN", "mesh-token"),
        ("TZ", "UTC"),
    ]
    .map(|(k, v)| (OsString::from(k), OsString::from(v)));
    let exec = Exec::with_env(&dir.path().join("data"), vars).unwrap();
    // What the shell adds itself (PWD, SHLVL, `_`) is not the agent's.
    let output = sh(
        &exec,
        "env | grep -v -e '^PWD=' -e '^OLDPWD=' -e '^SHLVL=' -e '^_=' | sort",
    )
    .await;
    assert_eq!(output.stdout, "HOME=/data\nPATH=/usr/bin:/bin\nTZ=UTC\n");
}

/// `Exec::new` reads the agent's own environment. Setting variables in this process needs
/// `unsafe` (edition 2024), so the test runs itself again in a child with them set.
#[tokio::test]
async fn the_agents_own_secrets_do_not_reach_commands() {
    if std::env::var_os("OPENLEGION_EXEC_ENV_CHILD").is_none() {
        let child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "exec::tests::the_agents_own_secrets_do_not_reach_commands",
                "--test-threads=1",
            ])
            .env("OPENLEGION_EXEC_ENV_CHILD", "1")
            .env("MY_API_KEY", "sk-secret")
            .env("OPENLEGION_X", "platform")
            .env("LANG", "C.UTF-8")
            .output()
            .unwrap();
        let report = String::from_utf8_lossy(&child.stdout);
        assert!(child.status.success(), "{report}");
        assert!(report.contains("1 passed"), "{report}");
        return;
    }
    let dir = data_dir();
    let exec = Exec::new(&dir.path().join("data")).unwrap();
    let output = sh(&exec, "env").await;
    assert!(
        output.stdout.contains("LANG=C.UTF-8\n"),
        "{}",
        output.stdout
    );
    assert!(output.stdout.contains("PATH="), "{}", output.stdout);
    for hidden in ["MY_API_KEY", "sk-secret", "OPENLEGION_", "CARGO"] {
        assert!(
            !output.stdout.contains(hidden),
            "{hidden} in {}",
            output.stdout
        );
    }
}

#[tokio::test]
async fn workdirs_obey_the_workspace_rules() {
    let dir = data_dir();
    let root = dir.path().join("data").canonicalize().unwrap();
    std::fs::create_dir_all(root.join("src/app")).unwrap();
    std::fs::write(root.join("file.txt"), "x").unwrap();
    std::os::unix::fs::symlink(dir.path(), root.join("out")).unwrap();
    std::os::unix::fs::symlink(root.join("src"), root.join("code")).unwrap();
    let exec = exec(&dir);
    let pwd = |workdir: Option<&'static str>| {
        let exec = exec.clone();
        async move {
            exec.run("shell", request("pwd -P", workdir, Duration::from_secs(20)))
                .await
                .map(|o| o.stdout.trim_end().to_owned())
        }
    };
    let at = |relative: &str| Ok(root.join(relative).display().to_string());
    let top = Ok(root.display().to_string());
    assert_eq!(pwd(None).await, top);
    assert_eq!(pwd(Some("src/app")).await, at("src/app"));
    assert_eq!(pwd(Some("/data/src")).await, at("src"));
    assert_eq!(pwd(Some("/data")).await, top);
    assert_eq!(pwd(Some("code")).await, at("src"));
    for outside in [
        "../",
        "/etc",
        "src/../../x",
        "out",
        "out/data",
        "/data/../etc",
    ] {
        assert_eq!(
            pwd(Some(outside)).await,
            Err(format!("workdir must be under /data, got: {outside}"))
        );
    }
    assert_eq!(
        pwd(Some("nope")).await,
        Err("workdir does not exist: nope".into())
    );
    assert_eq!(
        pwd(Some("file.txt")).await,
        Err("workdir is not a directory: file.txt".into())
    );
}

#[test]
fn timeouts_read_as_seconds() {
    assert_eq!(seconds(Duration::from_secs(30)), "30");
    assert_eq!(seconds(Duration::from_millis(1500)), "1.5");
    assert_eq!(seconds(Duration::from_millis(250)), "0.25");
}
