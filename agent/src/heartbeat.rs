//! The heartbeat probes that look inside the agent, run on the mesh's `POST
//! /heartbeat/probes` without the LLM: `disk` (how full the data directory's file system
//! is), `workspace` (files changed in the workspace since the last heartbeat) and `skills`
//! (every tool a skill manifest marks as a probe, called with `{}`, answering
//! `{"actionable": bool, "summary": "…"}`). The answer carries the workspace HEARTBEAT.md,
//! whose rules the mesh puts into the turn when something is actionable.
//!
//! What it does not decide: whether the agent gets a turn (the mesh's heartbeat does).

use std::path::Path;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::tools::Toolbox;

/// The data directory's file system this full (percent) is actionable.
pub const DISK_PERCENT: f64 = 85.0;

/// Files looked at by the `workspace` probe; a larger workspace is cut there.
const MAX_SCANNED: usize = 10_000;

/// Changed files named in a summary.
const NAMED_FILES: usize = 10;

/// How long one probe tool may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(30);

/// Longest summary kept from a probe tool, in characters.
const MAX_SUMMARY_CHARS: usize = 1000;

/// Workspace parts the agent itself writes on every turn (daily logs, learnings), which
/// would otherwise make each heartbeat report the last turn.
const OWN_WRITES: &[&str] = &["memory", "learnings"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeRequest {
    #[serde(default)]
    pub probes: Vec<String>,
    /// The previous heartbeat: changes after it count.
    #[serde(default)]
    pub since: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub probe: String,
    pub actionable: bool,
    pub summary: String,
}

#[derive(Debug, Serialize)]
pub struct ProbeAnswer {
    pub results: Vec<Finding>,
    /// The workspace HEARTBEAT.md ("" if absent).
    pub rules: String,
}

/// Runs the probes `req` names; a probe that fails is reported as not actionable, with
/// why, and never stops the others.
pub async fn run(
    req: &ProbeRequest,
    data_dir: &Path,
    workspace: &Path,
    tools: &dyn Toolbox,
) -> ProbeAnswer {
    let mut results = Vec::new();
    for name in &req.probes {
        match name.as_str() {
            "disk" => results.push(disk(data_dir)),
            "workspace" => results.push(changed(workspace, req.since)),
            "skills" => results.extend(skills(tools).await),
            other => results.push(Finding {
                probe: other.to_owned(),
                actionable: false,
                summary: format!("{other:?} is not a probe the agent runs"),
            }),
        }
    }
    let rules = std::fs::read_to_string(workspace.join("HEARTBEAT.md")).unwrap_or_default();
    ProbeAnswer { results, rules }
}

fn disk(data_dir: &Path) -> Finding {
    let (actionable, summary) = match nix::sys::statvfs::statvfs(data_dir) {
        Ok(s) => {
            let total = s.blocks() as f64 * s.fragment_size() as f64;
            let free = s.blocks_available() as f64 * s.fragment_size() as f64;
            let used = if total > 0.0 {
                100.0 * (total - free) / total
            } else {
                0.0
            };
            (
                used > DISK_PERCENT,
                format!(
                    "your data volume is {used:.0}% full ({:.1} GiB free)",
                    free / f64::from(1 << 30)
                ),
            )
        }
        Err(e) => (false, format!("cannot measure the data volume: {e}")),
    };
    Finding {
        probe: "disk".into(),
        actionable,
        summary,
    }
}

/// Files under `workspace` modified after `since` (none on the first heartbeat, which
/// has nothing to compare with).
fn changed(workspace: &Path, since: Option<DateTime<Utc>>) -> Finding {
    let mut found = Vec::new();
    if let Some(since) = since {
        let since = SystemTime::from(since);
        let mut stack = vec![workspace.to_owned()];
        let mut scanned = 0;
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                scanned += 1;
                if scanned > MAX_SCANNED {
                    break;
                }
                let path = entry.path();
                let rel = path.strip_prefix(workspace).unwrap_or(&path).to_owned();
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with('.')
                    || (dir == workspace && OWN_WRITES.contains(&name.as_str()))
                {
                    continue;
                }
                let Ok(meta) = entry.metadata() else { continue };
                if meta.is_dir() {
                    stack.push(path);
                } else if meta.modified().is_ok_and(|m| m > since) {
                    found.push(rel.display().to_string());
                }
            }
        }
    }
    found.sort();
    let summary = match found.len() {
        0 => "no files changed in your workspace".to_owned(),
        n => {
            let mut s = format!(
                "{n} files changed in your workspace: {}",
                found[..n.min(NAMED_FILES)].join(", ")
            );
            if n > NAMED_FILES {
                s.push_str(&format!(" and {} more", n - NAMED_FILES));
            }
            s
        }
    };
    Finding {
        probe: "workspace".into(),
        actionable: !found.is_empty(),
        summary,
    }
}

#[derive(Deserialize)]
struct ProbeResult {
    actionable: bool,
    #[serde(default)]
    summary: String,
}

async fn skills(tools: &dyn Toolbox) -> Vec<Finding> {
    let mut out = Vec::new();
    for tool in tools.probes() {
        let probe = format!("skill:{tool}");
        let answer = tokio::time::timeout(PROBE_TIMEOUT, tools.call(&tool, "{}")).await;
        let finding = match answer {
            Ok(Ok(text)) => match serde_json::from_str::<ProbeResult>(&text) {
                Ok(r) => Finding {
                    probe,
                    actionable: r.actionable,
                    summary: r.summary.chars().take(MAX_SUMMARY_CHARS).collect(),
                },
                Err(e) => Finding {
                    probe,
                    actionable: false,
                    summary: format!("the probe's answer is not {{actionable, summary}}: {e}"),
                },
            },
            Ok(Err(e)) => Finding {
                probe,
                actionable: false,
                summary: format!("the probe failed: {e}"),
            },
            Err(_) => Finding {
                probe,
                actionable: false,
                summary: format!("the probe took more than {PROBE_TIMEOUT:?}"),
            },
        };
        if !finding.actionable {
            tracing::debug!(probe = %finding.probe, summary = %finding.summary, "heartbeat probe");
        }
        out.push(finding);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_changes_after_the_last_heartbeat_count_and_the_agents_own_logs_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let ws = dir.path();
        std::fs::create_dir_all(ws.join("memory")).unwrap();
        std::fs::create_dir_all(ws.join("inbox")).unwrap();
        let first = changed(ws, None);
        assert!(!first.actionable, "{first:?}");
        let since = Utc::now() - chrono::TimeDelta::seconds(5);
        std::fs::write(ws.join("memory/2026-01-01.md"), "log").unwrap();
        let quiet = changed(ws, Some(since));
        assert!(!quiet.actionable, "{quiet:?}");
        std::fs::write(ws.join("inbox/new.csv"), "a,b").unwrap();
        let found = changed(ws, Some(since));
        assert!(
            found.actionable && found.summary.contains("inbox/new.csv"),
            "{found:?}"
        );
        let later = changed(ws, Some(Utc::now() + chrono::TimeDelta::seconds(5)));
        assert!(!later.actionable);
    }

    #[test]
    fn disk_measures_the_data_directory() {
        let dir = tempfile::tempdir().unwrap();
        let f = disk(dir.path());
        assert!(f.summary.contains("% full"), "{f:?}");
    }
}
