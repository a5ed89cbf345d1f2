//! Shared pieces of the benchmarks: driving `wrk` (the load generator, from Debian's
//! package) with a Lua script and reading its results, and reading a process's memory.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};

pub mod platform;
pub mod procs;

/// The URL of a mesh started with `--config DIR/config`, once it has written
/// `DIR/.openlegion/mesh.addr` (within 30 s), after `settle` more for its routes to come up.
pub fn mesh_url(dir: &Path, settle: Duration) -> Result<String> {
    let addr = dir.join(".openlegion/mesh.addr");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !addr.exists() {
        if std::time::Instant::now() > deadline {
            bail!("the mesh did not start");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(settle);
    Ok(std::fs::read_to_string(addr)?.trim().to_owned())
}

/// Throughput and latency of one scenario, as wrk measured it.
#[derive(Debug, Clone)]
pub struct Measured {
    pub requests: u64,
    pub per_second: f64,
    pub p50: Duration,
    pub p99: Duration,
    /// Non-2xx answers plus socket errors.
    pub errors: u64,
}

/// The `done` hook appended to every script: prints one parseable line.
const REPORT: &str = r#"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99),
    e.status + e.connect + e.read + e.write + e.timeout))
end
"#;

/// Runs wrk against `url` with `connections` connections on one thread for `duration`,
/// with `script` (Lua defining `request`) plus the reporting hook.
pub fn wrk(
    url: &str,
    connections: usize,
    duration: Duration,
    script: &str,
    dir: &Path,
) -> Result<Measured> {
    let path = dir.join(format!("scenario-{connections}.lua"));
    std::fs::write(&path, format!("{script}\n{REPORT}"))?;
    let out = Command::new("wrk")
        .args([
            "-t1",
            &format!("-c{connections}"),
            &format!("-d{}s", duration.as_secs()),
            "--timeout",
            "10s",
            "-s",
        ])
        .arg(&path)
        .arg(url)
        .output()
        .context("run wrk (apt-get install wrk)")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let Some(line) = stdout.lines().find(|l| l.starts_with("RESULT ")) else {
        bail!(
            "wrk printed no result:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let n: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|v| v.parse().unwrap_or(0))
        .collect();
    let [requests, micros, p50, p99, errors] = n[..] else {
        bail!("bad wrk result line {line:?}")
    };
    Ok(Measured {
        requests,
        per_second: requests as f64 / (micros as f64 / 1e6),
        p50: Duration::from_micros(p50),
        p99: Duration::from_micros(p99),
        errors,
    })
}

/// `VmRSS` and `VmHWM` (peak) of `pid`, in KiB.
pub fn rss_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// The median and 99th percentile of `sample` (which it sorts); zero when empty.
pub fn p50_p99(sample: &mut [Duration]) -> (Duration, Duration) {
    if sample.is_empty() {
        return (Duration::ZERO, Duration::ZERO);
    }
    sample.sort();
    let at = |q: f64| sample[((sample.len() - 1) as f64 * q).round() as usize];
    (at(0.50), at(0.99))
}

/// A description of the machine for the results table.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load = load.split_whitespace().next().unwrap_or("?").to_owned();
    format!("{cores} cores, {cpu}, load average {load} at start")
}

/// The address and operator token of a mesh that `openlegion start` is bringing up with
/// state directory `state`, once it has written them (within `limit`).
pub async fn started_mesh(state: &Path, limit: Duration) -> Result<(String, String)> {
    let deadline = std::time::Instant::now() + limit;
    while !state.join("operator.token").exists() {
        if std::time::Instant::now() > deadline {
            bail!("the mesh did not start within {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // The address file is written just before the token; give both a moment to settle.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let read = |name: &str| -> Result<String> {
        let path = state.join(name);
        Ok(std::fs::read_to_string(&path)
            .with_context(|| format!("{}", path.display()))?
            .trim()
            .to_owned())
    };
    Ok((read("mesh.addr")?, read("operator.token")?))
}
