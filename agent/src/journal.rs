//! The daily log: `workspace/memory/YYYY-MM-DD.md`, one line per thing that happened (a
//! message received, a chat turn), so later sessions and `/history` can see what the agent
//! did.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{Local, NaiveDate, Utc};

/// Characters kept of each logged text.
const MAX_CHARS: usize = 500;

fn clip(text: &str) -> String {
    let one_line = text.replace('\n', " ");
    if one_line.chars().count() <= MAX_CHARS {
        return one_line;
    }
    format!("{}…", one_line.chars().take(MAX_CHARS).collect::<String>())
}

fn file_for(workspace: &Path, day: NaiveDate) -> PathBuf {
    workspace
        .join("memory")
        .join(format!("{}.md", day.format("%Y-%m-%d")))
}

/// Appends a line to today's log (UTC). Failures are logged, never fatal: the log is a
/// convenience, not a record the agent depends on.
pub(crate) fn append(workspace: &Path, line: &str) {
    let now = Utc::now();
    let path = file_for(workspace, now.date_naive());
    let write = || -> std::io::Result<()> {
        std::fs::create_dir_all(path.parent().expect("a file in memory/"))?;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?;
        // One `write` of the whole line to a file opened for appending: a crash leaves the
        // line whole or absent, and lines of concurrent appends do not interleave.
        let entry = format!("- {} {}\n", now.format("%H:%M:%S"), clip(line));
        f.write_all(entry.as_bytes())
    };
    if let Err(e) = write() {
        tracing::warn!(path = %path.display(), error = %e, "cannot write the daily log");
    }
}

/// The logs of the last `days` days, newest first.
pub(crate) fn recent(workspace: &Path, days: u32) -> Vec<(String, String)> {
    let today = Local::now().date_naive();
    (0..days)
        .filter_map(|back| {
            let day = today - chrono::Duration::days(i64::from(back));
            let text = std::fs::read_to_string(file_for(workspace, day)).ok()?;
            Some((day.format("%Y-%m-%d").to_string(), text))
        })
        .collect()
}
