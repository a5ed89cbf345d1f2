//! The built-in `shell` skill: `exec` (capability `process`).
//!
//! The command runs in the agent's own sandbox, never on the machine hosting the mesh: the
//! agent runs it with `/bin/sh -c`, under the data directory, with a cut-down environment,
//! and kills its process group on timeout. Refusals ("workdir must be under /data, got:
//! …", not granted) come back as tool errors unchanged. This crate only maps the original
//! tool's arguments (timeout in seconds) onto the WIT call and the output into a JSON
//! object.

use openlegion_skill_sdk::prelude::*;

// The tests use the SDK's native stand-in for the host, so they run on the host target only.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;

/// Default and largest timeout, in seconds (the host's own bounds).
const DEFAULT_TIMEOUT_S: u32 = 30;
const MAX_TIMEOUT_S: u32 = 300;

/// Arguments of `exec`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Exec {
    /// The shell command, run with /bin/sh -c (pipes, redirections and && work).
    command: String,
    /// Directory to run in, relative to /data or under /data/ (default: /data).
    workdir: Option<String>,
    /// Timeout in seconds (default 30, at most 300).
    timeout: Option<u32>,
}

fn exec(args: Exec) -> Result<Value, String> {
    let timeout_s = args
        .timeout
        .unwrap_or(DEFAULT_TIMEOUT_S)
        .clamp(1, MAX_TIMEOUT_S);
    let output = process::run(
        &args.command,
        args.workdir.as_deref(),
        Some(timeout_s * 1000),
    )?;
    Ok(json!({
        "exit_code": output.exit_code,
        "stdout": output.stdout,
        "stderr": output.stderr,
        "timed_out": output.timed_out,
        "truncated": output.truncated,
    }))
}

openlegion_skill_sdk::skill! {
    exec: "Run a shell command (/bin/sh -c) inside your own sandbox, in /data or a workdir \
        under it. Returns {\"exit_code\", \"stdout\", \"stderr\", \"timed_out\", \
        \"truncated\"}; a failing command is a normal result, check exit_code. stdout and \
        stderr are each cut at 100,000 characters (truncated=true then). Default timeout \
        30 s, at most 300 s; on timeout every process the command started is killed, \
        exit_code is -1 and timed_out is true. stdin is closed, so interactive programs \
        end at once. To leave a program running in the background, redirect its output \
        (server > server.log 2>&1 &). Secrets and the platform's settings are not in the \
        environment. Use read_file/write_file for files; use exec to run programs, build, \
        test or search."
        => exec,
}
